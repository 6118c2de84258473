// SPDX-License-Identifier: MIT
// One oob queue: an AF_XDP socket bound to one RX/TX queue of a device, with its own UMEM and
// its four rings (fill, completion, RX, TX), through libxdp's xsk_* API. libxdp is told not to
// load its own XDP program (XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD): oobbpf's classifier redirects
// into its XSKMAP, where XskRegistration puts the socket.
//
// A queue is driven by one thread. Frames it hands out come from its own pool and go back to it.
#pragma once

#include "liboob/clock.h"
#include "liboob/frame.h"

#include <cstdint>
#include <memory>
#include <string>

struct xsk_umem;
struct xsk_socket;

namespace oobbpf::oob {

enum class BindMode {
    Copy,      // XDP_COPY: works everywhere (veth, generic XDP); the kernel copies each frame
    ZeroCopy,  // XDP_ZEROCOPY: the driver DMAs into the UMEM; fails where unsupported
    Auto,      // zero-copy, else copy
};

struct XskConfig {
    std::string ifname;  // the device the socket binds to (the lower device of a VLAN port)
    uint32_t queue = 0;
    uint16_t index = 0;  // this queue's index in its stack (stamped into its frames)
    uint32_t frames = 4096;
    uint32_t frame_size = 4096;  // power of two
    uint32_t fill_size = 2048, comp_size = 2048, rx_size = 2048, tx_size = 2048;
    BindMode mode = BindMode::Copy;
    bool need_wakeup = true;       // XDP_USE_NEED_WAKEUP: syscalls only when the kernel asks
    bool hugepages = false;        // UMEM on MAP_HUGETLB (falls back to normal pages)
    unsigned busy_poll_usecs = 0;  // SO_BUSY_POLL (+ SO_PREFER_BUSY_POLL); 0: off
    unsigned busy_poll_budget = 0;
    unsigned busy_retry_ms = 1000;  // how long a queue still held by a closing socket is retried
};

struct XskCounters {
    uint64_t rx_frames = 0, rx_bytes = 0;
    uint64_t tx_frames = 0, tx_bytes = 0, tx_completed = 0;
    uint64_t tx_ring_full = 0;  // frames that found no TX slot
    uint64_t tx_kicks = 0, tx_kick_errors = 0;
    uint64_t fill_wakeups = 0;
    uint64_t fill_starved = 0;  // times the pool ran too low to restock the fill ring
    uint64_t kernel_rx_dropped = 0, kernel_rx_ring_full = 0, kernel_fill_empty = 0,
             kernel_tx_invalid = 0, kernel_tx_ring_empty = 0;  // XDP_STATISTICS
};

// Told of every completed send that carried an owner (FrameInfo::tx_owner): when it was put on
// the TX ring and when the completion ring gave it back.
class TxCompletionSink {
  public:
    virtual void tx_completed(uint16_t owner, uint64_t id, uint64_t queued_ns,
                              uint64_t completed_ns) = 0;

  protected:
    ~TxCompletionSink() = default;
};

class XskQueue {
  public:
    explicit XskQueue(const XskConfig &cfg);
    ~XskQueue();
    XskQueue(const XskQueue &) = delete;
    XskQueue &operator=(const XskQueue &) = delete;

    int fd() const;
    uint32_t queue() const { return cfg_.queue; }
    uint16_t index() const { return cfg_.index; }
    const std::string &ifname() const { return cfg_.ifname; }
    bool zero_copy() const { return zero_copy_; }
    FramePool &pool() { return *pool_; }

    // Takes up to max received frames off the RX ring (stamped with delivery time and the
    // classifier's metadata) and refills the fill ring. Never blocks.
    size_t rx(Frame *out, size_t max);
    // Places frames on the TX ring; placed frames are consumed (emptied), the rest stay with
    // the caller. Wakes the kernel when it asks for it. Returns the number placed.
    size_t tx(Frame *frames, size_t n, bool wake = true);
    // Reaps the completion ring: sent chunks go back to the pool. Returns how many.
    size_t complete();
    // A fresh frame from this queue's pool with the given headroom; empty when the pool is dry
    // even after reaping completions.
    Frame alloc(uint32_t headroom);
    // Puts free chunks on the fill ring, keeping some back for TX; now is the time they go.
    void refill(uint64_t now);
    // Wakes the kernel's TX path if it asked for it (copy mode always does).
    void kick();
    bool rx_ready();
    // Time of the send of a chunk still in flight (0 when unknown).
    uint64_t queued_ns(uint64_t chunk) const;

    XskCounters counters() const;  // reads the kernel's XDP_STATISTICS too
    // Latency of send -> completion, last and summed, for accounting.
    uint64_t tx_complete_ns_sum() const { return tx_complete_ns_sum_; }
    // Where completions of owned sends go (nullptr: nowhere).
    void set_completion_sink(TxCompletionSink *s) { sink_ = s; }

  private:
    struct Rings;
    XskConfig cfg_;
    void *area_ = nullptr;
    size_t area_len_ = 0;
    bool huge_ = false;
    bool zero_copy_ = false;
    std::unique_ptr<Rings> r_;
    std::unique_ptr<FramePool> pool_;
    struct TxTag {
        uint64_t id = 0;
        uint16_t owner = 0;
    };
    std::vector<uint64_t> queued_;  // per chunk: when it was put on the TX ring
    std::vector<TxTag> tags_;       // per chunk: whose send it is
    // Per chunk: when it last went onto the fill ring. A classifier stamp older than that is a
    // previous frame's, left in the chunk: liboob never writes into a chunk it hands the kernel
    // (a write there would make the kernel's copy take the cache line from this CPU).
    std::vector<uint64_t> filled_;
    TxCompletionSink *sink_ = nullptr;
    uint32_t outstanding_tx_ = 0;
    uint32_t rx_off_ = 0;  // where the kernel puts frame data in a chunk
    uint32_t unfilled_ = 0;      // fill entries the kernel took since the last refill (estimate)
    bool refill_owed_ = false;   // the last refill was short of frames: retried on every poll
    uint64_t tx_complete_ns_sum_ = 0;
    mutable XskCounters c_;
};

}  // namespace oobbpf::oob
