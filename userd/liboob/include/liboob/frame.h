// SPDX-License-Identifier: MIT
// Frames: an sk_buff-like view of one UMEM chunk. The bytes stay where the kernel wrote them (or
// where they will be sent from): headers are pushed into the headroom in front of the data and
// pulled off it, payload is put at the tail and trimmed, and nothing is copied between the ring
// and the application. A Frame owns its chunk: destroying it gives the chunk back to its pool.
//
//   chunk                 data()              data()+len()                 chunk+frame_size
//   |<---- headroom() ---->|<------ len() ------>|<-------- tailroom() -------->|
//
// Header offsets (l2/l3/l4, like sk_buff's mac/network/transport headers) are kept from the
// chunk start, so they survive pull() and push().
#pragma once

#include <oobbpf/abi.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace oobbpf::oob {

// The chunks of one UMEM area: a free list of chunk addresses (offsets into the area).
// Not thread-safe: a pool belongs to one queue, driven by one thread.
class FramePool {
  public:
    // area must hold nframes * frame_size bytes; frame_size is a power of two (aligned mode).
    FramePool(uint8_t *area, uint32_t nframes, uint32_t frame_size, uint16_t owner = 0);
    FramePool(const FramePool &) = delete;
    FramePool &operator=(const FramePool &) = delete;

    uint8_t *area() const { return area_; }
    uint32_t frame_size() const { return frame_size_; }
    uint32_t nframes() const { return nframes_; }
    uint16_t owner() const { return owner_; }  // the queue index this pool belongs to
    size_t available() const { return free_.size(); }

    bool get(uint64_t &chunk) {
        if (free_.empty())
            return false;
        chunk = free_.back();
        free_.pop_back();
        return true;
    }
    void put(uint64_t chunk) { free_.push_back(chunk); }
    uint64_t chunk_of(uint64_t addr) const {
        return addr & ~static_cast<uint64_t>(frame_size_ - 1);
    }
    uint32_t index_of(uint64_t addr) const { return static_cast<uint32_t>(addr / frame_size_); }

  private:
    uint8_t *area_;
    uint32_t nframes_, frame_size_;
    uint16_t owner_;
    std::vector<uint64_t> free_;
};

// What liboob knows of a received frame besides its bytes.
// Times are CLOCK_MONOTONIC nanoseconds (clock.h), the clock of the classifier's stamp.
struct FrameInfo {
    uint64_t classified_ns = 0;  // classifier stamp (struct oob_xdp_meta); 0 when absent
    uint64_t polled_ns = 0;      // when liboob took it off the RX ring
    uint64_t delivered_ns = 0;   // when a recv() handed it to the application
    uint64_t tx_id = 0;          // sends: the socket's id of this frame (UdpSocket::last_tx_id)
    uint16_t tx_owner = 0;       // sends: the UDP port of the sending socket (0: none)
    uint32_t rule_id = 0;        // from the classifier's metadata
    uint16_t port_id = 0;
    uint16_t reason = 0;
    uint16_t vid = 0;  // VLAN of arrival, 0 untagged
    bool has_meta = false;
};

class Frame {
  public:
    static constexpr uint16_t kUnset = 0xffff;

    Frame() = default;
    // Takes ownership of chunk (a chunk address of pool); data at chunk + off, len bytes.
    Frame(FramePool *pool, uint64_t chunk, uint32_t off, uint32_t len)
        : pool_(pool),
          chunk_(chunk),
          off_(static_cast<uint16_t>(off)),
          len_(static_cast<uint16_t>(len)) {}
    ~Frame() { reset(); }
    Frame(Frame &&o) noexcept { take(o); }
    Frame &operator=(Frame &&o) noexcept {
        if (this != &o) {
            reset();
            take(o);
        }
        return *this;
    }
    Frame(const Frame &) = delete;
    Frame &operator=(const Frame &) = delete;

    bool empty() const { return pool_ == nullptr; }
    explicit operator bool() const { return pool_ != nullptr; }
    // Gives the chunk back to its pool.
    void reset() {
        if (pool_)
            pool_->put(chunk_);
        pool_ = nullptr;
    }

    uint8_t *chunk_ptr() const { return pool_->area() + chunk_; }
    uint8_t *data() const { return chunk_ptr() + off_; }
    uint32_t len() const { return len_; }
    uint32_t headroom() const { return off_; }
    uint32_t tailroom() const { return pool_->frame_size() - off_ - len_; }
    uint32_t capacity() const { return pool_->frame_size(); }

    // Grows the data at the front by n bytes (a header goes there); nullptr when no headroom.
    uint8_t *push(uint32_t n) {
        if (n > off_)
            return nullptr;
        off_ = static_cast<uint16_t>(off_ - n);
        len_ = static_cast<uint16_t>(len_ + n);
        return data();
    }
    // Removes n bytes from the front (a header was consumed); nullptr when shorter than n.
    uint8_t *pull(uint32_t n) {
        if (n > len_)
            return nullptr;
        off_ = static_cast<uint16_t>(off_ + n);
        len_ = static_cast<uint16_t>(len_ - n);
        return data();
    }
    // Grows the data at the tail by n bytes; returns where they start, nullptr when no room.
    uint8_t *put(uint32_t n) {
        if (n > tailroom())
            return nullptr;
        uint8_t *p = data() + len_;
        len_ = static_cast<uint16_t>(len_ + n);
        return p;
    }
    // Cuts the data to len bytes (never grows).
    bool trim(uint32_t len) {
        if (len > len_)
            return false;
        len_ = static_cast<uint16_t>(len);
        return true;
    }
    // Moves the start of an empty frame: headroom becomes n.
    bool reserve(uint32_t n) {
        if (len_ != 0 || n > capacity())
            return false;
        off_ = static_cast<uint16_t>(n);
        return true;
    }

    // Header offsets, recorded at the current data() position.
    void mark_l2() { l2_ = off_; }
    void mark_l3() { l3_ = off_; }
    void mark_l4() { l4_ = off_; }
    void set_offsets(uint16_t l2, uint16_t l3, uint16_t l4) {
        l2_ = l2;
        l3_ = l3;
        l4_ = l4;
    }
    uint8_t *l2() const { return l2_ == kUnset ? nullptr : chunk_ptr() + l2_; }
    uint8_t *l3() const { return l3_ == kUnset ? nullptr : chunk_ptr() + l3_; }
    uint8_t *l4() const { return l4_ == kUnset ? nullptr : chunk_ptr() + l4_; }
    uint16_t l2_off() const { return l2_; }
    uint16_t l3_off() const { return l3_; }
    uint16_t l4_off() const { return l4_; }

    FrameInfo &info() { return info_; }
    const FrameInfo &info() const { return info_; }
    FramePool *pool() const { return pool_; }
    uint16_t queue() const { return pool_ ? pool_->owner() : 0; }
    // UMEM address of data(): what a ring descriptor carries.
    uint64_t umem_addr() const { return chunk_ + off_; }
    uint64_t chunk() const { return chunk_; }
    // Gives up ownership without returning the chunk (it went onto a ring).
    void release() { pool_ = nullptr; }

  private:
    void take(Frame &o) {
        pool_ = std::exchange(o.pool_, nullptr);
        chunk_ = o.chunk_;
        off_ = o.off_;
        len_ = o.len_;
        l2_ = o.l2_;
        l3_ = o.l3_;
        l4_ = o.l4_;
        info_ = o.info_;
    }

    FramePool *pool_ = nullptr;
    uint64_t chunk_ = 0;
    uint16_t off_ = 0, len_ = 0;
    uint16_t l2_ = kUnset, l3_ = kUnset, l4_ = kUnset;
    FrameInfo info_;
};

// Reads the bytes in front of a frame's data as the classifier's struct oob_xdp_meta; false when
// there is no room or the stamp is 0. It cannot tell a stale stamp of a chunk's previous frame:
// received frames carry the checked metadata in info() (XskQueue::rx compares the stamp with the
// time the chunk went onto the fill ring).
bool read_xdp_meta(const Frame &f, oob_xdp_meta &out);

}  // namespace oobbpf::oob
