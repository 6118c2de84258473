// SPDX-License-Identifier: MIT
// Putting an oob socket where the classifier sends diverted frames: the XSKMAP slot of its RX
// queue, dev.slot * OOB_MAX_QUEUES + queue, on the maps the daemon pins under its pin root
// (<root>/devs for the device's slot, <root>/xsks, and the <root>/xsk_regs mirror that bpftool
// and `oobbpf` can read, since an XSKMAP cannot be dumped).
//
// Privileges: opening pinned maps needs read/write permission on the pin files (bpffs mode)
// and, where unprivileged BPF is disabled (kernel.unprivileged_bpf_disabled), CAP_BPF; the
// socket itself needs CAP_NET_RAW. See docs/liboob.md.
#pragma once

#include "fd.h"

#include <cstdint>
#include <string>

namespace oobbpf::oob {

class XskRegistration {
  public:
    XskRegistration() = default;
    // Registers xsk_fd for (ifindex, queue). Throws oobbpf::Error when the device has no
    // diversion record, the queue is out of range, or another live process holds the slot
    // (unless force).
    XskRegistration(const std::string &pin_root, uint32_t ifindex, uint32_t queue, int xsk_fd,
                    bool force = false);
    ~XskRegistration();
    XskRegistration(XskRegistration &&o) noexcept;
    XskRegistration &operator=(XskRegistration &&o) noexcept;

    uint32_t key() const { return key_; }
    uint32_t slot() const { return slot_; }
    bool active() const { return active_; }
    // Removes the entries (also done by the destructor; the kernel drops the XSKMAP entry by
    // itself when the socket closes).
    void remove();

  private:
    UniqueFd xsks_, regs_;
    uint32_t key_ = 0, slot_ = 0;
    uint64_t stamp_ = 0;
    bool active_ = false;
};

}  // namespace oobbpf::oob
