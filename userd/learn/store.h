// SPDX-License-Identifier: MIT
// The one writer of the learned state: the pinned `routes` and `neighs` hash maps (what bpftool,
// the kernel module and BPF programs see) and the lock-free cache tables (what the oob send path
// reads, route_cache.h). Every change goes through here, so the two views hold the same entries.
// Not thread-safe: the learner serialises calls.
#pragma once

#include "route_cache.h"

#include <cstdint>
#include <unordered_map>
#include <vector>

namespace oobbpf::learn {

// The writer's side of one cache table (single writer; see oobbpf/learn.h for the protocol).
template <class T>
class CacheWriter {
  public:
    using Slot = typename T::Slot;
    using Key = typename T::Key;
    using Value = typename T::Value;

    CacheWriter() = default;
    CacheWriter(Slot *slots, uint64_t *gen) : slots_(slots), gen_(gen) {}

    // Inserts or updates in place.
    void put(const Key &k, const Value &v);
    // Leaves a tombstone; false when the key was not there.
    bool erase(const Key &k);
    // Rewrites the whole table without tombstones (readers see an odd generation meanwhile).
    void rebuild(const std::vector<std::pair<Key, Value>> &entries);
    bool wants_compaction() const { return used_ + dead_ > T::kSlots / 4 * 3; }

    uint32_t used() const { return used_; }
    uint32_t dead() const { return dead_; }
    CacheView<T> view() const { return CacheView<T>(slots_, gen_); }

  private:
    // Slot holding k, or -1; *free_slot gets the first reusable slot on k's probe path.
    int64_t find(const Key &k, int64_t *free_slot) const;
    void write(Slot &s, const Key *k, const Value *v, uint32_t state);
    void bump_gen(uint64_t by);

    Slot *slots_ = nullptr;
    uint64_t *gen_ = nullptr;
    uint32_t used_ = 0, dead_ = 0;
};

// Map fds of the learned state (not owned).
struct StateFds {
    int routes = -1, neighs = -1, route_cache = -1, neigh_cache = -1, cache_state = -1;
};

template <class K>
struct KeyHash {
    size_t operator()(const K &k) const {
        return oob_cache_hash(reinterpret_cast<const __u32 *>(&k), sizeof(K) / 4);
    }
};
template <class K>
struct KeyEq {
    bool operator()(const K &a, const K &b) const { return detail::same_key(a, b); }
};

class Store {
  public:
    // Maps the cache tables, adopts the entries of namespace `netns` already in the hash maps
    // (a restarted daemon) and rebuilds the caches from them. Throws oobbpf::Error.
    Store(const StateFds &fds, uint32_t netns);
    ~Store();
    Store(const Store &) = delete;
    Store &operator=(const Store &) = delete;

    // put_*: true when the entry was added or changed (then learned_ns/updated_ns is now and seq
    // advanced by 2); an identical entry is left alone. Throws oobbpf::Error when the map is full.
    bool put_route(const oob_route_key &k, oob_route r);
    bool del_route(const oob_route_key &k);
    const oob_route *route(const oob_route_key &k) const;
    std::vector<oob_route_key> route_keys() const;
    size_t routes() const { return routes_.size(); }

    bool put_neigh(const oob_neigh_key &k, oob_neigh n);
    bool del_neigh(const oob_neigh_key &k);
    const oob_neigh *neigh(const oob_neigh_key &k) const;
    std::vector<oob_neigh_key> neigh_keys() const;
    size_t neighs() const { return neighs_.size(); }

    RouteView route_view() const { return route_cache_.view(); }
    NeighView neigh_view() const { return neigh_cache_.view(); }
    uint32_t netns() const { return netns_; }

  private:
    void compact_routes();
    void compact_neighs();

    StateFds fds_;
    uint32_t netns_;
    void *route_mem_ = nullptr, *neigh_mem_ = nullptr, *state_mem_ = nullptr;
    size_t route_len_ = 0, neigh_len_ = 0, state_len_ = 0;
    oob_cache_state *state_ = nullptr;
    CacheWriter<RouteTable> route_cache_;
    CacheWriter<NeighTable> neigh_cache_;
    std::unordered_map<oob_route_key, oob_route, KeyHash<oob_route_key>, KeyEq<oob_route_key>>
        routes_;
    std::unordered_map<oob_neigh_key, oob_neigh, KeyHash<oob_neigh_key>, KeyEq<oob_neigh_key>>
        neighs_;
};

// CLOCK_MONOTONIC in nanoseconds (the clock of learned_ns and updated_ns).
uint64_t monotonic_ns();

}  // namespace oobbpf::learn
