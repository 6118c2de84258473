// SPDX-License-Identifier: MIT
// What oob-echo and oob-ping share: CPU pinning and a stop flag set by SIGINT/SIGTERM.
#pragma once

#include <sched.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdint>
#include <cstring>

namespace oobbpf::tools {

inline std::atomic<bool> g_stop{false};

// oob-ping asks the echo server where a request's time went at its end: a payload of at least
// kStampEnd bytes with kStampMagic at kStampMagicOff gets the server's stamps (EchoStamps, host
// byte order, CLOCK_MONOTONIC of the server) written at kStampOff by oob-echo on the oob path.
// Zeros there mean the server did not stamp (a kernel socket, another echo server).
constexpr uint64_t kStampMagic = 0x504d415453424f4fULL;  // "OOBSTAMP"
constexpr size_t kStampMagicOff = 16, kStampOff = 24, kStampEnd = 48;
struct EchoStamps {
    uint64_t classified_ns;  // the server's classifier judged the request
    uint64_t delivered_ns;   // its recv() handed it to oob-echo
    uint64_t queued_ns;      // oob-echo sent the reply
};
static_assert(kStampOff + sizeof(EchoStamps) == kStampEnd);

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
