// SPDX-License-Identifier: MIT
// Latency accounting per oob socket, readable without asking the application: each UdpSocket
// publishes its counters and two latency histograms (classifier stamp -> delivery to the
// application, and send -> TX completion) in a small shared-memory file,
//
//   <dir>/<pid>-<port>-<n>.stats      dir: StackConfig::stats_dir, default /run/oobbpf/sockets
//
// which `oobbpf stats` reads (and exports for Prometheus). The file is created under a temporary
// name, locked (flock LOCK_SH) for the socket's life, then renamed into place, and removed when
// the socket closes. A file whose lock can be taken exclusively belongs to a process that is gone
// (crashed, killed): readers skip it and remove it.
//
// One writer (the socket's thread) stores with relaxed atomics; readers load the same way, so a
// reader sees each counter whole, not all of them at one instant.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace oobbpf::oob {

constexpr uint32_t kSockStatsMagic = 0x00bb5001;
constexpr uint32_t kSockStatsVersion = 1;
// Bucket i counts samples in [2^i, 2^(i+1)) ns (bucket 0 also holds 0); the last one is open.
constexpr int kLatBuckets = 40;

struct LatHist {
    uint64_t count;
    uint64_t sum_ns;
    uint64_t max_ns;
    uint64_t bucket[kLatBuckets];
};

// The file's layout (fixed width, no padding holes; magic and version first).
struct SockStatsData {
    uint32_t magic;
    uint32_t version;
    uint32_t pid;
    uint16_t port;  // UDP port of the socket
    uint16_t pad;
    uint32_t ifindex;     // the lower device (where frames arrive and leave)
    uint32_t queues;      // number of oob queues of its stack
    uint64_t started_ns;  // CLOCK_MONOTONIC
    char dev[16];         // the port device's name
    char pin_root[208];   // the daemon's pin root the stack works with (readers filter on it)
    uint64_t rx_packets, tx_packets, tx_completed, rx_no_stamp;
    LatHist classify_deliver;  // classifier stamp -> recv() hands the datagram over
    LatHist send_complete;     // put on the TX ring -> back from the completion ring
};
static_assert(sizeof(SockStatsData) == 288 + 2 * (24 + 8 * kLatBuckets));

inline int lat_bucket(uint64_t ns) {
    if (ns < 2)
        return 0;
    int b = 63 - __builtin_clzll(ns);
    return b < kLatBuckets ? b : kLatBuckets - 1;
}

// Adds one sample (single writer: relaxed load + store, no read-modify-write bus lock).
inline void lat_add(LatHist &h, uint64_t ns) {
    auto bump = [](uint64_t &x, uint64_t d) {
        std::atomic_ref<uint64_t> a(x);
        a.store(a.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
    };
    bump(h.bucket[lat_bucket(ns)], 1);
    bump(h.sum_ns, ns);
    if (ns > h.max_ns)
        std::atomic_ref<uint64_t>(h.max_ns).store(ns, std::memory_order_relaxed);
    bump(h.count, 1);
}

inline void stat_add(uint64_t &x, uint64_t d = 1) {
    std::atomic_ref<uint64_t> a(x);
    a.store(a.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
}

// The quantile q (0..1) of a histogram: the upper edge of the bucket that holds it (0: empty).
uint64_t lat_quantile(const LatHist &h, double q);

// /run/oobbpf/sockets, or $OOBBPF_STATS_DIR.
std::string default_stats_dir();

// One socket's published statistics (the writer side).
class SockStatsFile {
  public:
    SockStatsFile() = default;
    // Creates the file in dir; on failure (no such directory and cannot make it, no permission)
    // data() is a private block and error() says why: accounting goes on, unpublished.
    SockStatsFile(const std::string &dir, const SockStatsData &init);
    ~SockStatsFile();
    SockStatsFile(const SockStatsFile &) = delete;
    SockStatsFile &operator=(const SockStatsFile &) = delete;

    SockStatsData *data() { return d_; }
    const std::string &path() const { return path_; }  // empty when not published
    const std::string &error() const { return err_; }

  private:
    SockStatsData *d_ = nullptr;
    SockStatsData local_{};
    int fd_ = -1;
    std::string path_, err_;
};

struct SockStatsEntry {
    std::string path;
    SockStatsData data;
};

// Every live socket's statistics in dir whose pin root is pin_root (all when empty). Files of
// processes that are gone are removed on the way.
std::vector<SockStatsEntry> read_sock_stats(const std::string &dir, const std::string &pin_root);

}  // namespace oobbpf::oob
