// SPDX-License-Identifier: MIT
// Kernel features probed at start ("probe, then degrade out loud"): what is missing is switched
// off and reported by `oobbpf status`, never silently.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace oobbpf::daemon {

struct Probe {
    bool ok = false;
    std::string error;  // why not, when !ok
};

struct Features {
    Probe xdp;           // XDP programs load at all
    Probe freplace;      // BPF_PROG_TYPE_EXT attached to a global function (libxdp's dispatcher)
    Probe fentry;        // BPF trampolines for tracing (fentry/fexit)
    Probe tp_btf;        // BTF-typed tracepoint on fib_table_lookup (route learning)
    Probe xsk_diag;      // sock_diag for AF_XDP: where oob sockets are bound, whether they live
    std::string kernel;  // uname -r
};

Features probe_features();
nlohmann::json to_json(const Features &f);

}  // namespace oobbpf::daemon
