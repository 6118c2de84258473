// SPDX-License-Identifier: MIT
// liboob: the oob data path for applications. A Stack owns the oob queues of one port (one
// AF_XDP socket per RX queue, registered in the classifier's XSKMAP), demultiplexes what the
// classifier diverts to UDP sockets (IPv4 and IPv6) and raw sockets (by ethertype), and sends
// datagrams with headers built from the learned route and neighbour (a VLAN tag for VLAN ports).
//
// Threading: a Stack and its sockets are driven by one thread (run to completion, no locks).
// Use one Stack per thread, each with its own queues. Frames and datagrams must not outlive the
// Stack they came from.
//
//   oob::Stack stack({.dev = "eth0", .queues = {0}});
//   auto sock = stack.udp(7000);
//   oob::Datagram d[32];
//   size_t n = sock->recv(d, 32, oob::Deadline::after_ms(10));
//   for (size_t i = 0; i < n; i++) sock->reply(d[i]);   // the payload goes back, zero copy
#pragma once

#include "liboob/addr.h"
#include "liboob/build.h"
#include "liboob/clock.h"
#include "liboob/frame.h"
#include "liboob/netlink.h"
#include "liboob/registry.h"
#include "liboob/route.h"
#include "liboob/sockstats.h"
#include "liboob/txtap.h"
#include "liboob/wire.h"
#include "liboob/xsk.h"

#include <oobbpf/abi.h>

#include <array>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace oobbpf::oob {

class UdpSocket;
class RawSocket;

// What a send does when the path to a destination is not known (no route, no neighbour).
enum class MissPolicy {
    Error,   // return -ENETUNREACH / -EHOSTUNREACH to the caller (counted)
    InBand,  // send this datagram through the in-band stack (a kernel socket bound to the same
             // port), which also makes the kernel resolve the neighbour; counted as tx_inband
};

struct StackConfig {
    std::string dev;                  // the oob port: a device, or a VLAN device (eth0.42)
    std::vector<uint32_t> queues{0};  // RX/TX queues of the (lower) device, one socket each
    // The classifier's maps; empty: those of this network namespace's oobbpfd (OOBBPF_PIN_ROOT,
    // else /sys/fs/bpf/oobbpf, or /sys/fs/bpf/oobbpf-nsINO outside the initial namespace).
    std::string pin_root;
    bool register_xsk = true;  // write the XSKMAP slot and its mirror (else someone else does)
    bool force = false;        // take a slot registered by another live process
    XskConfig xsk;             // per-queue template (ifname, queue, index are filled in)
    MissPolicy miss = MissPolicy::InBand;
    bool inband_socket = true;  // bind a kernel UDP socket to each oob port: in-band fallback
                                // sends, and datagrams that the classifier passed in-band
    bool verify_checksums = true;
    uint64_t path_ttl_ns = 1000000000ULL;  // a resolved path is reused this long
    uint64_t miss_ttl_ns = 5000000ULL;     // a miss is remembered this long
    std::shared_ptr<RouteSource> routes;   // default: default_route_source(pin_root)
    // Where each UDP socket publishes its counters and latency histograms for `oobbpf stats`
    // (sockstats.h); empty: not published (still kept, see UdpSocket::stats()).
    std::string stats_dir = default_stats_dir();
    bool tap_tx = true;  // sent frames go to `oobbpf tap` sessions that ask for them (txtap.h)
    size_t socket_queue = 1024;  // datagrams a socket holds before it drops
    uint32_t tx_headroom = 256;  // headroom of frames from alloc()
};

struct Datagram {
    Frame frame;          // data() is the UDP payload; l2/l3/l4 point at the received headers
    Endpoint remote;      // the sender
    Endpoint local;       // the address and port it was sent to
    bool inband = false;  // came through the in-band socket (the classifier passed it in-band)
};

// When a sent frame went out: see UdpSocket::enable_tx_timestamps().
struct TxTimestamp {
    uint64_t id = 0;            // UdpSocket::last_tx_id() right after its send
    uint64_t queued_ns = 0;     // put on the TX ring (CLOCK_MONOTONIC, clock.h)
    uint64_t completed_ns = 0;  // handed back by the TX completion ring: the kernel sent it
};

struct SocketCounters {
    uint64_t rx_packets = 0, rx_bytes = 0;
    uint64_t rx_dropped = 0;         // socket queue full
    uint64_t rx_inband = 0;          // received on the in-band socket
    uint64_t rx_inband_too_big = 0;  // in-band datagrams larger than a frame: dropped
    uint64_t tx_packets = 0, tx_bytes = 0;
    uint64_t tx_inband = 0;  // sent through the in-band stack after a miss
    uint64_t tx_errors = 0;  // sends that returned an error
    uint64_t route_misses = 0, neigh_misses = 0, other_dev = 0;
    uint64_t tx_too_big = 0, tx_ring_full = 0;
    uint64_t tx_completed = 0;
    uint64_t tx_timestamps_dropped = 0;  // completions the timestamp queue had no room for
};

struct StackCounters {
    uint64_t rx_frames = 0;
    uint64_t rx_meta = 0;       // carried the classifier's stamp
    uint64_t rx_delivered = 0;  // to a UDP or raw socket
    uint64_t rx_no_socket = 0;  // UDP to a port nobody bound
    uint64_t rx_raw_no_socket = 0;
    uint64_t rx_udp_no_csum = 0;  // IPv4 UDP without checksum (accepted)
    std::array<uint64_t, static_cast<size_t>(wire::Reject::Count)> rx_reject{};
    uint64_t tx_frames = 0, tx_bytes = 0, tx_ring_full = 0, tx_copies = 0;
    uint64_t path_hits = 0, path_lookups = 0;
    uint64_t route_misses = 0, neigh_misses = 0, other_dev = 0, no_source = 0;
    uint64_t solicits = 0;
    uint64_t tx_inband = 0, tx_inband_errors = 0, rx_inband = 0;
    uint64_t tx_tapped = 0, tx_tap_errors = 0;  // sent frames copied to `oobbpf tap`
};

class Stack {
  public:
    explicit Stack(StackConfig cfg);
    ~Stack();
    Stack(const Stack &) = delete;
    Stack &operator=(const Stack &) = delete;

    // A UDP socket on port (host order). local any: every address of the port. Throws
    // oobbpf::Error (EADDRINUSE) when the port is taken on this stack.
    std::unique_ptr<UdpSocket> udp(uint16_t port, const IpAddr &local = {});
    // A raw socket receiving the frames of an ethertype (host order) that no UDP socket takes:
    // non-IP protocols, or IP frames that are not UDP.
    std::unique_ptr<RawSocket> raw(uint16_t ethertype);

    // Takes what the rings hold and delivers it to the sockets; reaps TX completions. Never
    // blocks. Returns the number of frames taken.
    size_t poll();
    // Reaps the TX completion rings only (send timestamps, frames back to their pools).
    void complete();
    // Sleeps until a queue has frames, one of extra_fds is readable, or the deadline passes.
    void wait(Deadline dl, const int *extra_fds = nullptr, size_t n_extra = 0);

    // A fresh frame of queue q's UMEM with the configured headroom (empty when exhausted).
    Frame alloc(uint16_t q = 0);

    // The path to dst from src (any: the route's preferred source), cached for path_ttl_ns.
    // 0, or -ENETUNREACH (no route), -EHOSTUNREACH (no neighbour), -EXDEV (the route leaves by
    // another device than this port's), -EADDRNOTAVAIL (no source address).
    int path(const IpAddr &dst, const IpAddr &src, const Path *&out, uint8_t tos = 0,
             uint32_t mark = 0);
    // As path(), bypassing the cache, and soliciting the neighbour through the in-band stack
    // when it is missing, waiting for it until the deadline. For setup time: afterwards sends
    // to dst find their path in the cache.
    int resolve(const IpAddr &dst, const IpAddr &src, Deadline dl, uint8_t tos = 0,
                uint32_t mark = 0);
    void forget_paths() {
        last_ = nullptr;
        paths_.clear();
    }

    // Puts a complete frame on its queue's TX ring (copying it when it belongs to another
    // UMEM). 0, or -EAGAIN when the ring is full (the frame stays with the caller).
    // With wake false the kernel is not woken: call flush() after a batch.
    int transmit(Frame &f, bool wake = true);
    // Wakes the kernel's TX on every queue that got frames since the last wake-up.
    void flush();

    const LinkInfo &port() const { return port_; }    // the port device
    const LinkInfo &lower() const { return lower_; }  // where frames arrive and leave
    uint16_t vid() const { return port_.is_vlan ? port_.vid : 0; }
    size_t nqueues() const { return queues_.size(); }
    XskQueue &queue(size_t i) { return *queues_[i]; }
    uint32_t xsk_slot(size_t i) const;  // the XSKMAP key of queue i (when registered)
    const StackConfig &config() const { return cfg_; }
    std::string route_source() const { return routes_->name(); }
    RouteSource &routes() { return *routes_; }
    StackCounters counters() const { return c_; }
    XskCounters queue_counters() const;  // summed over queues

    // Why sent frames are not tapped (txtap.h), empty when they can be.
    const std::string &tap_error() const { return tap_ ? tap_->error() : no_tap_; }

  private:
    friend class UdpSocket;
    friend class RawSocket;
    struct Completions : TxCompletionSink {
        Stack *stack = nullptr;
        void tx_completed(uint16_t owner, uint64_t id, uint64_t queued_ns,
                          uint64_t completed_ns) override;
    };
    struct PathKey {
        uint8_t family, tos;
        uint16_t pad;
        uint32_t mark;
        std::array<uint8_t, 16> dst, src;
        bool operator==(const PathKey &o) const = default;
    };
    struct PathKeyHash {
        size_t operator()(const PathKey &k) const;
    };
    struct PathEntry {
        Path path;
        int err = 0;
        uint64_t expires = 0;
    };

    void deliver(Frame &&f);
    int resolve_into(const PathKey &k, PathEntry &e);
    Netlink &netlink();
    void unbind(UdpSocket *s);
    void unbind(RawSocket *s);

    StackConfig cfg_;
    LinkInfo port_, lower_;
    std::vector<std::unique_ptr<XskQueue>> queues_;
    std::vector<XskRegistration> regs_;
    std::shared_ptr<RouteSource> routes_;
    std::unique_ptr<Netlink> nl_;
    std::unordered_map<PathKey, PathEntry, PathKeyHash> paths_;
    PathEntry *last_ = nullptr;
    PathKey last_key_{};
    std::vector<UdpSocket *> udp_;  // by port
    std::unordered_map<uint16_t, RawSocket *> raw_;
    std::array<Frame, 64> rxbuf_;
    std::vector<int> pollfds_;
    std::vector<uint8_t> pending_wake_;
    uint16_t ip_id_ = 0;
    StackCounters c_;
    Completions completions_;
    std::unique_ptr<TxTap> tap_;
    std::string no_tap_;
};

class UdpSocket {
  public:
    ~UdpSocket();
    UdpSocket(const UdpSocket &) = delete;
    UdpSocket &operator=(const UdpSocket &) = delete;

    uint16_t port() const { return port_; }
    const IpAddr &local() const { return local_; }
    // nullptr once the stack is gone (then every call fails with -ENOTCONN or returns 0).
    Stack *stack() { return stack_; }

    // Up to max datagrams. When none is there, waits (spinning or sleeping) until one arrives
    // or the deadline passes; returns 0 then.
    size_t recv(Datagram *out, size_t max, Deadline dl = Deadline::never(), Wait w = Wait::Busy);

    // Sends f's data as the payload of a datagram to `to`, from `from` (any: the socket's local
    // address, else the route's preferred source). Headers go into f's headroom: no copy.
    // 0 when sent (f is consumed). On failure f stays with the caller, unchanged, and the
    // result is a negative errno: -ENETUNREACH, -EHOSTUNREACH (misses, MissPolicy::Error),
    // -EXDEV, -EMSGSIZE (above the path MTU: oob never fragments), -EAGAIN (TX ring full).
    // Under MissPolicy::InBand a miss sends through the in-band socket and returns 0 (counted).
    int send_to(Frame &f, const Endpoint &to, const IpAddr &from = {});
    // Sends d.frame back to d.remote, from d.local.
    int reply(Datagram &d);
    // frames[i] to to[i], one wake-up of the kernel for the batch; stops at the first failure.
    // Returns how many were sent; *err gets the failure.
    size_t send_batch(Frame *frames, const Endpoint *to, size_t n, int *err = nullptr);
    // Every d[i] back to its sender, one wake-up for the batch. Returns how many were sent;
    // the frames of the others stay in d.
    size_t reply_batch(Datagram *d, size_t n);
    // Copies len bytes into a fresh frame and sends it.
    int send_copy(const void *data, size_t len, const Endpoint &to, const IpAddr &from = {});

    // Timestamps of sent frames. Every datagram this socket sends on the oob path gets an id,
    // 1, 2, 3, ... (last_tx_id() right after send_to() returns 0). With timestamps enabled, each
    // completed send leaves {id, queued_ns, completed_ns} for tx_timestamps(), in completion
    // order; the queue keeps up to max, further ones are dropped and counted.
    // Received datagrams carry theirs in frame.info(): classified_ns (the classifier's stamp,
    // when the classifier diverted it) and delivered_ns (when recv() handed it over).
    void enable_tx_timestamps(size_t max = 1024);
    uint64_t last_tx_id() const { return tx_seq_; }
    // Takes the timestamps of completed sends (reaping the completion rings first). Never blocks.
    size_t tx_timestamps(TxTimestamp *out, size_t max);
    // The socket's latency accounting (also published for `oobbpf stats`, sockstats.h).
    const SockStatsData &stats() const { return *stats_->data(); }
    const SockStatsFile &stats_file() const { return *stats_; }

    void set_tos(uint8_t tos) { tos_ = tos; }
    void set_mark(uint32_t mark) { mark_ = mark; }
    const SocketCounters &counters() const { return c_; }
    int inband_fd() const { return inband_fd_; }
    size_t queued() const { return count_; }

  private:
    friend class Stack;
    UdpSocket(Stack &s, uint16_t port, const IpAddr &local);
    bool push(Datagram &&d);
    size_t pop(Datagram *out, size_t max);
    bool read_inband();
    int send_inband(const Frame &f, const Endpoint &to, const IpAddr &from);
    int build(Frame &f, const Path &p, uint16_t dport, uint32_t &hlen);
    int send_one(Frame &f, const Endpoint &to, const IpAddr &from, bool wake);
    void tx_completed(uint64_t id, uint64_t queued_ns, uint64_t completed_ns);

    Stack *stack_;
    uint16_t port_;
    IpAddr local_;
    uint8_t tos_ = 0;
    uint32_t mark_ = 0;
    int inband_fd_ = -1;
    std::vector<Datagram> q_;
    size_t head_ = 0, count_ = 0;
    uint32_t spins_ = 0;
    SocketCounters c_;
    uint64_t tx_seq_ = 0;
    std::vector<TxTimestamp> ts_q_;  // empty: timestamps off
    size_t ts_head_ = 0, ts_count_ = 0;
    std::unique_ptr<SockStatsFile> stats_;
};

struct RawCounters {
    uint64_t rx_packets = 0, rx_bytes = 0, rx_dropped = 0;
    uint64_t tx_packets = 0, tx_bytes = 0, tx_errors = 0;
};

class RawSocket {
  public:
    ~RawSocket();
    RawSocket(const RawSocket &) = delete;
    RawSocket &operator=(const RawSocket &) = delete;

    uint16_t ethertype() const { return ethertype_; }
    // Whole frames, data() at the Ethernet header; l3 marks what follows the tags.
    size_t recv(Frame *out, size_t max, Deadline dl = Deadline::never(), Wait w = Wait::Busy);
    // Sends a complete frame as it is.
    int send(Frame &f);
    // Pushes an Ethernet header (and the port's VLAN tag) in front of f's data and sends it.
    int send_to(Frame &f, const Mac &dst);
    const RawCounters &counters() const { return c_; }

  private:
    friend class Stack;
    RawSocket(Stack &s, uint16_t ethertype);
    bool push(Frame &&f);
    Stack *stack_;
    uint16_t ethertype_;
    std::vector<Frame> q_;
    size_t head_ = 0, count_ = 0;
    RawCounters c_;
};

}  // namespace oobbpf::oob
