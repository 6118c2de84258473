// SPDX-License-Identifier: MIT
#include "liboob/checksum.h"
#include "hot.h"

#include <arpa/inet.h>

#include <cstring>

namespace oobbpf::oob {

OOB_HOT uint32_t csum_partial(const void *p, size_t len, uint32_t sum) {
    const auto *b = static_cast<const uint8_t *>(p);
    uint64_t s = sum;
    // Two 32-bit halves per 8-byte load: each addition stays below 2^33, so a 64-bit
    // accumulator cannot overflow for any frame size.
    while (len >= 32) {
        uint64_t w[4];
        std::memcpy(w, b, 32);
        s += (w[0] & 0xffffffffU) + (w[0] >> 32) + (w[1] & 0xffffffffU) + (w[1] >> 32) +
             (w[2] & 0xffffffffU) + (w[2] >> 32) + (w[3] & 0xffffffffU) + (w[3] >> 32);
        b += 32;
        len -= 32;
    }
    while (len >= 4) {
        uint32_t w;
        std::memcpy(&w, b, 4);
        s += w;
        b += 4;
        len -= 4;
    }
    if (len >= 2) {
        uint16_t w;
        std::memcpy(&w, b, 2);
        s += w;
        b += 2;
        len -= 2;
    }
    if (len) {
        // An odd last byte is the first byte of a 16-bit word whose second byte is zero.
        uint8_t pad[2] = {b[0], 0};
        uint16_t w;
        std::memcpy(&w, pad, 2);
        s += w;
    }
    while (s >> 32)
        s = (s & 0xffffffffU) + (s >> 32);
    return static_cast<uint32_t>(s);
}

OOB_HOT uint32_t pseudo_sum4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint32_t len) {
    uint32_t s = csum_partial(src, 4);
    s = csum_partial(dst, 4, s);
    return csum_add(s, static_cast<uint32_t>(htons(proto)) + htons(static_cast<uint16_t>(len)));
}

OOB_HOT uint32_t pseudo_sum6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t len) {
    uint32_t s = csum_partial(src, 16);
    s = csum_partial(dst, 16, s);
    uint32_t be_len = htonl(len), be_proto = htonl(proto);
    s = csum_partial(&be_len, 4, s);
    return csum_partial(&be_proto, 4, s);
}

}  // namespace oobbpf::oob
