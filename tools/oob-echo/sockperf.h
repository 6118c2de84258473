// SPDX-License-Identifier: MIT
// sockperf's message header (sockperf 3.x, src/message.h), in network byte order at the start
// of every datagram: u64 sequence number, u16 flags, u32 message length. Flags: 1 client,
// 2 pong request, 4 warm-up. A sockperf server answers the client messages that ask for a pong
// (ping-pong: all of them; under-load: one in N), and not the warm-ups; the answer is the
// request with the client bit cleared, everything else unchanged.
#pragma once

#include <cstddef>
#include <cstdint>

namespace oobbpf::tools {

constexpr size_t kSockperfHeader = 14;
constexpr uint16_t kSockperfClient = 1, kSockperfPong = 2, kSockperfWarmup = 4;

// Turns a request into its answer in place; false when the message gets no answer.
inline bool sockperf_answer(uint8_t *msg, size_t len) {
    if (len < kSockperfHeader)
        return false;
    const uint16_t flags = static_cast<uint16_t>((msg[8] << 8) | msg[9]);
    if (!(flags & kSockperfClient) || (flags & kSockperfWarmup) || !(flags & kSockperfPong))
        return false;
    msg[9] = static_cast<uint8_t>(msg[9] & ~kSockperfClient);  // low byte of the big-endian u16
    return true;
}

}  // namespace oobbpf::tools
