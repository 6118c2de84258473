// SPDX-License-Identifier: MIT
// Frames liboob sends, in the taps of their device (`oobbpf tap`, dir tx). While no tap session
// of the device keeps tx frames, a send costs one look at the mmapped session table (8 entries,
// plain loads, no system call). While one does, each sent frame goes through the small XDP
// program oob_tap_tx by BPF_PROG_TEST_RUN, which copies it into the same rings as the
// classifier's copies, in the same record format. The program is loaded on the first such frame,
// with the tap maps reused from the pins.
#pragma once

#include "fd.h"

#include <oobbpf/abi.h>

#include <cstdint>
#include <string>
#include <vector>

struct oob_tap_tx;

namespace oobbpf::oob {

class TxTap {
  public:
    TxTap() = default;
    // Maps <pin_root>/tap_sess; without it (no daemon yet, an older one) the tap stays off.
    // ifindex: where frames leave (the lower device); vid: the port's VLAN (0 untagged), which
    // with ifindex names the port whose id the copies carry.
    TxTap(const std::string &pin_root, uint32_t ifindex, uint16_t vid = 0);
    ~TxTap();
    TxTap(const TxTap &) = delete;
    TxTap &operator=(const TxTap &) = delete;

    // A session of this device keeps tx frames now.
    bool wanted() const {
        if (!sess_)
            return false;
        for (uint32_t i = 0; i < OOB_MAX_TAPS; i++)
            if (__atomic_load_n(&sess_[i].ifindex, __ATOMIC_RELAXED) == ifindex_ &&
                (__atomic_load_n(&sess_[i].flags, __ATOMIC_RELAXED) & OOB_TAP_KEEP_TX))
                return true;
        return false;
    }
    // Hands one frame (Ethernet header first) to the taps. Failures are counted, never thrown.
    void copy(const uint8_t *frame, uint32_t len, uint32_t queue);

    uint64_t copied() const { return copied_; }
    uint64_t errors() const { return errors_; }
    const std::string &error() const { return err_; }

  private:
    bool load();
    std::string pin_root_;
    uint32_t ifindex_ = 0, port_id_ = 0;
    oob_tap_sess *sess_ = nullptr;
    oob_tap_tx *skel_ = nullptr;
    bool load_failed_ = false;
    std::vector<uint8_t> buf_;
    uint64_t copied_ = 0, errors_ = 0;
    std::string err_;
};

}  // namespace oobbpf::oob
