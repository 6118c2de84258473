// SPDX-License-Identifier: MIT
#include "liboob/frame.h"

#include <cstring>

namespace oobbpf::oob {

FramePool::FramePool(uint8_t *area, uint32_t nframes, uint32_t frame_size, uint16_t owner)
    : area_(area), nframes_(nframes), frame_size_(frame_size), owner_(owner) {
    free_.reserve(nframes);
    // Highest first, so get() hands out chunk 0 first (tests read better that way).
    for (uint32_t i = nframes; i-- > 0;)
        free_.push_back(static_cast<uint64_t>(i) * frame_size);
}

bool read_xdp_meta(const Frame &f, oob_xdp_meta &out) {
    if (f.empty() || f.headroom() < sizeof(oob_xdp_meta))
        return false;
    std::memcpy(&out, f.data() - sizeof(oob_xdp_meta), sizeof(out));
    return out.classified_ns != 0;
}

}  // namespace oobbpf::oob
