// SPDX-License-Identifier: MIT
#include "liboob/addr.h"

#include "error.h"

#include <arpa/inet.h>

#include <cstdio>

namespace oobbpf::oob {

IpAddr IpAddr::v4(const uint8_t b[4]) {
    IpAddr a;
    a.family = AF_INET;
    std::memcpy(a.bytes.data(), b, 4);
    return a;
}

IpAddr IpAddr::v6(const uint8_t b[16]) {
    IpAddr a;
    a.family = AF_INET6;
    std::memcpy(a.bytes.data(), b, 16);
    return a;
}

std::optional<IpAddr> IpAddr::parse(const std::string &s) {
    IpAddr a;
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
        a.family = AF_INET;
        return a;
    }
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
        a.family = AF_INET6;
        return a;
    }
    return std::nullopt;
}

IpAddr IpAddr::from(const std::string &s) {
    auto a = parse(s);
    if (!a)
        throw Error("not an IPv4 or IPv6 address: " + s, EINVAL);
    return *a;
}

std::string IpAddr::str() const {
    if (any())
        return "*";
    char buf[INET6_ADDRSTRLEN];
    if (!inet_ntop(family, bytes.data(), buf, sizeof(buf)))
        return "?";
    return buf;
}

std::string Endpoint::str() const {
    if (addr.is_v6())
        return "[" + addr.str() + "]:" + std::to_string(port);
    return addr.str() + ":" + std::to_string(port);
}

std::string mac_str(const Mac &m) {
    char buf[18];
    std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                  m[5]);
    return buf;
}

}  // namespace oobbpf::oob
