// SPDX-License-Identifier: MIT
#include "liboob/wire.h"
#include "hot.h"

#include "liboob/checksum.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>

namespace oobbpf::oob::wire {

namespace {

constexpr int kIp6MaxExt = 6;  // as the classifier (OOB_IP6_MAX_EXT)

uint16_t get16(const uint8_t *p) {
    return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

}  // namespace

const char *reject_name(Reject r) {
    switch (r) {
        case Reject::None:
            return "none";
        case Reject::TruncL2:
            return "trunc_l2";
        case Reject::VlanDepth:
            return "vlan_depth";
        case Reject::BadIp:
            return "bad_ip";
        case Reject::BadIpCsum:
            return "bad_ip_csum";
        case Reject::Fragment:
            return "fragment";
        case Reject::Ip6ExtLimit:
            return "ip6_ext_limit";
        case Reject::TruncL4:
            return "trunc_l4";
        case Reject::BadUdpCsum:
            return "bad_udp_csum";
        case Reject::NotUdp:
            return "not_udp";
        case Reject::Count:
            break;
    }
    return "?";
}

OOB_HOT Reject parse(const uint8_t *f, size_t len, Parsed &out, bool verify) {
    out = Parsed{};
    if (len < kEthLen)
        return Reject::TruncL2;
    uint16_t proto = get16(f + 12);
    size_t off = kEthLen;
    while (proto == kEth8021Q || proto == kEth8021AD) {
        if (out.ntags == 2)
            return Reject::VlanDepth;
        if (off + kVlanLen > len)
            return Reject::TruncL2;
        out.vid = get16(f + off) & 0x0fff;
        proto = get16(f + off + 2);
        out.ntags++;
        off += kVlanLen;
    }
    out.l3proto = proto;
    out.l3off = static_cast<uint16_t>(off);

    size_t l3end, l4off;
    if (proto == kEthIp) {
        if (off + kIp4Len > len)
            return Reject::BadIp;
        const uint8_t *ip = f + off;
        size_t hlen = static_cast<size_t>(ip[0] & 0xf) * 4, tot = get16(ip + 2);
        if ((ip[0] >> 4) != 4 || hlen < kIp4Len || tot < hlen || off + tot > len)
            return Reject::BadIp;
        out.family = AF_INET;
        if (verify && ip4_header_csum(ip, hlen) != 0)
            return Reject::BadIpCsum;
        out.l4proto = ip[9];
        out.src = ip + 12;
        out.dst = ip + 16;
        if (get16(ip + 6) & 0x3fff)  // MF or a fragment offset
            return Reject::Fragment;
        l4off = off + hlen;
        l3end = off + tot;
    } else if (proto == kEthIp6) {
        if (off + kIp6Len > len)
            return Reject::BadIp;
        const uint8_t *ip = f + off;
        l3end = off + kIp6Len + get16(ip + 4);
        if ((ip[0] >> 4) != 6 || l3end > len)
            return Reject::BadIp;
        out.family = AF_INET6;
        out.src = ip + 8;
        out.dst = ip + 24;
        uint8_t nh = ip[6];
        l4off = off + kIp6Len;
        int i = 0;
        for (; i < kIp6MaxExt; i++) {
            if (nh == 0 || nh == 43 || nh == 60) {  // hop-by-hop, routing, destination options
                if (l4off + 8 > l3end)
                    return Reject::BadIp;
                nh = f[l4off];
                l4off += (static_cast<size_t>(f[l4off + 1]) + 1) * 8;
            } else if (nh == 44) {
                return Reject::Fragment;
            } else {
                break;
            }
        }
        if (i == kIp6MaxExt)
            return Reject::Ip6ExtLimit;
        if (l4off > l3end)
            return Reject::BadIp;
        out.l4proto = nh;
    } else {
        return Reject::None;  // not IP: the raw path's business
    }

    out.l4off = static_cast<uint16_t>(l4off);
    if (out.l4proto != kProtoUdp)
        return Reject::NotUdp;
    if (l4off + kUdpLen > l3end)
        return Reject::TruncL4;
    const uint8_t *udp = f + l4off;
    size_t ulen = get16(udp + 4);
    if (ulen < kUdpLen || l4off + ulen > l3end)
        return Reject::TruncL4;
    if (verify) {
        uint16_t check;
        std::memcpy(&check, udp + 6, 2);
        if (check == 0) {
            // IPv4 allows "no checksum"; IPv6 does not (RFC 8200 8.1).
            if (out.family == AF_INET6)
                return Reject::BadUdpCsum;
            out.udp_csum_zero = true;
        } else {
            uint32_t s =
                out.family == AF_INET
                    ? pseudo_sum4(out.src, out.dst, kProtoUdp, static_cast<uint32_t>(ulen))
                    : pseudo_sum6(out.src, out.dst, kProtoUdp, static_cast<uint32_t>(ulen));
            if (csum_fold(csum_partial(udp, ulen, s)) != 0)
                return Reject::BadUdpCsum;
        }
    }
    out.sport = get16(udp);
    out.dport = get16(udp + 2);
    out.payload_off = static_cast<uint16_t>(l4off + kUdpLen);
    out.payload_len = static_cast<uint16_t>(ulen - kUdpLen);
    return Reject::None;
}

}  // namespace oobbpf::oob::wire
