// SPDX-License-Identifier: MIT
#include "liboob/registry.h"

#include "error.h"
#include "liboob/clock.h"

#include <bpf/bpf.h>
#include <oobbpf/abi.h>
#include <signal.h>
#include <unistd.h>

#include <utility>

namespace oobbpf::oob {

namespace {

UniqueFd open_pin(const std::string &root, const char *name) {
    std::string path = root + "/" + name;
    int fd = bpf_obj_get(path.c_str());
    if (fd < 0)
        throw sys_error("open pinned map " + path, errno);
    return UniqueFd(fd);
}

bool alive(uint32_t pid) {
    return pid && (kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

}  // namespace

XskRegistration::XskRegistration(const std::string &pin_root, uint32_t ifindex, uint32_t queue,
                                 int xsk_fd, bool force) {
    if (queue >= OOB_MAX_QUEUES)
        throw Error("queue " + std::to_string(queue) + " out of range (the classifier serves " +
                        std::to_string(OOB_MAX_QUEUES) + " queues per device)",
                    ERANGE);
    UniqueFd devs = open_pin(pin_root, OOB_PIN_DEVS);
    oob_dev dev{};
    if (bpf_map_lookup_elem(devs.get(), &ifindex, &dev) < 0)
        throw Error("device ifindex " + std::to_string(ifindex) + " has no diversion record in " +
                        pin_root + "/" + OOB_PIN_DEVS + " (add it as an oob port first)",
                    ENODEV);
    if (!(dev.flags & OOB_DEV_DIVERT))
        throw Error("diversion is off on device ifindex " + std::to_string(ifindex), ENODEV);
    xsks_ = open_pin(pin_root, OOB_PIN_XSKS);
    regs_ = open_pin(pin_root, OOB_PIN_XSK_REGS);
    slot_ = dev.slot;
    key_ = dev.slot * OOB_MAX_QUEUES + queue;

    oob_xsk_reg cur{};
    if (!force && bpf_map_lookup_elem(regs_.get(), &key_, &cur) == 0 &&
        cur.pid != static_cast<uint32_t>(getpid()) && alive(cur.pid))
        throw Error("queue " + std::to_string(queue) + " of ifindex " + std::to_string(ifindex) +
                        " is held by process " + std::to_string(cur.pid),
                    EBUSY);

    uint32_t fd = static_cast<uint32_t>(xsk_fd);
    if (bpf_map_update_elem(xsks_.get(), &key_, &fd, BPF_ANY) < 0)
        throw sys_error("register AF_XDP socket in " + pin_root + "/" + OOB_PIN_XSKS + " slot " +
                            std::to_string(key_),
                        errno);
    oob_xsk_reg reg{};
    reg.ifindex = ifindex;
    reg.queue = queue;
    reg.pid = static_cast<uint32_t>(getpid());
    reg.flags = 0;
    reg.registered_ns = stamp_ = now_ns();
    if (bpf_map_update_elem(regs_.get(), &key_, &reg, BPF_ANY) < 0) {
        int err = errno;
        bpf_map_delete_elem(xsks_.get(), &key_);
        throw sys_error("record AF_XDP socket in " + pin_root + "/" + OOB_PIN_XSK_REGS, err);
    }
    active_ = true;
}

XskRegistration::~XskRegistration() {
    remove();
}

XskRegistration::XskRegistration(XskRegistration &&o) noexcept
    : xsks_(std::move(o.xsks_)),
      regs_(std::move(o.regs_)),
      key_(o.key_),
      slot_(o.slot_),
      stamp_(o.stamp_),
      active_(std::exchange(o.active_, false)) {}

XskRegistration &XskRegistration::operator=(XskRegistration &&o) noexcept {
    if (this != &o) {
        remove();
        xsks_ = std::move(o.xsks_);
        regs_ = std::move(o.regs_);
        key_ = o.key_;
        slot_ = o.slot_;
        stamp_ = o.stamp_;
        active_ = std::exchange(o.active_, false);
    }
    return *this;
}

void XskRegistration::remove() {
    if (!active_)
        return;
    active_ = false;
    // Only what is still ours: a successor may have taken the slot meanwhile (with force).
    oob_xsk_reg cur{};
    if (bpf_map_lookup_elem(regs_.get(), &key_, &cur) == 0 &&
        cur.pid == static_cast<uint32_t>(getpid()) && cur.registered_ns == stamp_) {
        bpf_map_delete_elem(xsks_.get(), &key_);
        bpf_map_delete_elem(regs_.get(), &key_);
    }
}

}  // namespace oobbpf::oob
