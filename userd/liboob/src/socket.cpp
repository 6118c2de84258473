// SPDX-License-Identifier: MIT
#include "error.h"
#include "liboob/checksum.h"
#include "hot.h"
#include "liboob/stack.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace oobbpf::oob {

namespace {

// Addresses of the in-band socket: an AF_INET6 socket speaks IPv4 through mapped addresses.
socklen_t to_sockaddr(const Endpoint &ep, int sock_family, sockaddr_storage &ss) {
    std::memset(&ss, 0, sizeof(ss));
    if (sock_family == AF_INET) {
        auto *sin = reinterpret_cast<sockaddr_in *>(&ss);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(ep.port);
        std::memcpy(&sin->sin_addr, ep.addr.data(), 4);
        return sizeof(*sin);
    }
    auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(ep.port);
    if (ep.addr.is_v4()) {
        sin6->sin6_addr.s6_addr[10] = 0xff;
        sin6->sin6_addr.s6_addr[11] = 0xff;
        std::memcpy(&sin6->sin6_addr.s6_addr[12], ep.addr.data(), 4);
    } else {
        std::memcpy(&sin6->sin6_addr, ep.addr.data(), 16);
    }
    return sizeof(*sin6);
}

Endpoint from_sockaddr(const sockaddr_storage &ss) {
    Endpoint ep;
    if (ss.ss_family == AF_INET) {
        auto *sin = reinterpret_cast<const sockaddr_in *>(&ss);
        ep.addr = IpAddr::v4(reinterpret_cast<const uint8_t *>(&sin->sin_addr));
        ep.port = ntohs(sin->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        auto *sin6 = reinterpret_cast<const sockaddr_in6 *>(&ss);
        const uint8_t *a = sin6->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        ep.addr = std::memcmp(a, mapped, 12) == 0 ? IpAddr::v4(a + 12) : IpAddr::v6(a);
        ep.port = ntohs(sin6->sin6_port);
    }
    return ep;
}

int socket_family(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (getsockname(fd, reinterpret_cast<sockaddr *>(&ss), &len) < 0)
        return AF_UNSPEC;
    return ss.ss_family;
}

}  // namespace

// ---- UdpSocket ---------------------------------------------------------------------------

UdpSocket::UdpSocket(Stack &s, uint16_t port, const IpAddr &local)
    : stack_(&s), port_(port), local_(local), q_(s.cfg_.socket_queue ? s.cfg_.socket_queue : 1) {
    SockStatsData init{};
    init.magic = kSockStatsMagic;
    init.version = kSockStatsVersion;
    init.pid = static_cast<uint32_t>(getpid());
    init.port = port;
    init.ifindex = s.lower_.ifindex;
    init.queues = static_cast<uint32_t>(s.queues_.size());
    init.started_ns = now_ns();
    std::snprintf(init.dev, sizeof(init.dev), "%s", s.cfg_.dev.c_str());
    std::snprintf(init.pin_root, sizeof(init.pin_root), "%s", s.cfg_.pin_root.c_str());
    stats_ = std::make_unique<SockStatsFile>(s.cfg_.stats_dir, init);
    if (!s.cfg_.inband_socket)
        return;
    // The in-band twin: a kernel socket on the same port. It carries sends the oob path cannot
    // make (MissPolicy::InBand) and receives what the classifier passed in-band to this port.
    int fam = local.is_v4() ? AF_INET : AF_INET6;
    int fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 && fam == AF_INET6 && local.any()) {
        fam = AF_INET;  // IPv6 disabled here
        fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    }
    if (fd < 0)
        return;
    int one = 1, zero = 0;
    if (fam == AF_INET6) {
        if (local.any())
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
    }
    setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    sockaddr_storage ss;
    Endpoint me{local, port};
    if (local.any())
        me.addr.family = static_cast<uint8_t>(fam);  // the all-zero address of the family
    socklen_t len = to_sockaddr(me, fam, ss);
    if (bind(fd, reinterpret_cast<sockaddr *>(&ss), len) < 0) {
        // Taken by an in-band application: no in-band twin (misses become errors).
        close(fd);
        return;
    }
    inband_fd_ = fd;
}

UdpSocket::~UdpSocket() {
    if (stack_)
        stack_->unbind(this);
    if (inband_fd_ >= 0)
        close(inband_fd_);
}

OOB_HOT bool UdpSocket::push(Datagram &&d) {
    if (count_ == q_.size()) {
        c_.rx_dropped++;
        return false;
    }
    q_[(head_ + count_) % q_.size()] = std::move(d);
    count_++;
    c_.rx_packets++;
    c_.rx_bytes += q_[(head_ + count_ - 1) % q_.size()].frame.len();
    return true;
}

OOB_HOT size_t UdpSocket::pop(Datagram *out, size_t max) {
    if (!count_)
        return 0;
    const uint64_t now = fast_now_ns();
    SockStatsData &st = *stats_->data();
    size_t n = 0;
    while (n < max && count_) {
        out[n] = std::move(q_[head_]);
        FrameInfo &info = out[n].frame.info();
        info.delivered_ns = now;
        if (info.classified_ns && now >= info.classified_ns)
            lat_add(st.classify_deliver, now - info.classified_ns);
        else
            stat_add(st.rx_no_stamp);
        n++;
        head_ = (head_ + 1) % q_.size();
        count_--;
    }
    stat_add(st.rx_packets, n);
    return n;
}

OOB_HOT void UdpSocket::tx_completed(uint64_t id, uint64_t queued_ns, uint64_t completed_ns) {
    c_.tx_completed++;
    SockStatsData &st = *stats_->data();
    stat_add(st.tx_completed);
    lat_add(st.send_complete, completed_ns - queued_ns);
    if (ts_q_.empty())
        return;
    if (ts_count_ == ts_q_.size()) {
        c_.tx_timestamps_dropped++;
        return;
    }
    ts_q_[(ts_head_ + ts_count_) % ts_q_.size()] = TxTimestamp{id, queued_ns, completed_ns};
    ts_count_++;
}

void UdpSocket::enable_tx_timestamps(size_t max) {
    ts_q_.assign(max ? max : 1, TxTimestamp{});
    ts_head_ = ts_count_ = 0;
}

size_t UdpSocket::tx_timestamps(TxTimestamp *out, size_t max) {
    if (stack_)
        stack_->complete();
    size_t n = 0;
    while (n < max && ts_count_) {
        out[n++] = ts_q_[ts_head_];
        ts_head_ = (ts_head_ + 1) % ts_q_.size();
        ts_count_--;
    }
    return n;
}

bool UdpSocket::read_inband() {
    if (inband_fd_ < 0 || !stack_)
        return false;
    Frame f = stack_->alloc(0);
    if (f.empty())
        return false;
    sockaddr_storage from{};
    char cbuf[CMSG_SPACE(sizeof(in6_pktinfo)) + CMSG_SPACE(sizeof(in_pktinfo))];
    iovec iov{f.data(), f.tailroom()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof(cbuf);
    ssize_t n = recvmsg(inband_fd_, &msg, MSG_DONTWAIT);
    if (n < 0)
        return false;
    if (msg.msg_flags & MSG_TRUNC) {
        // Larger than a frame (a datagram the kernel reassembled, say): not cut, dropped and
        // counted.
        c_.rx_inband_too_big++;
        return true;
    }
    f.put(static_cast<uint32_t>(n));
    f.info().polled_ns = fast_now_ns();
    Datagram d;
    d.remote = from_sockaddr(from);
    d.local.port = port_;
    d.local.addr = local_;
    for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            in_pktinfo pi;
            std::memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            d.local.addr = IpAddr::v4(reinterpret_cast<const uint8_t *>(&pi.ipi_addr));
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            in6_pktinfo pi;
            std::memcpy(&pi, CMSG_DATA(c), sizeof(pi));
            d.local.addr = IpAddr::v6(pi.ipi6_addr.s6_addr);
        }
    }
    d.inband = true;
    d.frame = std::move(f);
    c_.rx_inband++;
    stack_->c_.rx_inband++;
    return push(std::move(d));
}

OOB_HOT size_t UdpSocket::recv(Datagram *out, size_t max, Deadline dl, Wait w) {
    if (!stack_ || max == 0)
        return 0;
    for (;;) {
        if (size_t n = pop(out, max))
            return n;
        size_t got = stack_->poll();
        if (count_)
            continue;
        // The in-band twin is looked at on every wake-up when sleeping, and every 16384 spins
        // (about a millisecond) when busy: a system call per spin would cost the oob path its
        // latency.
        if (inband_fd_ >= 0 && (w == Wait::Sleep || (++spins_ & 16383) == 0) && read_inband() &&
            count_)
            continue;
        if (!dl.is_never() && dl.passed(fast_now_ns()))
            return 0;
        if (w == Wait::Sleep && !got)
            stack_->wait(dl, &inband_fd_, inband_fd_ >= 0 ? 1 : 0);
    }
}

OOB_HOT int UdpSocket::build(Frame &f, const Path &p, uint16_t dport, uint32_t &hlen) {
    return build_udp(f, p, port_, dport, tos_, stack_->ip_id_++, hlen);
}

int UdpSocket::send_inband(const Frame &f, const Endpoint &to, const IpAddr &from) {
    if (inband_fd_ < 0)
        return -ENOTCONN;
    int fam = socket_family(inband_fd_);
    if (fam == AF_INET && to.addr.is_v6())
        return -EAFNOSUPPORT;
    sockaddr_storage ss;
    socklen_t len = to_sockaddr(to, fam, ss);
    iovec iov{f.data(), f.len()};
    msghdr msg{};
    msg.msg_name = &ss;
    msg.msg_namelen = len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    // The source address the oob path would have used (a reply goes from where the request went).
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(in6_pktinfo))] = {};
    if (!from.any()) {
        msg.msg_control = cbuf;
        cmsghdr *c = reinterpret_cast<cmsghdr *>(cbuf);
        if (from.is_v4()) {
            in_pktinfo pi{};
            std::memcpy(&pi.ipi_spec_dst, from.data(), 4);
            c->cmsg_level = IPPROTO_IP;
            c->cmsg_type = IP_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof(pi));
            std::memcpy(CMSG_DATA(c), &pi, sizeof(pi));
            msg.msg_controllen = CMSG_SPACE(sizeof(pi));
        } else {
            in6_pktinfo pi{};
            std::memcpy(&pi.ipi6_addr, from.data(), 16);
            c->cmsg_level = IPPROTO_IPV6;
            c->cmsg_type = IPV6_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof(pi));
            std::memcpy(CMSG_DATA(c), &pi, sizeof(pi));
            msg.msg_controllen = CMSG_SPACE(sizeof(pi));
        }
    }
    if (sendmsg(inband_fd_, &msg, MSG_DONTWAIT) < 0)
        return -errno;
    return 0;
}

OOB_HOT int UdpSocket::send_one(Frame &f, const Endpoint &to, const IpAddr &from_arg, bool wake) {
    if (!stack_)
        return -ENOTCONN;
    if (f.empty())
        return -EINVAL;
    const IpAddr &from = from_arg.any() ? local_ : from_arg;
    const Path *p = nullptr;
    int rc = stack_->path(to.addr, from, p, tos_, mark_);
    if (rc) {
        if (rc == -ENETUNREACH)
            c_.route_misses++;
        else if (rc == -EHOSTUNREACH)
            c_.neigh_misses++;
        else if (rc == -EXDEV)
            c_.other_dev++;
        const bool miss = rc == -ENETUNREACH || rc == -EHOSTUNREACH || rc == -EXDEV;
        if (miss && stack_->cfg_.miss == MissPolicy::InBand) {
            int r2 = send_inband(f, to, from);
            if (r2 == 0) {
                c_.tx_inband++;
                stack_->c_.tx_inband++;
                f.reset();
                return 0;
            }
            stack_->c_.tx_inband_errors++;
            rc = r2 == -ENOTCONN ? rc : r2;
        }
        c_.tx_errors++;
        return rc;
    }
    uint32_t hlen = 0;
    const uint32_t payload = f.len();
    rc = build(f, *p, to.port, hlen);
    if (rc) {
        if (rc == -EMSGSIZE) {
            c_.tx_too_big++;
            // Above the path MTU: the oob path never fragments; the in-band stack does.
            if (stack_->cfg_.miss == MissPolicy::InBand && send_inband(f, to, from) == 0) {
                c_.tx_inband++;
                stack_->c_.tx_inband++;
                f.reset();
                return 0;
            }
        }
        c_.tx_errors++;
        return rc;
    }
    f.info().tx_owner = port_;
    f.info().tx_id = tx_seq_ + 1;
    rc = stack_->transmit(f, wake);
    if (rc) {
        f.pull(hlen);  // back to the caller as it came
        c_.tx_ring_full++;
        c_.tx_errors++;
        return rc;
    }
    tx_seq_++;
    stat_add(stats_->data()->tx_packets);
    c_.tx_packets++;
    c_.tx_bytes += payload;
    return 0;
}

OOB_HOT int UdpSocket::send_to(Frame &f, const Endpoint &to, const IpAddr &from) {
    return send_one(f, to, from, true);
}

OOB_HOT int UdpSocket::reply(Datagram &d) {
    return send_one(d.frame, d.remote, d.local.addr, true);
}

OOB_HOT size_t UdpSocket::send_batch(Frame *frames, const Endpoint *to, size_t n, int *err) {
    if (err)
        *err = 0;
    size_t i = 0;
    for (; i < n; i++) {
        int rc = send_one(frames[i], to[i], IpAddr{}, false);
        if (rc) {
            if (err)
                *err = rc;
            break;
        }
    }
    if (stack_)
        stack_->flush();
    return i;
}

OOB_HOT size_t UdpSocket::reply_batch(Datagram *d, size_t n) {
    size_t sent = 0;
    for (size_t i = 0; i < n; i++)
        if (send_one(d[i].frame, d[i].remote, d[i].local.addr, false) == 0)
            sent++;
    if (stack_)
        stack_->flush();
    return sent;
}

int UdpSocket::send_copy(const void *data, size_t len, const Endpoint &to, const IpAddr &from) {
    if (!stack_)
        return -ENOTCONN;
    Frame f = stack_->alloc(0);
    if (f.empty())
        return -ENOBUFS;
    uint8_t *p = f.put(static_cast<uint32_t>(len));
    if (!p)
        return -EMSGSIZE;
    std::memcpy(p, data, len);
    return send_to(f, to, from);
}

// ---- RawSocket ---------------------------------------------------------------------------

RawSocket::RawSocket(Stack &s, uint16_t ethertype)
    : stack_(&s), ethertype_(ethertype), q_(s.cfg_.socket_queue ? s.cfg_.socket_queue : 1) {}

RawSocket::~RawSocket() {
    if (stack_)
        stack_->unbind(this);
}

OOB_HOT bool RawSocket::push(Frame &&f) {
    if (count_ == q_.size()) {
        c_.rx_dropped++;
        return false;
    }
    c_.rx_packets++;
    c_.rx_bytes += f.len();
    q_[(head_ + count_) % q_.size()] = std::move(f);
    count_++;
    return true;
}

OOB_HOT size_t RawSocket::recv(Frame *out, size_t max, Deadline dl, Wait w) {
    if (!stack_ || max == 0)
        return 0;
    for (;;) {
        size_t n = 0;
        while (n < max && count_) {
            out[n++] = std::move(q_[head_]);
            head_ = (head_ + 1) % q_.size();
            count_--;
        }
        if (n)
            return n;
        size_t got = stack_->poll();
        if (count_)
            continue;
        if (!dl.is_never() && dl.passed(fast_now_ns()))
            return 0;
        if (w == Wait::Sleep && !got)
            stack_->wait(dl);
    }
}

OOB_HOT int RawSocket::send(Frame &f) {
    if (!stack_)
        return -ENOTCONN;
    const uint32_t len = f.len();
    int rc = stack_->transmit(f);
    if (rc) {
        c_.tx_errors++;
        return rc;
    }
    c_.tx_packets++;
    c_.tx_bytes += len;
    return 0;
}

OOB_HOT int RawSocket::send_to(Frame &f, const Mac &dst) {
    if (!stack_)
        return -ENOTCONN;
    uint32_t hlen = 0;
    if (int rc = push_eth(f, stack_->port().mac, dst, ethertype_, stack_->vid(), hlen); rc)
        return rc;
    int rc = send(f);
    if (rc)
        f.pull(hlen);
    return rc;
}

}  // namespace oobbpf::oob
