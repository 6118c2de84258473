// SPDX-License-Identifier: MIT
// Addresses on the oob path: IPv4/IPv6 addresses as network-order bytes, UDP endpoints, MACs.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

namespace oobbpf::oob {

struct IpAddr {
    uint8_t family = 0;  // AF_INET or AF_INET6; 0: none ("any")
    uint8_t pad[3] = {};
    std::array<uint8_t, 16> bytes{};  // network order; IPv4 in bytes[0..3], the rest zero

    static IpAddr v4(const uint8_t b[4]);
    static IpAddr v6(const uint8_t b[16]);
    // "10.0.0.1" or "fd00::1"; nullopt when it is neither.
    static std::optional<IpAddr> parse(const std::string &s);
    // As parse(), but throws oobbpf::Error.
    static IpAddr from(const std::string &s);

    bool any() const { return family == 0; }
    bool is_v4() const { return family == AF_INET; }
    bool is_v6() const { return family == AF_INET6; }
    size_t size() const { return family == AF_INET6 ? 16 : 4; }
    const uint8_t *data() const { return bytes.data(); }
    std::string str() const;
    bool operator==(const IpAddr &o) const { return family == o.family && bytes == o.bytes; }
};

struct Endpoint {
    IpAddr addr;
    uint16_t port = 0;  // host order
    std::string str() const;
    bool operator==(const Endpoint &o) const { return addr == o.addr && port == o.port; }
};

using Mac = std::array<uint8_t, 6>;
std::string mac_str(const Mac &m);

}  // namespace oobbpf::oob
