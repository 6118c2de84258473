// SPDX-License-Identifier: MIT
#include "liboob/xsk.h"
#include "hot.h"

#include "error.h"

#include <linux/if_xdp.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <cstring>

#ifndef SO_PREFER_BUSY_POLL
#define SO_PREFER_BUSY_POLL 69
#endif
#ifndef SO_BUSY_POLL_BUDGET
#define SO_BUSY_POLL_BUDGET 70
#endif

namespace oobbpf::oob {

namespace {

// Chunks kept off the fill ring so that sending never waits for a reception.
constexpr uint32_t kTxReserve = 64;
// The fill ring is topped up in batches of at least this many.
constexpr uint32_t kFillBatch = 32;
// UMEM headroom: room for struct oob_xdp_meta, so that it and the headers share a line.
constexpr uint32_t kUmemHeadroom = sizeof(oob_xdp_meta);
static_assert(kUmemHeadroom == 16 && (XDP_PACKET_HEADROOM + kUmemHeadroom) % 64 == 16);

std::string where(const XskConfig &c) {
    return c.ifname + " queue " + std::to_string(c.queue);
}

}  // namespace

struct XskQueue::Rings {
    xsk_ring_prod fill{};
    xsk_ring_cons comp{};
    xsk_ring_cons rx{};
    xsk_ring_prod tx{};
    xsk_umem *umem = nullptr;
    xsk_socket *xsk = nullptr;
};

namespace {

// The UMEM on transparent huge pages where the kernel gives them: a frame's first touch after a
// system call then finds its page in a TLB entry shared by 512 frames instead of walking the
// page tables for a page of its own. 2 MiB-aligned, populated up front (the kernel pins it
// anyway); with THP off or unavailable it is ordinary pages, the same memory.
void *map_umem_thp(size_t len) {
    constexpr size_t kHuge = 2UL << 20;
    const size_t span = len + kHuge;
    void *raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return nullptr;
    const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
    const uintptr_t aligned = (start + kHuge - 1) & ~(kHuge - 1);
    if (aligned > start)
        munmap(raw, aligned - start);
    if (const uintptr_t tail = start + span - (aligned + len))
        munmap(reinterpret_cast<void *>(aligned + len), tail);
    void *area = reinterpret_cast<void *>(aligned);
    madvise(area, len, MADV_HUGEPAGE);
    if (madvise(area, len, MADV_POPULATE_WRITE) != 0)
        for (size_t off = 0; off < len; off += 4096)
            static_cast<volatile uint8_t *>(area)[off] = 0;
    return area;
}

}  // namespace

XskQueue::XskQueue(const XskConfig &cfg) : cfg_(cfg), r_(std::make_unique<Rings>()) {
    if (cfg_.frame_size < 2048 || (cfg_.frame_size & (cfg_.frame_size - 1)))
        throw Error(
            "frame size must be a power of two, at least 2048: " + std::to_string(cfg_.frame_size),
            EINVAL);
    if (cfg_.frames < cfg_.fill_size + kTxReserve)
        throw Error("UMEM of " + std::to_string(cfg_.frames) +
                        " frames cannot stock a fill ring of " + std::to_string(cfg_.fill_size),
                    EINVAL);
    area_len_ = static_cast<size_t>(cfg_.frames) * cfg_.frame_size;
    if (cfg_.hugepages) {
        area_ = mmap(nullptr, area_len_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
        huge_ = area_ != MAP_FAILED;
    }
    if (!huge_) {
        area_ = map_umem_thp(area_len_);
        if (!area_)
            throw sys_error("map UMEM for " + where(cfg_), errno);
    }
    pool_ = std::make_unique<FramePool>(static_cast<uint8_t *>(area_), cfg_.frames, cfg_.frame_size,
                                        cfg_.index);
    queued_.assign(cfg_.frames, 0);
    tags_.assign(cfg_.frames, TxTag{});
    filled_.assign(cfg_.frames, 0);

    xsk_umem_config ucfg{};
    ucfg.fill_size = cfg_.fill_size;
    ucfg.comp_size = cfg_.comp_size;
    ucfg.frame_size = cfg_.frame_size;
    // The classifier's metadata (16 bytes) goes in front of the data: with this headroom it
    // starts a cache line and the frame's headers follow on the same line, one cache miss for
    // both instead of two.
    ucfg.frame_headroom = kUmemHeadroom;
    ucfg.flags = 0;
    int rc = xsk_umem__create(&r_->umem, area_, area_len_, &r_->fill, &r_->comp, &ucfg);
    if (rc) {
        munmap(area_, area_len_);
        area_ = nullptr;
        throw sys_error("register UMEM for " + where(cfg_) +
                            " (needs CAP_IPC_LOCK or RLIMIT_MEMLOCK above " +
                            std::to_string(area_len_ >> 20) + " MiB)",
                        rc);
    }

    auto create = [&](uint16_t mode_flag) {
        xsk_socket_config scfg{};
        scfg.rx_size = cfg_.rx_size;
        scfg.tx_size = cfg_.tx_size;
        scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
        scfg.xdp_flags = 0;
        scfg.bind_flags =
            static_cast<uint16_t>(mode_flag | (cfg_.need_wakeup ? XDP_USE_NEED_WAKEUP : 0));
        return xsk_socket__create(&r_->xsk, cfg_.ifname.c_str(), cfg_.queue, r_->umem, &r_->rx,
                                  &r_->tx, &scfg);
    };
    auto bind_mode = [&]() {
        switch (cfg_.mode) {
            case BindMode::Copy:
                return create(XDP_COPY);
            case BindMode::ZeroCopy:
                return create(XDP_ZEROCOPY);
            case BindMode::Auto:
                break;
        }
        int r = create(XDP_ZEROCOPY);
        return r ? create(XDP_COPY) : 0;
    };
    // A socket that just closed on this queue releases it from a deferred work item: EBUSY for
    // a moment after a restart. Retry briefly before calling the queue taken.
    const uint64_t until = now_ns() + static_cast<uint64_t>(cfg_.busy_retry_ms) * 1000000;
    while ((rc = bind_mode()) == -EBUSY && now_ns() < until)
        usleep(5000);
    if (rc) {
        xsk_umem__delete(r_->umem);
        munmap(area_, area_len_);
        area_ = nullptr;
        throw sys_error("create AF_XDP socket on " + where(cfg_) +
                            (rc == -EBUSY ? " (the queue has an AF_XDP socket already)"
                                          : " (needs CAP_NET_RAW)"),
                        rc);
    }

    xdp_options opts{};
    socklen_t olen = sizeof(opts);
    if (getsockopt(fd(), SOL_XDP, XDP_OPTIONS, &opts, &olen) == 0)
        zero_copy_ = opts.flags & XDP_OPTIONS_ZEROCOPY;
    if (cfg_.busy_poll_usecs) {
        int one = 1, usecs = static_cast<int>(cfg_.busy_poll_usecs),
            budget = static_cast<int>(cfg_.busy_poll_budget ? cfg_.busy_poll_budget : 64);
        // Best effort: these tune the driver's NAPI, which copy mode on veth does not use.
        setsockopt(fd(), SOL_SOCKET, SO_PREFER_BUSY_POLL, &one, sizeof(one));
        setsockopt(fd(), SOL_SOCKET, SO_BUSY_POLL, &usecs, sizeof(usecs));
        setsockopt(fd(), SOL_SOCKET, SO_BUSY_POLL_BUDGET, &budget, sizeof(budget));
    }
    // The kernel writes received data XDP_PACKET_HEADROOM past the chunk start (plus the UMEM
    // headroom, 0 here); the classifier's metadata sits right in front of it.
    rx_off_ = XDP_PACKET_HEADROOM + kUmemHeadroom;
    refill(now_ns());
}

XskQueue::~XskQueue() {
    if (r_->xsk)
        xsk_socket__delete(r_->xsk);
    if (r_->umem)
        xsk_umem__delete(r_->umem);
    if (area_)
        munmap(area_, area_len_);
}

int XskQueue::fd() const {
    return xsk_socket__fd(r_->xsk);
}

OOB_HOT void XskQueue::refill(uint64_t now) {
    // Reads the kernel's consumer index: a cache line the receiving CPU writes. Hence only per
    // batch (rx() counts what the kernel took), not per frame.
    uint32_t free_slots = xsk_prod_nb_free(&r_->fill, kFillBatch);
    if (free_slots < kFillBatch && free_slots < cfg_.fill_size) {
        unfilled_ = free_slots;
        return;
    }
    size_t avail = pool_->available();
    if (avail <= kTxReserve) {
        if (!refill_owed_)
            c_.fill_starved++;
        refill_owed_ = true;
        unfilled_ = free_slots;
        return;
    }
    uint32_t n = static_cast<uint32_t>(std::min<size_t>(free_slots, avail - kTxReserve));
    uint32_t idx = 0;
    if (xsk_ring_prod__reserve(&r_->fill, n, &idx) != n)
        return;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t chunk = 0;
        pool_->get(chunk);
        filled_[pool_->index_of(chunk)] = now;
        *xsk_ring_prod__fill_addr(&r_->fill, idx + i) = chunk;
    }
    xsk_ring_prod__submit(&r_->fill, n);
    unfilled_ = free_slots - n;
    // The pool could not cover the whole ring (the application holds frames): polls retry until
    // it can, with or without traffic, so the ring never runs dry for good.
    refill_owed_ = unfilled_ >= kFillBatch;
    if (cfg_.need_wakeup && xsk_ring_prod__needs_wakeup(&r_->fill)) {
        c_.fill_wakeups++;
        recvfrom(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
    }
}

OOB_HOT size_t XskQueue::rx(Frame *out, size_t max) {
    uint32_t idx = 0;
    size_t n = xsk_ring_cons__peek(&r_->rx, static_cast<uint32_t>(max), &idx);
    if (n == 0) {
        if (refill_owed_)
            refill(fast_now_ns());
        // Only a zero-copy driver sets the fill ring's flag; in copy mode reading it on every
        // empty poll would share the line the kernel writes its consumer index to.
        if (zero_copy_ && cfg_.need_wakeup && xsk_ring_prod__needs_wakeup(&r_->fill)) {
            c_.fill_wakeups++;
            recvfrom(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
        }
        return 0;
    }
    const uint64_t now = fast_now_ns();
    uint8_t *area = pool_->area();
    for (size_t i = 0; i < n; i++) {
        const xdp_desc *d = xsk_ring_cons__rx_desc(&r_->rx, idx + static_cast<uint32_t>(i));
        uint64_t chunk = pool_->chunk_of(d->addr);
        uint32_t off = static_cast<uint32_t>(d->addr - chunk);
        Frame f(pool_.get(), chunk, off, d->len);
        FrameInfo &info = f.info();
        info.polled_ns = now;
        if (off >= sizeof(oob_xdp_meta)) {
            oob_xdp_meta m;
            std::memcpy(&m, area + d->addr - sizeof(m), sizeof(m));
            // A stamp from before the chunk went onto the fill ring is not this frame's. (A frame
            // stamped just before its chunk went there, when the fill ring ran dry, is taken for
            // unstamped: counted, never misread.)
            if (m.classified_ns && m.classified_ns >= filled_[pool_->index_of(chunk)]) {
                info.has_meta = true;
                info.classified_ns = m.classified_ns;
                info.rule_id = m.rule_id;
                info.port_id = m.port_id;
                info.reason = m.reason;
            }
        }
        c_.rx_bytes += d->len;
        out[i] = std::move(f);
    }
    xsk_ring_cons__release(&r_->rx, static_cast<uint32_t>(n));
    c_.rx_frames += n;
    // Each frame took one fill entry (copy mode and zero-copy alike, one buffer per frame).
    unfilled_ += static_cast<uint32_t>(n);
    if (unfilled_ >= kFillBatch || refill_owed_)
        refill(now);
    return n;
}

OOB_HOT size_t XskQueue::complete() {
    uint32_t idx = 0;
    size_t n = xsk_ring_cons__peek(&r_->comp, cfg_.comp_size, &idx);
    if (n == 0)
        return 0;
    const uint64_t now = fast_now_ns();
    for (size_t i = 0; i < n; i++) {
        uint64_t addr = *xsk_ring_cons__comp_addr(&r_->comp, idx + static_cast<uint32_t>(i));
        uint64_t chunk = pool_->chunk_of(addr);
        const uint32_t fi = pool_->index_of(chunk);
        uint64_t &q = queued_[fi];
        if (q) {
            tx_complete_ns_sum_ += now - q;
            TxTag &t = tags_[fi];
            if (t.owner && sink_)
                sink_->tx_completed(t.owner, t.id, q, now);
            t.owner = 0;
            q = 0;
        }
        pool_->put(chunk);
    }
    xsk_ring_cons__release(&r_->comp, static_cast<uint32_t>(n));
    outstanding_tx_ -= static_cast<uint32_t>(std::min<size_t>(n, outstanding_tx_));
    c_.tx_completed += n;
    return n;
}

uint64_t XskQueue::queued_ns(uint64_t chunk) const {
    return queued_[pool_->index_of(chunk)];
}

OOB_HOT void XskQueue::kick() {
    if (cfg_.need_wakeup && !xsk_ring_prod__needs_wakeup(&r_->tx))
        return;
    c_.tx_kicks++;
    if (sendto(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0) < 0) {
        // Transient: the kernel ran out of room or the device is busy; the descriptors stay on
        // the ring and go with the next kick.
        if (errno != ENOBUFS && errno != EAGAIN && errno != EBUSY && errno != ENETDOWN)
            c_.tx_kick_errors++;
    }
}

OOB_HOT size_t XskQueue::tx(Frame *frames, size_t n, bool wake) {
    if (n == 0)
        return 0;
    uint32_t free_slots = xsk_prod_nb_free(&r_->tx, static_cast<uint32_t>(n));
    if (free_slots < n) {
        complete();
        kick();
        free_slots = xsk_prod_nb_free(&r_->tx, static_cast<uint32_t>(n));
    }
    uint32_t m = static_cast<uint32_t>(std::min<size_t>(n, free_slots));
    uint32_t idx = 0;
    if (m == 0 || xsk_ring_prod__reserve(&r_->tx, m, &idx) != m) {
        c_.tx_ring_full += n;
        return 0;
    }
    const uint64_t now = fast_now_ns();
    for (uint32_t i = 0; i < m; i++) {
        Frame &f = frames[i];
        xdp_desc *d = xsk_ring_prod__tx_desc(&r_->tx, idx + i);
        d->addr = f.umem_addr();
        d->len = f.len();
        d->options = 0;
        const uint32_t fi = pool_->index_of(f.chunk());
        queued_[fi] = now;
        tags_[fi] = TxTag{f.info().tx_id, f.info().tx_owner};
        c_.tx_bytes += f.len();
        f.release();
    }
    xsk_ring_prod__submit(&r_->tx, m);
    outstanding_tx_ += m;
    c_.tx_frames += m;
    c_.tx_ring_full += n - m;
    if (wake)
        kick();
    return m;
}

OOB_HOT Frame XskQueue::alloc(uint32_t headroom) {
    uint64_t chunk = 0;
    if (!pool_->get(chunk)) {
        complete();
        if (!pool_->get(chunk))
            return Frame();
    }
    return Frame(pool_.get(), chunk, std::min(headroom, cfg_.frame_size), 0);
}

OOB_HOT bool XskQueue::rx_ready() {
    return xsk_cons_nb_avail(&r_->rx, 1) > 0;
}

XskCounters XskQueue::counters() const {
    XskCounters c = c_;
    xdp_statistics st{};
    socklen_t len = sizeof(st);
    if (getsockopt(fd(), SOL_XDP, XDP_STATISTICS, &st, &len) == 0) {
        c.kernel_rx_dropped = st.rx_dropped;
        c.kernel_rx_ring_full = st.rx_ring_full;
        c.kernel_fill_empty = st.rx_fill_ring_empty_descs;
        c.kernel_tx_invalid = st.tx_invalid_descs;
        c.kernel_tx_ring_empty = st.tx_ring_empty_descs;
    }
    return c;
}

}  // namespace oobbpf::oob
