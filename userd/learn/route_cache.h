// SPDX-License-Identifier: MIT
// Lock-free reads of learned routes and neighbours for the oob send path.
//
// The learner keeps, next to the pinned `routes` and `neighs` hash maps (bpftool's view), the same
// entries in open-addressed tables inside BPF_F_MMAPABLE arrays (`route_cache`, `neigh_cache`,
// `cache_state` under the pin root; layout in oobbpf/learn.h). A reader maps them read-only once and
// then looks entries up with plain loads: no system call, no lock, no allocation.
//
// Consistency rule (oobbpf/learn.h has the details): every slot is a seqlock, entries never move
// while the table is in use, and a generation counter tells a true miss from a miss that raced
// with an insertion or a removal. So a lookup returns
//   hit   a (key, value) pair that was the learner's current entry at some instant during the
//         call (never a torn mix of two versions);
//   miss  the key had no entry at some instant during the call;
//   busy  the writer kept the table changing (in practice: it was compacting the table) for
//         the whole bounded number of tries; look up the hash map with bpf() instead, or retry.
// A reader may be in another process than the writer, and many readers may run at once.
//
// Keys are exact: the oob path looks up the same (namespace, destination, source, mark, tos,
// output device) that was decided (learned from traffic) or resolved (Learner::resolve).
#pragma once

#include <oobbpf/learn.h>

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>

namespace oobbpf::learn {

enum class Lookup { hit, miss, busy };

namespace detail {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

// Word-wise relaxed atomic copies: a concurrent writer is then a race on atomics, which the
// seqlock check resolves, rather than undefined behaviour. Sizes are multiples of 8 (asserted
// in oobbpf/learn.h) and slots are 8-byte aligned.
template <class T>
inline void load_words(T *dst, const T *src) {
    static_assert(sizeof(T) % 8 == 0 || sizeof(T) % 4 == 0);
    if constexpr (sizeof(T) % 8 == 0 && alignof(T) >= 4) {
        auto *d = reinterpret_cast<uint64_t *>(dst);
        auto *s = reinterpret_cast<const uint64_t *>(src);
        for (size_t i = 0; i < sizeof(T) / 8; i++)
            d[i] = __atomic_load_n(s + i, __ATOMIC_RELAXED);
    } else {
        auto *d = reinterpret_cast<uint32_t *>(dst);
        auto *s = reinterpret_cast<const uint32_t *>(src);
        for (size_t i = 0; i < sizeof(T) / 4; i++)
            d[i] = __atomic_load_n(s + i, __ATOMIC_RELAXED);
    }
}

template <class T>
inline void store_words(T *dst, const T *src) {
    auto *d = reinterpret_cast<uint32_t *>(dst);
    auto *s = reinterpret_cast<const uint32_t *>(src);
    for (size_t i = 0; i < sizeof(T) / 4; i++)
        __atomic_store_n(d + i, s[i], __ATOMIC_RELAXED);
}

template <class K>
inline bool same_key(const K &a, const K &b) {
    return std::memcmp(&a, &b, sizeof(K)) == 0;
}

}  // namespace detail

// The two kinds of tables: slot type, key, value and where they sit in the slot.
struct RouteTable {
    using Slot = oob_route_slot;
    using Key = oob_route_key;
    using Value = oob_route;
    static constexpr uint32_t kSlots = OOB_ROUTE_SLOTS;
    static Key &key(Slot &s) { return s.key; }
    static const Key &key(const Slot &s) { return s.key; }
    static Value &value(Slot &s) { return s.route; }
    static const Value &value(const Slot &s) { return s.route; }
};

struct NeighTable {
    using Slot = oob_neigh_slot;
    using Key = oob_neigh_key;
    using Value = oob_neigh;
    static constexpr uint32_t kSlots = OOB_NEIGH_SLOTS;
    static Key &key(Slot &s) { return s.key; }
    static const Key &key(const Slot &s) { return s.key; }
    static Value &value(Slot &s) { return s.neigh; }
    static const Value &value(const Slot &s) { return s.neigh; }
};

template <class T>
inline uint32_t cache_slot_of(const typename T::Key &k) {
    static_assert(sizeof(typename T::Key) % 4 == 0);
    return oob_cache_hash(reinterpret_cast<const __u32 *>(&k), sizeof(k) / 4) & (T::kSlots - 1);
}

// A view of one table: slots plus its generation counter. Used by readers (find) and, through
// CacheWriter (store.h), by the one writer.
template <class T>
class CacheView {
  public:
    using Slot = typename T::Slot;
    using Key = typename T::Key;
    using Value = typename T::Value;
    static constexpr int kTries = 64;

    CacheView() = default;
    CacheView(const Slot *slots, const uint64_t *gen) : slots_(slots), gen_(gen) {}
    explicit operator bool() const { return slots_ != nullptr; }

    Lookup find(const Key &k, Value *out) const noexcept {
        const uint32_t mask = T::kSlots - 1;
        const uint32_t start = cache_slot_of<T>(k);
        for (int attempt = 0; attempt < kTries; attempt++) {
            const uint64_t g1 = __atomic_load_n(gen_, __ATOMIC_ACQUIRE);
            if (g1 & 1) {  // compaction in progress
                detail::cpu_relax();
                continue;
            }
            bool again = false;
            uint32_t i = start;
            for (uint32_t n = 0; n < T::kSlots; n++, i = (i + 1) & mask) {
                const Slot *s = &slots_[i];
                const uint32_t q1 = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
                if (q1 & 1) {
                    again = true;
                    break;
                }
                const uint32_t state = __atomic_load_n(&s->state, __ATOMIC_RELAXED);
                if (state == OOB_SLOT_EMPTY)
                    break;
                if (state != OOB_SLOT_USED)
                    continue;
                Key kk{};
                detail::load_words(&kk, &T::key(*s));
                if (!detail::same_key(kk, k)) {
                    // A torn key only costs a longer probe: slots never move, so if this
                    // slot holds (or just got) our key, the generation check below catches it.
                    continue;
                }
                Value v{};
                detail::load_words(&v, &T::value(*s));
                __atomic_thread_fence(__ATOMIC_ACQUIRE);
                if (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != q1) {
                    again = true;
                    break;
                }
                *out = v;
                return Lookup::hit;
            }
            if (again) {
                detail::cpu_relax();
                continue;
            }
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            if (__atomic_load_n(gen_, __ATOMIC_RELAXED) == g1)
                return Lookup::miss;
        }
        return Lookup::busy;
    }

    uint64_t generation() const noexcept { return __atomic_load_n(gen_, __ATOMIC_ACQUIRE); }

  protected:
    const Slot *slots_ = nullptr;
    const uint64_t *gen_ = nullptr;
};

using RouteView = CacheView<RouteTable>;
using NeighView = CacheView<NeighTable>;

// The reader for oob processes: maps the pinned cache tables of a pin root read-only.
// Opening needs read and write permission on the pins (bpffs file modes; the kernel refuses a
// shared mapping through a read-only fd), nothing afterwards. Move-only; unmaps on destruction.
class CacheReader {
  public:
    // Throws oobbpf::Error (e.g. "route cache /sys/fs/bpf/oobbpf/route_cache: No such file").
    static CacheReader open(const std::string &pin_root);

    CacheReader() = default;
    ~CacheReader();
    CacheReader(CacheReader &&o) noexcept;
    CacheReader &operator=(CacheReader &&o) noexcept;
    CacheReader(const CacheReader &) = delete;
    CacheReader &operator=(const CacheReader &) = delete;

    Lookup route(const oob_route_key &k, oob_route *out) const noexcept {
        return routes_.find(k, out);
    }
    Lookup neigh(const oob_neigh_key &k, oob_neigh *out) const noexcept {
        return neighs_.find(k, out);
    }
    // Namespace whose decisions the tables hold (the writer's), 0 before the writer set it.
    uint32_t netns() const noexcept;
    const RouteView &routes() const { return routes_; }
    const NeighView &neighs() const { return neighs_; }

  private:
    void unmap() noexcept;
    struct Map {
        void *addr = nullptr;
        size_t len = 0;
    };
    Map route_map_, neigh_map_, state_map_;
    RouteView routes_;
    NeighView neighs_;
    const oob_cache_state *state_ = nullptr;
};

// Keys as the learner builds them. Addresses are in network byte order (4 or 16 bytes).
oob_route_key route_key(uint32_t netns, int family, const void *dst, const void *src = nullptr,
                        uint32_t mark = 0, uint8_t tos = 0, uint32_t oif = 0);
oob_neigh_key neigh_key(uint32_t ifindex, int family, const void *addr);
// The next hop of a learned route: its gateway, or the destination when on-link.
oob_neigh_key next_hop(const oob_route_key &k, const oob_route &r);

// Inode number of the calling thread's network namespace (the key's netns).
uint32_t current_netns();

}  // namespace oobbpf::learn
