// SPDX-License-Identifier: MIT
// Header layouts as they sit in a frame (network byte order, packed), and the frame parser
// shared by the receive path and the tests.
#pragma once

#include <cstddef>
#include <cstdint>

namespace oobbpf::oob::wire {

constexpr uint16_t kEthIp = 0x0800, kEthIp6 = 0x86dd, kEthArp = 0x0806, kEth8021Q = 0x8100,
                   kEth8021AD = 0x88a8;
constexpr uint8_t kProtoUdp = 17, kProtoIcmp = 1, kProtoIcmp6 = 58;
constexpr size_t kEthLen = 14, kVlanLen = 4, kIp4Len = 20, kIp6Len = 40, kUdpLen = 8;

struct __attribute__((packed)) Eth {
    uint8_t dst[6];
    uint8_t src[6];
    uint16_t proto;
};
struct __attribute__((packed)) Vlan {
    uint16_t tci;
    uint16_t proto;
};
struct __attribute__((packed)) Ip4 {
    uint8_t ver_ihl;
    uint8_t tos;
    uint16_t tot_len;
    uint16_t id;
    uint16_t frag_off;
    uint8_t ttl;
    uint8_t proto;
    uint16_t check;
    uint8_t src[4];
    uint8_t dst[4];
};
struct __attribute__((packed)) Ip6 {
    uint32_t ver_tc_flow;
    uint16_t plen;
    uint8_t next;
    uint8_t hop;
    uint8_t src[16];
    uint8_t dst[16];
};
struct __attribute__((packed)) Udp {
    uint16_t sport;
    uint16_t dport;
    uint16_t len;
    uint16_t check;
};
static_assert(sizeof(Eth) == kEthLen && sizeof(Vlan) == kVlanLen && sizeof(Ip4) == kIp4Len &&
              sizeof(Ip6) == kIp6Len && sizeof(Udp) == kUdpLen);

// Why a received frame was not delivered (also the index of its counter).
enum class Reject : uint8_t {
    None = 0,
    TruncL2,      // shorter than its Ethernet and VLAN headers
    VlanDepth,    // more than two tags
    BadIp,        // version, header length or total length lies
    BadIpCsum,    // IPv4 header checksum wrong
    Fragment,     // an IPv4 or IPv6 fragment: not reassembled (docs/liboob.md)
    Ip6ExtLimit,  // extension header chain longer than the parser walks
    TruncL4,      // UDP header or length past the datagram
    BadUdpCsum,   // UDP checksum wrong (or zero over IPv6)
    NotUdp,       // IP but neither UDP
    Count
};
const char *reject_name(Reject r);

// What the parser found in a frame. Offsets are from the frame's first byte.
struct Parsed {
    uint16_t l3off = 0, l4off = 0, payload_off = 0;
    uint16_t l3proto = 0;  // host order, after the tags
    uint16_t vid = 0;      // innermost VID, 0 untagged
    uint8_t ntags = 0;
    uint8_t family = 0;  // AF_INET, AF_INET6 or 0 (not IP)
    uint8_t l4proto = 0;
    bool udp_csum_zero = false;  // IPv4 datagram sent without UDP checksum
    uint16_t payload_len = 0;
    uint16_t sport = 0, dport = 0;                 // host order
    const uint8_t *src = nullptr, *dst = nullptr;  // into the frame
};

// Parses Ethernet, up to two VLAN tags, IPv4/IPv6 and UDP, and verifies the IPv4 header and UDP
// checksums when verify is set. A non-IP frame parses fine (family 0) for the raw path.
Reject parse(const uint8_t *f, size_t len, Parsed &out, bool verify);

}  // namespace oobbpf::oob::wire
