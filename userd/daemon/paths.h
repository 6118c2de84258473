// SPDX-License-Identifier: MIT
// Where one daemon keeps its things. One oobbpfd per network namespace (DESIGN.md): the pin
// root, the control socket and the state directory are derived from the namespace the process
// runs in, so the CLI finds the daemon of its own namespace the same way the daemon chose them.
//
//   initial namespace   /sys/fs/bpf/oobbpf         /run/oobbpf/oobbpfd.sock         /var/lib/oobbpf
//   other namespace     /sys/fs/bpf/oobbpf-nsINO   /run/oobbpf/oobbpfd-nsINO.sock
//   /var/lib/oobbpf/nsINO
//
// INO is the inode number of the namespace (/proc/self/ns/net), unique while it exists. Each of
// the three can be overridden (options, or the environment for the CLI).
#pragma once

#include "netns_paths.h"

#include <cstdint>
#include <optional>
#include <string>

namespace oobbpf::daemon {

struct Paths {
    std::string pin_root;
    std::string socket;
    std::string state_dir;

    std::string links_dir() const { return pin_root + "/links"; }
    std::string progs_dir() const { return pin_root + "/progs"; }
    std::string config_file() const { return state_dir + "/config.json"; }
    std::string lock_file() const { return socket + ".lock"; }
};

struct PathOverrides {
    std::optional<std::string> pin_root, socket, state_dir;
};

// The namespace identity paths are derived from (userd/core/netns_paths.h).
using oobbpf::kInitNetInode;
using oobbpf::NetnsId;

// The network namespace of this process. Throws oobbpf::Error when /proc is unusable.
inline NetnsId current_netns() {
    return current_netns_id();
}

// Pure derivation (unit-tested): defaults for the namespace, then the overrides.
Paths derive_paths(const NetnsId &ns, const PathOverrides &o = {});

// derive_paths(current_netns(), o), with OOBBPF_SOCKET / OOBBPF_PIN_ROOT / OOBBPF_STATE_DIR from
// the environment filling what o leaves unset (the CLI's way; the daemon passes use_env=false).
Paths resolve_paths(PathOverrides o, bool use_env);

}  // namespace oobbpf::daemon
