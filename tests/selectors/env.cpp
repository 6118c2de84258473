// SPDX-License-Identifier: MIT
#include "env.h"

#include "oob_xdp.skel.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace oobbpf::test {

std::string bpf_object_path(const std::string &name) {
    return std::string(OOBBPF_BPF_DIR) + "/" + name + ".bpf.o";
}

Classifier::Classifier() {
    skel_ = oob_xdp::open_and_load();
    if (!skel_)
        throw std::runtime_error("cannot load the classifier");
    root_ = make_pin_root();
    bpf_map *m;
    bpf_object__for_each_map(m, skel_->obj) {
        if (bpf_map__is_internal(m))
            continue;
        std::string pin = selectors::shared_map_pin(bpf_map__name(m));
        if (pin.empty())
            throw std::runtime_error(std::string("classifier map without oob_ name: ") +
                                     bpf_map__name(m));
        if (bpf_map__pin(m, (root_ + "/" + pin).c_str()) != 0)
            throw std::runtime_error("cannot pin " + pin);
    }
    MapFds f;
    f.config = bpf_map__fd(skel_->maps.oob_config);
    f.devs = bpf_map__fd(skel_->maps.oob_devs);
    f.ports = bpf_map__fd(skel_->maps.oob_ports);
    f.vlans = bpf_map__fd(skel_->maps.oob_vlans);
    f.rules = bpf_map__fd(skel_->maps.oob_rules);
    f.rule_masks = bpf_map__fd(skel_->maps.oob_rule_masks);
    f.rule_stats = bpf_map__fd(skel_->maps.oob_rule_stats);
    f.port_stats = bpf_map__fd(skel_->maps.oob_port_stats);
    f.last = bpf_map__fd(skel_->maps.oob_last);
    f.xsks = bpf_map__fd(skel_->maps.oob_xsks);
    f.xsk_regs = bpf_map__fd(skel_->maps.oob_xsk_regs);
    f.selectors = bpf_map__fd(skel_->maps.oob_selectors);
    tables_ = std::make_unique<BpfTables>(f);
    oob_config c{};
    c.magic = OOB_CONFIG_MAGIC;
    c.version = OOB_ABI_VERSION;
    tables_->set_config(c);
}

Classifier::~Classifier() {
    // Attachments go with the namespaces' devices; selectors with the prog array.
    remove_pin_root(root_);
    oob_xdp::destroy(skel_);
}

int Classifier::prog_fd() const {
    return bpf_program__fd(skel_->progs.oob_xdp);
}

void Classifier::divert(uint32_t ifindex, uint32_t slot, uint32_t port_id, uint32_t flags) {
    oob_dev d{};
    d.flags = flags;
    d.slot = slot;
    d.port_id = port_id;
    tables_->put_dev(ifindex, d);
}

oob_dev Classifier::dev(uint32_t ifindex) const {
    oob_dev d{};
    bpf_map_lookup_elem(tables_->fds().devs, &ifindex, &d);
    return d;
}

void Classifier::attach(int ifindex) {
    int rc = bpf_xdp_attach(ifindex, prog_fd(), XDP_FLAGS_DRV_MODE, nullptr);
    if (rc < 0)
        throw std::runtime_error(std::string("XDP attach: ") + std::strerror(-rc));
}

uint32_t Classifier::slot_prog(uint32_t slot) const {
    uint32_t id = 0;
    if (bpf_map_lookup_elem(tables_->fds().selectors, &slot, &id) != 0)
        return 0;
    return id;
}

InNetns::InNetns(const Netns &ns) {
    saved_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int fd = open(("/run/netns/" + ns.name()).c_str(), O_RDONLY | O_CLOEXEC);
    if (saved_ < 0 || fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        if (saved_ >= 0)
            close(saved_);
        throw std::runtime_error("cannot enter namespace " + ns.name() + ": " + std::strerror(err));
    }
    close(fd);
}

InNetns::~InNetns() {
    if (setns(saved_, CLONE_NEWNET) != 0)
        std::perror("setns back");
    close(saved_);
}

RawSocket::RawSocket(const Netns &ns, const std::string &dev) {
    InNetns in(ns);
    fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    ifindex_ = static_cast<int>(if_nametoindex(dev.c_str()));
    if (fd_ < 0 || !ifindex_)
        throw std::runtime_error("cannot open a packet socket on " + dev);
}

RawSocket::~RawSocket() {
    if (fd_ >= 0)
        close(fd_);
}

void RawSocket::send(const Bytes &frame) {
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = ifindex_;
    sll.sll_halen = 6;
    std::memcpy(sll.sll_addr, frame.data(), 6);
    if (sendto(fd_, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr *>(&sll),
               sizeof(sll)) != static_cast<ssize_t>(frame.size()))
        throw std::runtime_error(std::string("packet send: ") + std::strerror(errno));
}

void parse_mac(const std::string &s, uint8_t out[6]) {
    unsigned v[6];
    if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
        throw std::runtime_error("bad MAC " + s);
    for (int i = 0; i < 6; i++)
        out[i] = static_cast<uint8_t>(v[i]);
}

Bytes to_mac(Bytes frame, const uint8_t mac[6]) {
    std::memcpy(frame.data(), mac, 6);
    return frame;
}

}  // namespace oobbpf::test
