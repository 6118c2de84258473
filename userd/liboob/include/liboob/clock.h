// SPDX-License-Identifier: MIT
// Time on the oob path: CLOCK_MONOTONIC nanoseconds, the clock of bpf_ktime_get_ns(), so the
// classifier's stamps and liboob's compare directly. Deadlines are absolute points on it.
#pragma once

#include <cstdint>
#include <ctime>

namespace oobbpf::oob {

inline uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// The same clock, read on the per-frame path: the CPU's time-stamp counter scaled to
// CLOCK_MONOTONIC nanoseconds, where the kernel itself keeps time with that counter
// (clocksource tsc: invariant and synchronised across CPUs, which the kernel has checked).
// clock_gettime() costs 25-40 ns on such a machine, and a frame's way through liboob reads the
// clock several times (polled, delivered, queued, completed); the counter costs about half.
// Each thread re-anchors on clock_gettime() every millisecond (sooner in its first), with a rate
// measured against it over windows of up to a second (so it follows the clock's own rate, NTP
// frequency changes included): the two agree within the error of one clock reading, tens of
// nanoseconds. Never goes backwards within a thread. Elsewhere (another clocksource, another
// architecture), plain now_ns().
// Calibration and re-anchoring (clock.cpp): reads the clock and the counter afresh.
uint64_t fast_now_ns_slow();

namespace detail {
struct TscClock {
    uint64_t anchor_tsc = 0, anchor_ns = 0;  // the last re-anchoring
    uint64_t base_tsc = 0, base_ns = 0;      // start of the window the rate is measured over
    uint64_t rate_span_ns = 0;               // the span the rate in use was measured over
    uint64_t mult = 0;                       // ns per tick, 32.32 fixed point; 0: not yet
    uint64_t next_tsc = 0;                   // re-anchor when the counter reaches this
    uint64_t last = 0;                       // the last value returned
    int state = 0;                           // 0 unknown, 1 counter, -1 clock_gettime
};
inline thread_local TscClock tsc_clock;
}  // namespace detail

inline uint64_t fast_now_ns() {
#if defined(__x86_64__)
    detail::TscClock &c = detail::tsc_clock;
    if (c.state > 0) {
        const uint64_t tsc = __builtin_ia32_rdtsc();
        if (tsc - c.anchor_tsc < c.next_tsc - c.anchor_tsc) {
            uint64_t v = c.anchor_ns +
                         static_cast<uint64_t>((static_cast<unsigned __int128>(tsc - c.anchor_tsc) *
                                                c.mult) >> 32);
            if (v < c.last)
                v = c.last;
            c.last = v;
            return v;
        }
        return fast_now_ns_slow();
    }
    if (c.state == 0)
        return fast_now_ns_slow();
#endif
    return now_ns();
}

// An absolute point in time past which a call gives up and returns what it has.
class Deadline {
  public:
    static constexpr uint64_t kNever = UINT64_MAX;
    // Look once, never wait.
    static Deadline immediate() { return Deadline(0); }
    static Deadline never() { return Deadline(kNever); }
    static Deadline after_ns(uint64_t ns) { return Deadline(now_ns() + ns); }
    static Deadline after_us(uint64_t us) { return after_ns(us * 1000); }
    static Deadline after_ms(uint64_t ms) { return after_ns(ms * 1000000); }
    static Deadline at_ns(uint64_t t) { return Deadline(t); }

    bool is_never() const { return at_ == kNever; }
    bool passed(uint64_t t) const { return at_ != kNever && t >= at_; }
    bool passed() const { return at_ != kNever && (at_ == 0 || now_ns() >= at_); }
    uint64_t at() const { return at_; }
    // What remains, for ppoll(); nullptr means no limit.
    const timespec *remaining(timespec &ts) const {
        if (at_ == kNever)
            return nullptr;
        uint64_t now = now_ns(), left = at_ > now ? at_ - now : 0;
        ts.tv_sec = static_cast<time_t>(left / 1000000000ULL);
        ts.tv_nsec = static_cast<long>(left % 1000000000ULL);
        return &ts;
    }

  private:
    explicit Deadline(uint64_t at) : at_(at) {}
    uint64_t at_;
};

// How a call that has nothing yet waits for its deadline.
enum class Wait {
    Busy,   // spin on the rings: lowest latency, one core at 100%
    Sleep,  // ppoll(2) on the sockets: the thread sleeps until a frame arrives
};

}  // namespace oobbpf::oob
