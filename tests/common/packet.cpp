// SPDX-License-Identifier: MIT
#include "packet.h"

#include <arpa/inet.h>

#include <stdexcept>

namespace oobbpf::test {

namespace {

void put16(Bytes &b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}

Bytes addr4(const std::string &s) {
    Bytes b(4);
    if (inet_pton(AF_INET, s.c_str(), b.data()) != 1)
        throw std::invalid_argument("bad IPv4 address " + s);
    return b;
}

Bytes addr6(const std::string &s) {
    Bytes b(16);
    if (inet_pton(AF_INET6, s.c_str(), b.data()) != 1)
        throw std::invalid_argument("bad IPv6 address " + s);
    return b;
}

uint32_t sum(const uint8_t *p, size_t n, uint32_t s) {
    for (size_t i = 0; i + 1 < n; i += 2)
        s += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    if (n & 1)
        s += static_cast<uint32_t>(p[n - 1] << 8);
    return s;
}

}  // namespace

uint16_t inet_csum(const uint8_t *p, size_t n, uint32_t seed) {
    uint32_t s = sum(p, n, seed);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
}

Bytes Frame::build() const {
    Bytes b(dst_mac, dst_mac + 6);
    b.insert(b.end(), src_mac, src_mac + 6);
    for (auto [tpid, tci] : tags) {
        put16(b, tpid);
        put16(b, tci);
    }
    put16(b, ethertype);
    b.insert(b.end(), l3.begin(), l3.end());
    return b;
}

Bytes Ip4::build(const Bytes &payload) const {
    const size_t hlen = 20 + options.size();
    Bytes h;
    int ihl = ihl_override >= 0 ? ihl_override : static_cast<int>(hlen / 4);
    h.push_back(static_cast<uint8_t>(0x40 | (ihl & 0xf)));
    h.push_back(tos);
    put16(h, static_cast<uint16_t>(static_cast<int>(hlen + payload.size()) + totlen_delta));
    put16(h, 0x1234);
    put16(h, frag);
    h.push_back(ttl);
    h.push_back(proto);
    put16(h, 0);
    Bytes s = addr4(src), d = addr4(dst);
    h.insert(h.end(), s.begin(), s.end());
    h.insert(h.end(), d.begin(), d.end());
    h.insert(h.end(), options.begin(), options.end());
    uint16_t c = inet_csum(h.data(), h.size());
    h[10] = static_cast<uint8_t>(c >> 8);
    h[11] = static_cast<uint8_t>(c);
    h.insert(h.end(), payload.begin(), payload.end());
    return h;
}

Bytes Ip6::build(const Bytes &payload) const {
    Bytes exts;
    uint8_t first = ext.empty() ? next : ext[0].first;
    for (size_t i = 0; i < ext.size(); i++) {
        uint8_t nh = i + 1 < ext.size() ? ext[i + 1].first : next;
        Bytes body = ext[i].second;
        Bytes e{nh, 0};
        e.insert(e.end(), body.begin(), body.end());
        if (ext[i].first == 51) {  // AH: length in 4-octet units minus 2
            while (e.size() % 4)
                e.push_back(0);
            e[1] = static_cast<uint8_t>(e.size() / 4 - 2);
        } else if (ext[i].first == 44) {  // fragment: fixed 8 bytes, body is offset/flags
            e.resize(8);
            e[1] = 0;
        } else {
            while (e.size() % 8)
                e.push_back(0);
            e[1] = static_cast<uint8_t>(e.size() / 8 - 1);
        }
        exts.insert(exts.end(), e.begin(), e.end());
    }
    Bytes h;
    h.push_back(static_cast<uint8_t>(0x60 | (tclass >> 4)));
    h.push_back(static_cast<uint8_t>((tclass & 0xf) << 4));
    put16(h, 0);
    put16(h, static_cast<uint16_t>(static_cast<int>(exts.size() + payload.size()) + plen_delta));
    h.push_back(first);
    h.push_back(hop);
    Bytes s = addr6(src), d = addr6(dst);
    h.insert(h.end(), s.begin(), s.end());
    h.insert(h.end(), d.begin(), d.end());
    h.insert(h.end(), exts.begin(), exts.end());
    h.insert(h.end(), payload.begin(), payload.end());
    return h;
}

Bytes udp(uint16_t sport, uint16_t dport, const Bytes &payload, const std::string &src,
          const std::string &dst, bool v6, int len_delta) {
    Bytes u;
    put16(u, sport);
    put16(u, dport);
    put16(u, static_cast<uint16_t>(static_cast<int>(8 + payload.size()) + len_delta));
    put16(u, 0);
    u.insert(u.end(), payload.begin(), payload.end());
    if (!src.empty()) {
        Bytes ph = v6 ? addr6(src) : addr4(src);
        Bytes d = v6 ? addr6(dst) : addr4(dst);
        ph.insert(ph.end(), d.begin(), d.end());
        put16(ph, 17);
        put16(ph, static_cast<uint16_t>(u.size()));
        uint16_t c = inet_csum(u.data(), u.size(), sum(ph.data(), ph.size(), 0));
        if (c == 0)
            c = 0xffff;
        u[6] = static_cast<uint8_t>(c >> 8);
        u[7] = static_cast<uint8_t>(c);
    }
    return u;
}

Bytes tcp(uint16_t sport, uint16_t dport, uint8_t doff) {
    Bytes t;
    put16(t, sport);
    put16(t, dport);
    t.resize(20, 0);
    t[12] = static_cast<uint8_t>(doff << 4);
    t[13] = 0x02;  // SYN
    t.resize(std::max<size_t>(20, doff * 4u), 0);
    return t;
}

Bytes icmp(uint8_t type, uint8_t code, size_t body) {
    Bytes b{type, code, 0, 0};
    b.resize(4 + body, 0);
    return b;
}

static Bytes with_tags(uint16_t ethertype, const Bytes &l3, const std::vector<uint16_t> &vids) {
    Frame f;
    f.ethertype = ethertype;
    for (size_t i = 0; i < vids.size(); i++)
        f.tags.push_back({i + 1 < vids.size() ? 0x88a8 : 0x8100, vids[i]});
    f.l3 = l3;
    return f.build();
}

Bytes udp4(const std::string &src, const std::string &dst, uint16_t sport, uint16_t dport,
           size_t payload, const std::vector<uint16_t> &vids) {
    Ip4 ip;
    ip.src = src;
    ip.dst = dst;
    return with_tags(0x0800, ip.build(udp(sport, dport, Bytes(payload, 0xab), src, dst)), vids);
}

Bytes udp6(const std::string &src, const std::string &dst, uint16_t sport, uint16_t dport,
           size_t payload, const std::vector<uint16_t> &vids) {
    Ip6 ip;
    ip.src = src;
    ip.dst = dst;
    return with_tags(0x86dd, ip.build(udp(sport, dport, Bytes(payload, 0xab), src, dst, true)),
                     vids);
}

Bytes tcp4(const std::string &src, const std::string &dst, uint16_t sport, uint16_t dport) {
    Ip4 ip;
    ip.src = src;
    ip.dst = dst;
    ip.proto = 6;
    return with_tags(0x0800, ip.build(tcp(sport, dport)), {});
}

Bytes arp_request(const std::string &sender, const std::string &target,
                  const std::vector<uint16_t> &vids) {
    Bytes a{0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 1};
    Bytes s = addr4(sender), t = addr4(target);
    a.insert(a.end(), s.begin(), s.end());
    a.insert(a.end(), 6, 0);
    a.insert(a.end(), t.begin(), t.end());
    return with_tags(0x0806, a, vids);
}

Bytes truncate(Bytes b, size_t n) {
    if (n < b.size())
        b.resize(n);
    return b;
}

}  // namespace oobbpf::test
