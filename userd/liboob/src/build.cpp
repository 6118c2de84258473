// SPDX-License-Identifier: MIT
#include "liboob/build.h"
#include "hot.h"

#include "liboob/checksum.h"
#include "liboob/wire.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>

namespace oobbpf::oob {

OOB_HOT int build_udp(Frame &f, const Path &p, uint16_t sport, uint16_t dport, uint8_t tos, uint16_t ip_id,
              uint32_t &hlen) {
    const bool v6 = p.dst.is_v6();
    const uint32_t payload = f.len();
    const uint32_t iphl = v6 ? wire::kIp6Len : wire::kIp4Len;
    const uint32_t udplen = wire::kUdpLen + payload;
    if (iphl + udplen > p.mtu || udplen > 0xffff)
        return -EMSGSIZE;
    const uint32_t l2len = static_cast<uint32_t>(wire::kEthLen + (p.vid ? wire::kVlanLen : 0));
    hlen = l2len + iphl + static_cast<uint32_t>(wire::kUdpLen);
    uint8_t *h = f.push(hlen);
    if (!h)
        return -ENOSPC;
    const uint16_t l2off = static_cast<uint16_t>(f.headroom());
    f.set_offsets(l2off, static_cast<uint16_t>(l2off + l2len),
                  static_cast<uint16_t>(l2off + l2len + iphl));

    wire::Udp udp{};
    udp.sport = htons(sport);
    udp.dport = htons(dport);
    udp.len = htons(static_cast<uint16_t>(udplen));
    udp.check = 0;
    uint8_t *udp_at = h + l2len + iphl;
    std::memcpy(udp_at, &udp, sizeof(udp));
    uint32_t sum;
    uint16_t proto;
    if (v6) {
        wire::Ip6 ip{};
        ip.ver_tc_flow = htonl((6U << 28) | (static_cast<uint32_t>(tos) << 20));
        ip.plen = htons(static_cast<uint16_t>(udplen));
        ip.next = wire::kProtoUdp;
        ip.hop = 64;
        std::memcpy(ip.src, p.src.data(), 16);
        std::memcpy(ip.dst, p.dst.data(), 16);
        sum = pseudo_sum6(ip.src, ip.dst, wire::kProtoUdp, udplen);
        std::memcpy(h + l2len, &ip, sizeof(ip));
        proto = wire::kEthIp6;
    } else {
        wire::Ip4 ip{};
        ip.ver_ihl = 0x45;
        ip.tos = tos;
        ip.tot_len = htons(static_cast<uint16_t>(wire::kIp4Len + udplen));
        ip.id = htons(ip_id);
        ip.frag_off = htons(0x4000);  // DF: the oob path never fragments
        ip.ttl = 64;
        ip.proto = wire::kProtoUdp;
        ip.check = 0;
        std::memcpy(ip.src, p.src.data(), 4);
        std::memcpy(ip.dst, p.dst.data(), 4);
        ip.check = ip4_header_csum(&ip, sizeof(ip));
        sum = pseudo_sum4(ip.src, ip.dst, wire::kProtoUdp, udplen);
        std::memcpy(h + l2len, &ip, sizeof(ip));
        proto = wire::kEthIp;
    }
    uint16_t check = csum_fold(csum_partial(udp_at, udplen, sum));
    // 0 means "no checksum" over IPv4 and is invalid over IPv6: a computed 0 goes out as 0xffff.
    if (!check)
        check = 0xffff;
    std::memcpy(udp_at + 6, &check, 2);

    wire::Eth eth{};
    std::memcpy(eth.dst, p.dst_mac.data(), 6);
    std::memcpy(eth.src, p.src_mac.data(), 6);
    if (p.vid) {
        wire::Vlan tag{htons(p.vid), htons(proto)};
        std::memcpy(h + wire::kEthLen, &tag, sizeof(tag));
        proto = wire::kEth8021Q;
    }
    eth.proto = htons(proto);
    std::memcpy(h, &eth, sizeof(eth));
    return 0;
}

OOB_HOT int push_eth(Frame &f, const Mac &src, const Mac &dst, uint16_t ethertype, uint16_t vid,
             uint32_t &hlen) {
    hlen = static_cast<uint32_t>(wire::kEthLen + (vid ? wire::kVlanLen : 0));
    uint8_t *h = f.push(hlen);
    if (!h)
        return -ENOSPC;
    const uint16_t l2off = static_cast<uint16_t>(f.headroom());
    f.set_offsets(l2off, static_cast<uint16_t>(l2off + hlen), Frame::kUnset);
    wire::Eth eth{};
    std::memcpy(eth.dst, dst.data(), 6);
    std::memcpy(eth.src, src.data(), 6);
    eth.proto = htons(ethertype);
    if (vid) {
        wire::Vlan tag{htons(vid), htons(ethertype)};
        std::memcpy(h + wire::kEthLen, &tag, sizeof(tag));
        eth.proto = htons(wire::kEth8021Q);
    }
    std::memcpy(h, &eth, sizeof(eth));
    return 0;
}

}  // namespace oobbpf::oob
