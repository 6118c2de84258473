// SPDX-License-Identifier: MIT
#include "datapath.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <poll.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <stdexcept>

#include "error.h"
#include "oob_xdp.skel.h"

namespace oobbpf::test {

EnterNetns::EnterNetns(const std::string &name) {
    home_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int fd = open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
        if (fd >= 0)
            close(fd);
        throw std::runtime_error("cannot enter network namespace " + name);
    }
    close(fd);
}

EnterNetns::~EnterNetns() {
    if (home_ >= 0) {
        setns(home_, CLONE_NEWNET);
        close(home_);
    }
}

Datapath::Datapath() {
    skel_ = oob_xdp__open_and_load();
    if (!skel_)
        throw sys_error("load the oob_xdp classifier", errno);
    auto *m = &skel_->maps;
    fds_.config = bpf_map__fd(m->oob_config);
    fds_.devs = bpf_map__fd(m->oob_devs);
    fds_.ports = bpf_map__fd(m->oob_ports);
    fds_.vlans = bpf_map__fd(m->oob_vlans);
    fds_.rules = bpf_map__fd(m->oob_rules);
    fds_.rule_masks = bpf_map__fd(m->oob_rule_masks);
    fds_.rule_stats = bpf_map__fd(m->oob_rule_stats);
    fds_.port_stats = bpf_map__fd(m->oob_port_stats);
    fds_.last = bpf_map__fd(m->oob_last);
    fds_.xsks = bpf_map__fd(m->oob_xsks);
    fds_.xsk_regs = bpf_map__fd(m->oob_xsk_regs);
    fds_.selectors = bpf_map__fd(m->oob_selectors);
    tables_ = std::make_unique<BpfTables>(fds_);
    init_config();
}

Datapath::~Datapath() {
    for (auto [ifindex, flags] : attached_)
        bpf_xdp_detach(ifindex, flags, nullptr);
    oob_xdp__destroy(skel_);
}

int Datapath::prog_fd() const { return bpf_program__fd(skel_->progs.oob_xdp); }

void Datapath::attach(int ifindex, bool generic) {
    unsigned flags = generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
    if (bpf_xdp_attach(ifindex, prog_fd(), flags, nullptr) < 0)
        throw sys_error("attach the classifier to ifindex " + std::to_string(ifindex), errno);
    attached_.push_back({ifindex, flags});
}

void Datapath::init_config() {
    oob_config cfg{};
    cfg.magic = OOB_CONFIG_MAGIC;
    cfg.version = OOB_ABI_VERSION;
    tables_->set_config(cfg);
}

struct XskSocket::Impl {
    static constexpr size_t kFrames = 4096, kFrameSize = 4096;
    void *area = nullptr;
    xsk_umem *umem = nullptr;
    xsk_socket *sock = nullptr;
    xsk_ring_prod fill{}, tx{};
    xsk_ring_cons comp{}, rx{};
    ~Impl() {
        if (sock)
            xsk_socket__delete(sock);
        if (umem)
            xsk_umem__delete(umem);
        if (area && area != MAP_FAILED)
            munmap(area, kFrames * kFrameSize);
    }
};

XskSocket::XskSocket(const std::string &dev, unsigned queue)
    : impl_(std::make_unique<Impl>()), queue_(queue) {
    auto &i = *impl_;
    i.area = mmap(nullptr, Impl::kFrames * Impl::kFrameSize, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (i.area == MAP_FAILED)
        throw sys_error("mmap UMEM", errno);
    int rc = xsk_umem__create(&i.umem, i.area, Impl::kFrames * Impl::kFrameSize, &i.fill, &i.comp,
                              nullptr);
    if (rc)
        throw sys_error("create UMEM", rc);
    xsk_socket_config cfg{};
    cfg.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS;
    cfg.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS;
    cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
    cfg.bind_flags = XDP_COPY;
    // A socket that just closed on this queue (the previous round of a test, a device that came
    // back) releases it from deferred work: EBUSY for a moment, so retry for up to 2 s.
    for (int tries = 0;
         (rc = xsk_socket__create(&i.sock, dev.c_str(), queue, i.umem, &i.rx, &i.tx, &cfg)) ==
             -EBUSY &&
         tries < 200;
         tries++)
        usleep(10000);
    if (rc)
        throw sys_error("create AF_XDP socket on " + dev, rc);
    // Hand the kernel half the frames for reception.
    __u32 idx = 0;
    const __u32 n = XSK_RING_PROD__DEFAULT_NUM_DESCS;
    if (xsk_ring_prod__reserve(&i.fill, n, &idx) != n)
        throw std::runtime_error("cannot fill the UMEM fill ring");
    for (__u32 k = 0; k < n; k++)
        *xsk_ring_prod__fill_addr(&i.fill, idx + k) = static_cast<__u64>(k) * Impl::kFrameSize;
    xsk_ring_prod__submit(&i.fill, n);
}

XskSocket::~XskSocket() = default;

int XskSocket::fd() const { return xsk_socket__fd(impl_->sock); }

void XskSocket::register_in(const MapFds &fds, unsigned slot) {
    __u32 key = slot * OOB_MAX_QUEUES + queue_;
    int sfd = fd();
    if (bpf_map_update_elem(fds.xsks, &key, &sfd, BPF_ANY) < 0)
        throw sys_error("register the AF_XDP socket in the XSKMAP", errno);
}

std::vector<Bytes> XskSocket::receive(int timeout_ms, size_t max) {
    auto &i = *impl_;
    std::vector<Bytes> out;
    pollfd p{fd(), POLLIN, 0};
    while (out.size() < max) {
        __u32 idx = 0;
        unsigned n = xsk_ring_cons__peek(&i.rx, static_cast<__u32>(max - out.size()), &idx);
        if (n == 0) {
            if (poll(&p, 1, timeout_ms) <= 0)
                break;
            continue;
        }
        __u32 fidx = 0;
        while (xsk_ring_prod__reserve(&i.fill, n, &fidx) != n) {
        }
        for (unsigned k = 0; k < n; k++) {
            const xdp_desc *d = xsk_ring_cons__rx_desc(&i.rx, idx + k);
            const uint8_t *data =
                static_cast<const uint8_t *>(xsk_umem__get_data(i.area, d->addr));
            out.emplace_back(data, data + d->len);
            *xsk_ring_prod__fill_addr(&i.fill, fidx + k) = xsk_umem__extract_addr(d->addr);
        }
        xsk_ring_prod__submit(&i.fill, n);
        xsk_ring_cons__release(&i.rx, n);
        timeout_ms = 50;  // after the first batch, only wait a little for more
    }
    return out;
}

}  // namespace oobbpf::test
