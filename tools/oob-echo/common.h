// SPDX-License-Identifier: MIT
// What oob-echo and oob-ping share: CPU pinning and a stop flag set by SIGINT/SIGTERM.
#pragma once

#include <sched.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstring>

namespace oobbpf::tools {

inline std::atomic<bool> g_stop{false};

inline void on_stop_signals() {
    struct sigaction sa {};
    sa.sa_handler = [](int) { g_stop = true; };
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

inline bool pin_cpu(int cpu) {
    if (cpu < 0)
        return true;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
        std::fprintf(stderr, "cannot pin to CPU %d: %s\n", cpu, std::strerror(errno));
        return false;
    }
    return true;
}

}  // namespace oobbpf::tools
