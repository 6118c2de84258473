// SPDX-License-Identifier: MIT
// Building headers in a frame's headroom: what a send does once it has its path.
#pragma once

#include "liboob/addr.h"
#include "liboob/frame.h"

#include <cstdint>

namespace oobbpf::oob {

// A resolved egress: everything a header needs.
struct Path {
    IpAddr src, dst, next_hop;
    Mac src_mac{}, dst_mac{};
    uint32_t oif = 0, lower_ifindex = 0;
    uint16_t vid = 0;  // 802.1Q tag to push, 0 none
    uint32_t mtu = 0;  // IP datagrams above it are refused (the oob path never fragments)
    uint64_t resolved_ns = 0;
};

// Pushes Ethernet (+ 802.1Q when p.vid), IPv4 or IPv6 (by p.dst's family) and UDP headers in
// front of f's data (the payload), with complete checksums: the IPv4 header checksum and the
// UDP checksum over the pseudo header, never 0 (a computed 0 is sent as 0xffff). IPv4 goes with
// DF set and the given id. Sets the frame's l2/l3/l4 offsets and hlen to the header length.
// 0, or -EMSGSIZE (above p.mtu or UDP's 64 KiB), -ENOSPC (headroom too small); f is unchanged
// on failure.
int build_udp(Frame &f, const Path &p, uint16_t sport, uint16_t dport, uint8_t tos, uint16_t ip_id,
              uint32_t &hlen);

// Pushes an Ethernet header (+ 802.1Q when vid) for ethertype (host order). 0 or -ENOSPC.
int push_eth(Frame &f, const Mac &src, const Mac &dst, uint16_t ethertype, uint16_t vid,
             uint32_t &hlen);

}  // namespace oobbpf::oob
