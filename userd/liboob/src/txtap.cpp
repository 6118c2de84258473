// SPDX-License-Identifier: MIT
#include "liboob/txtap.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "oob_tap_tx.skel.h"

namespace oobbpf::oob {

TxTap::TxTap(const std::string &pin_root, uint32_t ifindex, uint16_t vid)
    : pin_root_(pin_root), ifindex_(ifindex) {
    // The port's id, as the classifier's copies of received frames carry it.
    const std::string ports = pin_root + "/" + OOB_PIN_PORTS;
    if (UniqueFd pfd(bpf_obj_get(ports.c_str())); pfd) {
        oob_port_key k{ifindex, vid, 0};
        oob_port p{};
        if (bpf_map_lookup_elem(pfd.get(), &k, &p) == 0)
            port_id_ = p.port_id;
    }
    const std::string path = pin_root + "/" + OOB_PIN_TAP_SESS;
    UniqueFd fd(bpf_obj_get(path.c_str()));
    if (!fd) {
        err_ = path + ": " + strerror(errno);
        return;
    }
    void *p =
        mmap(nullptr, sizeof(oob_tap_sess) * OOB_MAX_TAPS, PROT_READ, MAP_SHARED, fd.get(), 0);
    if (p == MAP_FAILED) {
        err_ = "mmap " + path + ": " + strerror(errno);
        return;
    }
    sess_ = static_cast<oob_tap_sess *>(p);
}

TxTap::~TxTap() {
    if (skel_)
        oob_tap_tx__destroy(skel_);
    if (sess_)
        munmap(sess_, sizeof(oob_tap_sess) * OOB_MAX_TAPS);
}

bool TxTap::load() {
    if (skel_)
        return true;
    if (load_failed_)
        return false;
    load_failed_ = true;
    oob_tap_tx *s = oob_tap_tx__open();
    if (!s) {
        err_ = std::string("open oob_tap_tx: ") + strerror(errno);
        return false;
    }
    // The daemon's maps, never new ones: the copies must land in the rings the taps read.
    for (bpf_map *m : {s->maps.oob_tap_sess, s->maps.oob_tap_rings}) {
        const std::string name = bpf_map__name(m);
        const std::string path = pin_root_ + "/" + name.substr(4);
        UniqueFd fd(bpf_obj_get(path.c_str()));
        if (!fd || bpf_map__reuse_fd(m, fd.get()) != 0) {
            err_ = "reuse " + path + ": " + strerror(errno);
            oob_tap_tx__destroy(s);
            return false;
        }
    }
    if (int err = oob_tap_tx__load(s); err) {
        err_ = std::string("load oob_tap_tx: ") + strerror(-err);
        oob_tap_tx__destroy(s);
        return false;
    }
    skel_ = s;
    load_failed_ = false;
    return true;
}

void TxTap::copy(const uint8_t *frame, uint32_t len, uint32_t queue) {
    if (!load()) {
        errors_++;
        return;
    }
    oob_tap_tx_meta m{ifindex_, queue, port_id_, 0};
    buf_.resize(sizeof(m) + len);
    std::memcpy(buf_.data(), &m, sizeof(m));
    std::memcpy(buf_.data() + sizeof(m), frame, len);
    // xdp_md.data is where the frame starts after the metadata; data_end the whole input.
    xdp_md ctx{};
    ctx.data = sizeof(m);
    ctx.data_end = static_cast<uint32_t>(buf_.size());
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = buf_.data(),
                .data_size_in = static_cast<uint32_t>(buf_.size()), .ctx_in = &ctx,
                .ctx_size_in = sizeof(ctx));
    if (bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.oob_tap_tx), &opts) != 0)
        errors_++;
    else
        copied_++;
}

}  // namespace oobbpf::oob
