// SPDX-License-Identifier: MIT
// Which network namespace this process runs in, and the pin root of that namespace's daemon.
// One oobbpfd per network namespace: its maps are pinned under
//
//   initial namespace   /sys/fs/bpf/oobbpf
//   other namespace     /sys/fs/bpf/oobbpf-nsINO   (INO: inode of /proc/self/ns/net)
//
// The daemon, the CLI and liboob applications derive the same path here, so an application
// started in a namespace finds that namespace's daemon without being told.
#pragma once

#include <cstdint>
#include <string>

namespace oobbpf {

struct NetnsId {
    uint64_t inode = 0;
    bool initial = true;
};

// The inode of the initial network namespace when it cannot be compared directly: fixed since
// Linux 6.x (PROC_NET_INIT_INO); older kernels are recognised through /proc/1/ns/net.
constexpr uint64_t kInitNetInode = 0xEFFFFFF9ULL;

// The network namespace of this process. Throws oobbpf::Error when /proc is unusable.
NetnsId current_netns_id();

// The pin root of the daemon of namespace ns (pure).
std::string pin_root_of(const NetnsId &ns);

// OOBBPF_PIN_ROOT from the environment when set, else pin_root_of(current_netns_id()).
std::string default_pin_root();

}  // namespace oobbpf
