// SPDX-License-Identifier: MIT
// A small frame builder for tests: Ethernet, 802.1Q/802.1ad tags, IPv4 (options, fragments),
// IPv6 (extension headers), UDP, TCP, ICMP/ICMPv6, with correct lengths and checksums unless a
// test asks for a lie. Frames are plain byte vectors.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace oobbpf::test {

using Bytes = std::vector<uint8_t>;

struct Frame {
    uint8_t dst_mac[6] = {0x02, 0, 0, 0, 0, 0x02};
    uint8_t src_mac[6] = {0x02, 0, 0, 0, 0, 0x01};
    std::vector<std::pair<uint16_t, uint16_t>> tags;  // (TPID, TCI), outermost first
    uint16_t ethertype = 0x0800;
    Bytes l3;  // everything after the tags
    Bytes build() const;
};

// IPv4 header + payload. addr "a.b.c.d".
struct Ip4 {
    std::string src = "10.0.0.1", dst = "10.0.0.2";
    uint8_t proto = 17, tos = 0, ttl = 64;
    uint16_t frag = 0;  // flags+offset field (host order): 0x2000 MF, low 13 bits offset/8
    Bytes options;      // multiple of 4
    int ihl_override = -1, totlen_delta = 0;
    Bytes build(const Bytes &payload) const;
};

struct Ip6 {
    std::string src = "fd00::1", dst = "fd00::2";
    uint8_t next = 17, hop = 64, tclass = 0;
    // Extension headers as (type, body); body gets next-header and length filled in.
    std::vector<std::pair<uint8_t, Bytes>> ext;
    int plen_delta = 0;
    Bytes build(const Bytes &payload) const;
};

// UDP with checksum over the pseudo header of src/dst (IPv4 when v6 is false).
Bytes udp(uint16_t sport, uint16_t dport, const Bytes &payload, const std::string &src = "",
          const std::string &dst = "", bool v6 = false, int len_delta = 0);
Bytes tcp(uint16_t sport, uint16_t dport, uint8_t doff = 5);
Bytes icmp(uint8_t type, uint8_t code = 0, size_t body = 8);

// Convenience: whole frames.
Bytes udp4(const std::string &src, const std::string &dst, uint16_t sport, uint16_t dport,
           size_t payload = 16, const std::vector<uint16_t> &vids = {});
Bytes udp6(const std::string &src, const std::string &dst, uint16_t sport, uint16_t dport,
           size_t payload = 16, const std::vector<uint16_t> &vids = {});
Bytes tcp4(const std::string &src, const std::string &dst, uint16_t sport, uint16_t dport);
Bytes arp_request(const std::string &sender, const std::string &target,
                  const std::vector<uint16_t> &vids = {});

uint16_t inet_csum(const uint8_t *p, size_t n, uint32_t seed = 0);
Bytes truncate(Bytes b, size_t n);

}  // namespace oobbpf::test
