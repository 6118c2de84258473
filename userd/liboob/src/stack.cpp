// SPDX-License-Identifier: MIT
#include "liboob/stack.h"
#include "hot.h"

#include "error.h"
#include "netns_paths.h"

#include <linux/rtnetlink.h>
#include <poll.h>

#include <cstring>
#include <thread>

namespace oobbpf::oob {

size_t Stack::PathKeyHash::operator()(const PathKey &k) const {
    // Five 64-bit words (the key has no padding holes: pad is explicit and zeroed), mixed.
    static_assert(sizeof(PathKey) == 40);
    uint64_t w[5];
    std::memcpy(w, &k, sizeof(w));
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    for (uint64_t x : w) {
        h ^= x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
        h *= 0xff51afd7ed558ccdULL;
    }
    return static_cast<size_t>(h ^ (h >> 33));
}

Stack::Stack(StackConfig cfg) : cfg_(std::move(cfg)), udp_(65536, nullptr) {
    if (cfg_.dev.empty())
        throw Error("no oob port device given", EINVAL);
    if (cfg_.queues.empty())
        throw Error("no queue given for " + cfg_.dev, EINVAL);
    nl_ = std::make_unique<Netlink>();
    if (int rc = nl_->link(cfg_.dev, port_); rc)
        throw sys_error("device " + cfg_.dev, rc);
    lower_ = port_;
    if (port_.is_vlan) {
        // A VLAN port: its frames arrive and leave tagged on the lower device, where the
        // classifier runs and the sockets bind.
        if (int rc = nl_->link(port_.lower_ifindex, lower_); rc)
            throw sys_error("lower device of " + cfg_.dev, rc);
    }
    if (cfg_.pin_root.empty())
        cfg_.pin_root = default_pin_root();
    routes_ = cfg_.routes ? cfg_.routes : default_route_source(cfg_.pin_root);
    // This thread's per-frame clock calibrates on first use (50 us): here, not on a first frame.
    fast_now_ns();
    completions_.stack = this;
    if (cfg_.tap_tx)
        tap_ = std::make_unique<TxTap>(cfg_.pin_root, lower_.ifindex, vid());
    else
        no_tap_ = "tap_tx is off in the stack's configuration";

    for (size_t i = 0; i < cfg_.queues.size(); i++) {
        XskConfig x = cfg_.xsk;
        x.ifname = lower_.name;
        x.queue = cfg_.queues[i];
        x.index = static_cast<uint16_t>(i);
        queues_.push_back(std::make_unique<XskQueue>(x));
        queues_.back()->set_completion_sink(&completions_);
        pending_wake_.push_back(0);
        if (cfg_.register_xsk)
            regs_.emplace_back(cfg_.pin_root, lower_.ifindex, x.queue, queues_.back()->fd(),
                               cfg_.force);
    }
}

Stack::~Stack() {
    // Unregister first: the classifier stops diverting into sockets about to close.
    regs_.clear();
    // Sockets that outlive the stack keep no frame of its UMEM, which is about to go.
    for (UdpSocket *s : udp_)
        if (s) {
            s->q_.clear();
            s->count_ = 0;
            s->stack_ = nullptr;
        }
    for (auto &[type, s] : raw_) {
        s->q_.clear();
        s->count_ = 0;
        s->stack_ = nullptr;
    }
    for (auto &f : rxbuf_)
        f.reset();
}

uint32_t Stack::xsk_slot(size_t i) const {
    return i < regs_.size() ? regs_[i].key() : 0;
}

XskCounters Stack::queue_counters() const {
    XskCounters sum;
    for (auto &q : queues_) {
        XskCounters c = q->counters();
        sum.rx_frames += c.rx_frames;
        sum.rx_bytes += c.rx_bytes;
        sum.tx_frames += c.tx_frames;
        sum.tx_bytes += c.tx_bytes;
        sum.tx_completed += c.tx_completed;
        sum.tx_ring_full += c.tx_ring_full;
        sum.tx_kicks += c.tx_kicks;
        sum.tx_kick_errors += c.tx_kick_errors;
        sum.fill_wakeups += c.fill_wakeups;
        sum.fill_starved += c.fill_starved;
        sum.kernel_rx_dropped += c.kernel_rx_dropped;
        sum.kernel_rx_ring_full += c.kernel_rx_ring_full;
        sum.kernel_fill_empty += c.kernel_fill_empty;
        sum.kernel_tx_invalid += c.kernel_tx_invalid;
        sum.kernel_tx_ring_empty += c.kernel_tx_ring_empty;
    }
    return sum;
}

std::unique_ptr<UdpSocket> Stack::udp(uint16_t port, const IpAddr &local) {
    if (port == 0)
        throw Error("UDP port 0 cannot be bound on the oob path", EINVAL);
    if (udp_[port])
        throw Error("UDP port " + std::to_string(port) + " is already bound on " + cfg_.dev,
                    EADDRINUSE);
    std::unique_ptr<UdpSocket> s(new UdpSocket(*this, port, local));
    udp_[port] = s.get();
    return s;
}

std::unique_ptr<RawSocket> Stack::raw(uint16_t ethertype) {
    if (raw_.count(ethertype))
        throw Error("ethertype " + std::to_string(ethertype) + " is already bound on " + cfg_.dev,
                    EADDRINUSE);
    std::unique_ptr<RawSocket> s(new RawSocket(*this, ethertype));
    raw_[ethertype] = s.get();
    return s;
}

void Stack::unbind(UdpSocket *s) {
    if (udp_[s->port_] == s)
        udp_[s->port_] = nullptr;
}

void Stack::unbind(RawSocket *s) {
    auto it = raw_.find(s->ethertype_);
    if (it != raw_.end() && it->second == s)
        raw_.erase(it);
}

Netlink &Stack::netlink() {
    return *nl_;
}

OOB_HOT Frame Stack::alloc(uint16_t q) {
    if (q >= queues_.size())
        return Frame();
    return queues_[q]->alloc(cfg_.tx_headroom);
}

OOB_HOT size_t Stack::poll() {
    size_t total = 0;
    for (auto &q : queues_) {
        q->complete();
        size_t n = q->rx(rxbuf_.data(), rxbuf_.size());
        for (size_t i = 0; i < n; i++)
            deliver(std::move(rxbuf_[i]));
        total += n;
    }
    return total;
}

OOB_HOT void Stack::complete() {
    for (auto &q : queues_)
        q->complete();
}

OOB_HOT void Stack::Completions::tx_completed(uint16_t owner, uint64_t id, uint64_t queued_ns,
                                      uint64_t completed_ns) {
    if (UdpSocket *s = stack->udp_[owner])
        s->tx_completed(id, queued_ns, completed_ns);
}

void Stack::wait(Deadline dl, const int *extra_fds, size_t n_extra) {
    for (auto &q : queues_)
        if (q->rx_ready())
            return;
    if (dl.passed())
        return;
    pollfd fds[OOB_MAX_QUEUES + 8];
    size_t n = 0;
    for (auto &q : queues_)
        if (n < OOB_MAX_QUEUES)
            fds[n++] = pollfd{q->fd(), POLLIN, 0};
    for (size_t i = 0; i < n_extra && i < 8; i++)
        if (extra_fds[i] >= 0)
            fds[n++] = pollfd{extra_fds[i], POLLIN, 0};
    timespec ts;
    ppoll(fds, n, dl.remaining(ts), nullptr);
}

OOB_HOT void Stack::deliver(Frame &&f) {
    c_.rx_frames++;
    if (f.info().has_meta)
        c_.rx_meta++;
    wire::Parsed p;
    const wire::Reject r = wire::parse(f.data(), f.len(), p, cfg_.verify_checksums);
    f.info().vid = p.vid;
    const uint16_t base = static_cast<uint16_t>(f.headroom());

    if ((r == wire::Reject::None && p.family == 0) || r == wire::Reject::NotUdp) {
        auto it = raw_.find(p.l3proto);
        if (it == raw_.end()) {
            if (r == wire::Reject::NotUdp)
                c_.rx_reject[static_cast<size_t>(r)]++;
            else
                c_.rx_raw_no_socket++;
            return;
        }
        f.set_offsets(base, static_cast<uint16_t>(base + p.l3off),
                      p.family ? static_cast<uint16_t>(base + p.l4off) : Frame::kUnset);
        if (it->second->push(std::move(f)))
            c_.rx_delivered++;
        return;
    }
    if (r != wire::Reject::None) {
        c_.rx_reject[static_cast<size_t>(r)]++;
        return;
    }
    if (p.udp_csum_zero)
        c_.rx_udp_no_csum++;

    UdpSocket *s = udp_[p.dport];
    IpAddr dst = p.family == AF_INET ? IpAddr::v4(p.dst) : IpAddr::v6(p.dst);
    if (!s || (!s->local_.any() && !(s->local_ == dst))) {
        c_.rx_no_socket++;
        return;
    }
    f.set_offsets(base, static_cast<uint16_t>(base + p.l3off),
                  static_cast<uint16_t>(base + p.l4off));
    f.pull(p.payload_off);
    f.trim(p.payload_len);
    Datagram d;
    d.remote.addr = p.family == AF_INET ? IpAddr::v4(p.src) : IpAddr::v6(p.src);
    d.remote.port = p.sport;
    d.local.addr = dst;
    d.local.port = p.dport;
    d.frame = std::move(f);
    if (s->push(std::move(d)))
        c_.rx_delivered++;
}

int Stack::resolve_into(const PathKey &k, PathEntry &e) {
    e.path = Path{};
    e.err = 0;
    RouteQuery q;
    q.dst.family = k.family;
    q.dst.bytes = k.dst;
    if (k.src != std::array<uint8_t, 16>{}) {
        q.src.family = k.family;
        q.src.bytes = k.src;
    }
    q.tos = k.tos;
    q.mark = k.mark;
    Path &p = e.path;
    p.dst = q.dst;

    Route r;
    int rc = routes_->route(q, r);
    if (rc) {
        e.err = rc == -ENOENT ? -ENETUNREACH : rc;
        if (e.err == -EACCES || e.err == -EPERM || e.err == -EINVAL)
            e.err = -ENETUNREACH;  // prohibit/blackhole routes: no way out
        return e.err;
    }
    p.oif = r.oif;
    p.lower_ifindex = r.lower_ifindex;
    p.vid = r.vid;
    p.next_hop = r.gateway ? r.gw : q.dst;
    if (r.type != RTN_UNICAST || r.lower_ifindex != lower_.ifindex) {
        // Local, broadcast, multicast, or another device: not a unicast path through this port.
        return e.err = -EXDEV;
    }
    p.src = q.src.any() ? r.prefsrc : q.src;
    if (p.src.any() || p.src.family != q.dst.family)
        return e.err = -EADDRNOTAVAIL;

    if (r.oif == port_.ifindex) {
        p.src_mac = port_.mac;
        p.mtu = port_.mtu;
    } else if (r.oif == lower_.ifindex) {
        p.src_mac = lower_.mac;
        p.mtu = lower_.mtu;
    } else {
        LinkInfo li;
        if (nl_->link(r.oif, li) != 0)
            return e.err = -ENODEV;
        p.src_mac = li.mac;
        p.mtu = li.mtu;
    }
    if (r.mtu && r.mtu < p.mtu)
        p.mtu = r.mtu;

    Neigh n;
    if (routes_->neigh(r.oif, p.next_hop, n) != 0)
        return e.err = -EHOSTUNREACH;
    p.dst_mac = n.mac;
    p.resolved_ns = now_ns();
    return 0;
}

namespace {

void count_miss(StackCounters &c, int err) {
    if (err == -ENETUNREACH)
        c.route_misses++;
    else if (err == -EHOSTUNREACH)
        c.neigh_misses++;
    else if (err == -EXDEV)
        c.other_dev++;
    else
        c.no_source++;
}

}  // namespace

OOB_HOT int Stack::path(const IpAddr &dst, const IpAddr &src, const Path *&out, uint8_t tos,
                uint32_t mark) {
    if (dst.any() || (!src.any() && src.family != dst.family))
        return -EINVAL;
    PathKey k{};
    k.family = dst.family;
    k.tos = tos;
    k.mark = mark;
    k.dst = dst.bytes;
    if (!src.any())
        k.src = src.bytes;
    c_.path_lookups++;
    const uint64_t now = fast_now_ns();
    // The flow of the last send (an echo, a stream to one peer) skips the hash table.
    if (last_ && now < last_->expires && std::memcmp(&last_key_, &k, sizeof(k)) == 0) {
        if (last_->err)
            count_miss(c_, last_->err);
        else
            c_.path_hits++;
        out = &last_->path;
        return last_->err;
    }
    auto [it, fresh] = paths_.try_emplace(k);
    PathEntry &e = it->second;
    if (fresh || now >= e.expires) {
        resolve_into(k, e);
        e.expires = now + (e.err ? cfg_.miss_ttl_ns : cfg_.path_ttl_ns);
    } else if (!e.err) {
        c_.path_hits++;
    }
    if (e.err)
        count_miss(c_, e.err);
    last_ = &e;  // unordered_map nodes stay put until erased
    last_key_ = k;
    out = &e.path;
    return e.err;
}

int Stack::resolve(const IpAddr &dst, const IpAddr &src, Deadline dl, uint8_t tos, uint32_t mark) {
    if (dst.any() || (!src.any() && src.family != dst.family))
        return -EINVAL;
    PathKey k{};
    k.family = dst.family;
    k.tos = tos;
    k.mark = mark;
    k.dst = dst.bytes;
    if (!src.any())
        k.src = src.bytes;
    PathEntry &e = paths_[k];
    last_ = nullptr;
    bool solicited = false;
    for (;;) {
        resolve_into(k, e);
        if (e.err != -EHOSTUNREACH)
            break;
        if (!solicited) {
            // The in-band stack resolves; the learner (or the next netlink lookup) sees it.
            if (nl_->solicit(e.path.oif, e.path.next_hop) == 0)
                c_.solicits++;
            solicited = true;
        }
        if (dl.passed())
            break;
        std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    e.expires = now_ns() + (e.err ? cfg_.miss_ttl_ns : cfg_.path_ttl_ns);
    if (e.err)
        count_miss(c_, e.err);
    return e.err;
}

OOB_HOT int Stack::transmit(Frame &f, bool wake) {
    if (f.empty())
        return -EINVAL;
    size_t qi = f.queue();
    if (qi >= queues_.size() || f.pool() != &queues_[qi]->pool()) {
        // Not this stack's UMEM (or another queue's): copy, counted.
        Frame g = alloc(0);
        if (g.empty() || f.len() > g.tailroom())
            return -ENOBUFS;
        std::memcpy(g.put(f.len()), f.data(), f.len());
        g.set_offsets(f.l2_off(), f.l3_off(), f.l4_off());
        g.info().tx_id = f.info().tx_id;
        g.info().tx_owner = f.info().tx_owner;
        c_.tx_copies++;
        int rc = transmit(g, wake);
        if (rc == 0)
            f.reset();
        return rc;
    }
    const uint32_t len = f.len();
    const uint8_t *bytes = f.data();  // stays readable: only a later alloc() reuses the chunk
    if (queues_[qi]->tx(&f, 1, wake) != 1) {
        c_.tx_ring_full++;
        return -EAGAIN;
    }
    // A send that woke the kernel may be complete already (copy mode sends inside the wake-up):
    // reaping now makes the completion time the send's, not the next poll's.
    if (wake)
        queues_[qi]->complete();
    // With no tap of this device asking for sent frames, this is a few loads of a mapped page.
    // After the reaping, so that a tap's copy never counts in the send's completion time; the
    // chunk is back in the pool but untouched: nothing takes from the pool before this copy.
    if (tap_ && tap_->wanted()) {
        const uint64_t before = tap_->errors();
        tap_->copy(bytes, len, queues_[qi]->queue());
        if (tap_->errors() != before)
            c_.tx_tap_errors++;
        else
            c_.tx_tapped++;
    }
    if (!wake)
        pending_wake_[qi] = 1;
    c_.tx_frames++;
    c_.tx_bytes += len;
    return 0;
}

OOB_HOT void Stack::flush() {
    for (size_t i = 0; i < queues_.size(); i++)
        if (pending_wake_[i]) {
            pending_wake_[i] = 0;
            queues_[i]->kick();
            queues_[i]->complete();
        }
}

}  // namespace oobbpf::oob
