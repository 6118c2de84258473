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
