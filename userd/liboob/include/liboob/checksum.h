// SPDX-License-Identifier: MIT
// Internet checksums (RFC 1071). Sums are taken over native-order 16-bit words: the one's
// complement sum does not depend on byte order, so the folded result is stored as is.
#pragma once

#include <cstddef>
#include <cstdint>

namespace oobbpf::oob {

// Adds len bytes at p (starting at an even offset of the checksummed region) to a partial sum.
uint32_t csum_partial(const void *p, size_t len, uint32_t sum = 0);

// Adds two partial sums.
inline uint32_t csum_add(uint32_t a, uint32_t b) {
    uint64_t s = static_cast<uint64_t>(a) + b;
    return static_cast<uint32_t>((s & 0xffffffffU) + (s >> 32));
}

// Folds a partial sum to 16 bits and complements it: the value to store in a header.
inline uint16_t csum_fold(uint32_t sum) {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(~sum);
}

// Pseudo-header sums (addresses in network order as bytes; proto and len in host order).
uint32_t pseudo_sum4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint32_t len);
uint32_t pseudo_sum6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto, uint32_t len);

// The IPv4 header checksum of hdr (ihl*4 bytes, checksum field included in the sum: write 0
// first when computing, or check the result is 0 when verifying).
inline uint16_t ip4_header_csum(const void *hdr, size_t len) {
    return csum_fold(csum_partial(hdr, len));
}

}  // namespace oobbpf::oob
