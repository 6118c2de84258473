// SPDX-License-Identifier: MIT
#include "liboob/clock.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

namespace oobbpf::oob {

namespace {

constexpr uint64_t kAnchorNs = 1000000;        // re-anchor every millisecond
constexpr uint64_t kRateWindowNs = 1000000000;  // measure the rate over windows of a second

// The counter is usable when the kernel keeps CLOCK_MONOTONIC with it: the kernel only does
// when the counter is invariant and synchronised across CPUs.
bool counter_usable() {
#if defined(__x86_64__)
    std::ifstream cs("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    std::string name;
    if (!(cs >> name) || name != "tsc")
        return false;
    std::ifstream ci("/proc/cpuinfo");
    std::string line;
    while (std::getline(ci, line))
        if (line.rfind("flags", 0) == 0) {
            std::istringstream in(line);
            bool constant = false, nonstop = false;
            for (std::string f; in >> f;) {
                constant |= f == "constant_tsc";
                nonstop |= f == "nonstop_tsc";
            }
            return constant && nonstop;
        }
    return false;
#else
    return false;
#endif
}

bool process_usable() {
    static const bool usable = counter_usable();
    return usable;
}

#if defined(__x86_64__)
// One clock reading and the counter at its middle; the tightest of a few tries, so that a
// preemption or an interrupt inside one does not skew the pair (and with it the rate for long).
void pair(uint64_t &tsc, uint64_t &ns) {
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 4; i++) {
        const uint64_t a = __builtin_ia32_rdtsc();
        const uint64_t n = now_ns();
        const uint64_t b = __builtin_ia32_rdtsc();
        if (b >= a && b - a < best) {
            best = b - a;
            tsc = a + (b - a) / 2;
            ns = n;
        }
    }
}
#endif

}  // namespace

uint64_t fast_now_ns_slow() {
#if defined(__x86_64__)
    detail::TscClock &c = detail::tsc_clock;
    auto rate = [](uint64_t dns, uint64_t dtsc) {
        return static_cast<uint64_t>((static_cast<unsigned __int128>(dns) << 32) / dtsc);
    };
    if (c.state == 0) {
        if (!process_usable()) {
            c.state = -1;
            return now_ns();
        }
        // A first rate over 50 microseconds; re-anchoring measures it again over longer spans.
        pair(c.base_tsc, c.base_ns);
        uint64_t tsc = 0, ns = 0;
        do
            pair(tsc, ns);
        while (ns - c.base_ns < 50000);
        if (tsc <= c.base_tsc) {
            c.state = -1;
            return now_ns();
        }
        c.mult = rate(ns - c.base_ns, tsc - c.base_tsc);
        c.rate_span_ns = ns - c.base_ns;
        c.state = 1;
    }
    uint64_t tsc = 0, ns = 0;
    pair(tsc, ns);
    if (tsc > c.base_tsc && ns > c.base_ns) {
        const uint64_t span = ns - c.base_ns;
        // The rate over the current window, once it is longer than the one the rate in use was
        // measured over (or 100 ms); a window ends after a second, so the rate follows the
        // clock's (an NTP frequency change, a slew) within about a second.
        if (span >= c.rate_span_ns || span >= kRateWindowNs / 10) {
            c.mult = rate(span, tsc - c.base_tsc);
            c.rate_span_ns = span;
        }
        if (span >= kRateWindowNs) {
            c.base_tsc = tsc;
            c.base_ns = ns;
        }
    } else {
        c.base_tsc = tsc;  // the counter went back (another CPU's): start a window here
        c.base_ns = ns;
    }
    c.anchor_tsc = tsc;
    c.anchor_ns = ns;
    // The next re-anchoring: after a millisecond, or sooner while the rate was measured over
    // less than that, so that no extrapolation reaches further than the span its rate was
    // measured over (the error stays within that of one clock reading).
    const uint64_t period = std::min<uint64_t>(kAnchorNs, std::max<uint64_t>(c.rate_span_ns, 1000));
    const uint64_t ticks = static_cast<uint64_t>((static_cast<unsigned __int128>(period) << 32) /
                                                 (c.mult ? c.mult : 1));
    c.next_tsc = tsc + (ticks ? ticks : 1);
    if (ns < c.last)
        ns = c.last;
    c.last = ns;
    return ns;
#else
    return now_ns();
#endif
}

}  // namespace oobbpf::oob
