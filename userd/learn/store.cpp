// SPDX-License-Identifier: MIT
#include "store.h"

#include "error.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <string>
#include <utility>

namespace oobbpf::learn {

uint64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec);
}

// ---- cache writer ------------------------------------------------------------------------------

template <class T>
int64_t CacheWriter<T>::find(const Key &k, int64_t *free_slot) const {
    const uint32_t mask = T::kSlots - 1;
    uint32_t i = cache_slot_of<T>(k);
    *free_slot = -1;
    for (uint32_t n = 0; n < T::kSlots; n++, i = (i + 1) & mask) {
        const Slot &s = slots_[i];
        if (s.state == OOB_SLOT_EMPTY) {
            if (*free_slot < 0)
                *free_slot = i;
            return -1;
        }
        if (s.state == OOB_SLOT_DEAD) {
            if (*free_slot < 0)
                *free_slot = i;
            continue;
        }
        if (detail::same_key(T::key(s), k))
            return i;
    }
    return -1;
}

template <class T>
void CacheWriter<T>::write(Slot &s, const Key *k, const Value *v, uint32_t state) {
    // Seqlock writer: odd seq, release fence (orders it before the data stores), data, even seq
    // with release (orders the data before it).
    const uint32_t q = (s.seq | 1U) + 1U;  // also repairs an odd seq left by a crashed writer
    __atomic_store_n(&s.seq, q - 1U, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (k)
        detail::store_words(&T::key(s), k);
    if (v)
        detail::store_words(&T::value(s), v);
    __atomic_store_n(&s.state, state, __ATOMIC_RELAXED);
    __atomic_store_n(&s.seq, q, __ATOMIC_RELEASE);
}

template <class T>
void CacheWriter<T>::bump_gen(uint64_t by) {
    __atomic_store_n(gen_, *gen_ + by, __ATOMIC_RELEASE);
}

template <class T>
void CacheWriter<T>::put(const Key &k, const Value &v) {
    int64_t free_slot;
    int64_t at = find(k, &free_slot);
    if (at >= 0) {
        write(slots_[at], nullptr, &v, OOB_SLOT_USED);
        return;
    }
    if (free_slot < 0)
        return;  // cannot happen below the compaction threshold; readers fall back to bpf()
    Slot &s = slots_[free_slot];
    if (s.state == OOB_SLOT_DEAD)
        dead_--;
    write(s, &k, &v, OOB_SLOT_USED);
    used_++;
    bump_gen(2);
}

template <class T>
bool CacheWriter<T>::erase(const Key &k) {
    int64_t free_slot;
    int64_t at = find(k, &free_slot);
    if (at < 0)
        return false;
    write(slots_[at], nullptr, nullptr, OOB_SLOT_DEAD);
    used_--;
    dead_++;
    bump_gen(2);
    return true;
}

template <class T>
void CacheWriter<T>::rebuild(const std::vector<std::pair<Key, Value>> &entries) {
    // Odd generation: readers retry (and give up with "busy") until the table is whole again.
    const uint64_t g = *gen_ | 1U;
    __atomic_store_n(gen_, g, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    for (uint32_t i = 0; i < T::kSlots; i++)
        if (slots_[i].state != OOB_SLOT_EMPTY || (slots_[i].seq & 1U))
            write(slots_[i], nullptr, nullptr, OOB_SLOT_EMPTY);
    used_ = dead_ = 0;
    const uint32_t mask = T::kSlots - 1;
    for (const auto &[k, v] : entries) {
        uint32_t i = cache_slot_of<T>(k);
        uint32_t n = 0;
        while (slots_[i].state != OOB_SLOT_EMPTY && n++ < T::kSlots)
            i = (i + 1) & mask;
        if (slots_[i].state != OOB_SLOT_EMPTY)
            break;
        write(slots_[i], &k, &v, OOB_SLOT_USED);
        used_++;
    }
    __atomic_store_n(gen_, g + 1, __ATOMIC_RELEASE);
}

template class CacheWriter<RouteTable>;
template class CacheWriter<NeighTable>;

// ---- mappings ----------------------------------------------------------------------------------

namespace {

bpf_map_info map_info(int fd, const std::string &what) {
    bpf_map_info info{};
    __u32 len = sizeof(info);
    check(bpf_obj_get_info_by_fd(fd, &info, &len), what);
    return info;
}

// Maps an mmapable array of `entries` values of `value_size` bytes after checking it is one.
void *map_array(int fd, uint32_t value_size, uint32_t entries, bool writable, size_t *len,
                const std::string &what) {
    bpf_map_info info = map_info(fd, what);
    if (info.type != BPF_MAP_TYPE_ARRAY || !(info.map_flags & BPF_F_MMAPABLE) ||
        info.value_size != value_size || info.max_entries != entries)
        throw Error(what + ": not the expected cache table (type " + std::to_string(info.type) +
                    ", value size " + std::to_string(info.value_size) + ", entries " +
                    std::to_string(info.max_entries) + ")");
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    *len = (size_t(value_size) * entries + page - 1) / page * page;
    void *p = mmap(nullptr, *len, writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        throw sys_error(what + ": mmap", errno);
    return p;
}

template <class K, class V>
std::vector<std::pair<K, V>> entries_of(const std::unordered_map<K, V, KeyHash<K>, KeyEq<K>> &m) {
    return {m.begin(), m.end()};
}

template <class V>
bool same_content(V a, V b) {
    // Everything but the bookkeeping fields (time and change counter).
    a.seq = b.seq = 0;
    if constexpr (std::is_same_v<V, oob_route>)
        a.learned_ns = b.learned_ns = 0;
    else
        a.updated_ns = b.updated_ns = 0;
    return std::memcmp(&a, &b, sizeof(V)) == 0;
}

}  // namespace

Store::Store(const StateFds &fds, uint32_t netns) : fds_(fds), netns_(netns) {
    route_mem_ = map_array(fds.route_cache, sizeof(oob_route_slot), OOB_ROUTE_SLOTS, true,
                           &route_len_, "route cache");
    neigh_mem_ = map_array(fds.neigh_cache, sizeof(oob_neigh_slot), OOB_NEIGH_SLOTS, true,
                           &neigh_len_, "neighbour cache");
    state_mem_ =
        map_array(fds.cache_state, sizeof(oob_cache_state), 1, true, &state_len_, "cache state");
    state_ = static_cast<oob_cache_state *>(state_mem_);
    route_cache_ = CacheWriter<RouteTable>(static_cast<oob_route_slot *>(route_mem_),
                                           reinterpret_cast<uint64_t *>(&state_->route_gen));
    neigh_cache_ = CacheWriter<NeighTable>(static_cast<oob_neigh_slot *>(neigh_mem_),
                                           reinterpret_cast<uint64_t *>(&state_->neigh_gen));

    // Adopt what a previous learner of this namespace left; anything else is not ours.
    std::vector<oob_route_key> foreign;
    oob_route_key k{}, next{};
    const oob_route_key *prev = nullptr;
    while (bpf_map_get_next_key(fds.routes, prev, &next) == 0) {
        oob_route r{};
        if (bpf_map_lookup_elem(fds.routes, &next, &r) == 0) {
            if (next.netns == netns)
                routes_[next] = r;
            else
                foreign.push_back(next);
        }
        k = next;
        prev = &k;
    }
    for (const auto &f : foreign)
        bpf_map_delete_elem(fds.routes, &f);
    oob_neigh_key nk{}, nnext{};
    const oob_neigh_key *nprev = nullptr;
    while (bpf_map_get_next_key(fds.neighs, nprev, &nnext) == 0) {
        oob_neigh n{};
        if (bpf_map_lookup_elem(fds.neighs, &nnext, &n) == 0)
            neighs_[nnext] = n;
        nk = nnext;
        nprev = &nk;
    }

    state_->route_slots = OOB_ROUTE_SLOTS;
    state_->neigh_slots = OOB_NEIGH_SLOTS;
    state_->writer_pid = uint32_t(getpid());
    __atomic_store_n(&state_->netns, netns, __ATOMIC_RELAXED);
    route_cache_.rebuild(entries_of(routes_));
    neigh_cache_.rebuild(entries_of(neighs_));
    state_->version = OOB_CACHE_VERSION;
    __atomic_store_n(&state_->magic, OOB_CACHE_MAGIC, __ATOMIC_RELEASE);
}

Store::~Store() {
    if (route_mem_)
        munmap(route_mem_, route_len_);
    if (neigh_mem_)
        munmap(neigh_mem_, neigh_len_);
    if (state_mem_)
        munmap(state_mem_, state_len_);
}

bool Store::put_route(const oob_route_key &k, oob_route r) {
    auto it = routes_.find(k);
    if (it != routes_.end() && same_content(it->second, r))
        return false;
    r.learned_ns = monotonic_ns();
    r.seq = it == routes_.end() ? 2 : it->second.seq + 2;
    if (bpf_map_update_elem(fds_.routes, &k, &r, BPF_ANY) != 0)
        throw sys_error("routes map update", errno);
    routes_[k] = r;
    route_cache_.put(k, r);
    if (route_cache_.wants_compaction())
        compact_routes();
    return true;
}

bool Store::del_route(const oob_route_key &k) {
    if (!routes_.erase(k))
        return false;
    bpf_map_delete_elem(fds_.routes, &k);
    route_cache_.erase(k);
    if (route_cache_.wants_compaction())
        compact_routes();
    return true;
}

const oob_route *Store::route(const oob_route_key &k) const {
    auto it = routes_.find(k);
    return it == routes_.end() ? nullptr : &it->second;
}

std::vector<oob_route_key> Store::route_keys() const {
    std::vector<oob_route_key> v;
    v.reserve(routes_.size());
    for (const auto &e : routes_)
        v.push_back(e.first);
    return v;
}

bool Store::put_neigh(const oob_neigh_key &k, oob_neigh n) {
    auto it = neighs_.find(k);
    if (it != neighs_.end() && same_content(it->second, n))
        return false;
    n.updated_ns = monotonic_ns();
    n.seq = it == neighs_.end() ? 2 : it->second.seq + 2;
    if (bpf_map_update_elem(fds_.neighs, &k, &n, BPF_ANY) != 0)
        throw sys_error("neighs map update", errno);
    neighs_[k] = n;
    neigh_cache_.put(k, n);
    if (neigh_cache_.wants_compaction())
        compact_neighs();
    return true;
}

bool Store::del_neigh(const oob_neigh_key &k) {
    if (!neighs_.erase(k))
        return false;
    bpf_map_delete_elem(fds_.neighs, &k);
    neigh_cache_.erase(k);
    if (neigh_cache_.wants_compaction())
        compact_neighs();
    return true;
}

const oob_neigh *Store::neigh(const oob_neigh_key &k) const {
    auto it = neighs_.find(k);
    return it == neighs_.end() ? nullptr : &it->second;
}

std::vector<oob_neigh_key> Store::neigh_keys() const {
    std::vector<oob_neigh_key> v;
    v.reserve(neighs_.size());
    for (const auto &e : neighs_)
        v.push_back(e.first);
    return v;
}

void Store::compact_routes() {
    route_cache_.rebuild(entries_of(routes_));
}
void Store::compact_neighs() {
    neigh_cache_.rebuild(entries_of(neighs_));
}

// ---- reader ------------------------------------------------------------------------------------

CacheReader CacheReader::open(const std::string &pin_root) {
    CacheReader r;
    auto open_one = [&](const char *name, uint32_t value_size, uint32_t entries, Map *m) -> void * {
        const std::string path = pin_root + "/" + name;
        // A read-write fd although the mapping is read-only: the kernel refuses shared
        // mappings of files opened read-only (do_mmap drops VM_SHARED for them).
        int fd = bpf_obj_get(path.c_str());
        if (fd < 0)
            throw sys_error("cache table " + path, errno);
        try {
            m->addr = map_array(fd, value_size, entries, false, &m->len, "cache table " + path);
        } catch (...) {
            close(fd);
            throw;
        }
        close(fd);  // the mapping keeps the map alive
        return m->addr;
    };
    open_one(OOB_PIN_ROUTE_CACHE, sizeof(oob_route_slot), OOB_ROUTE_SLOTS, &r.route_map_);
    open_one(OOB_PIN_NEIGH_CACHE, sizeof(oob_neigh_slot), OOB_NEIGH_SLOTS, &r.neigh_map_);
    open_one(OOB_PIN_CACHE_STATE, sizeof(oob_cache_state), 1, &r.state_map_);
    r.state_ = static_cast<const oob_cache_state *>(r.state_map_.addr);
    r.routes_ = RouteView(static_cast<const oob_route_slot *>(r.route_map_.addr),
                          reinterpret_cast<const uint64_t *>(&r.state_->route_gen));
    r.neighs_ = NeighView(static_cast<const oob_neigh_slot *>(r.neigh_map_.addr),
                          reinterpret_cast<const uint64_t *>(&r.state_->neigh_gen));
    return r;
}

void CacheReader::unmap() noexcept {
    for (Map *m : {&route_map_, &neigh_map_, &state_map_}) {
        if (m->addr)
            munmap(m->addr, m->len);
        *m = Map{};
    }
    routes_ = RouteView();
    neighs_ = NeighView();
    state_ = nullptr;
}

CacheReader::~CacheReader() {
    unmap();
}

CacheReader::CacheReader(CacheReader &&o) noexcept {
    *this = std::move(o);
}

CacheReader &CacheReader::operator=(CacheReader &&o) noexcept {
    if (this != &o) {
        unmap();
        route_map_ = std::exchange(o.route_map_, Map{});
        neigh_map_ = std::exchange(o.neigh_map_, Map{});
        state_map_ = std::exchange(o.state_map_, Map{});
        routes_ = std::exchange(o.routes_, RouteView());
        neighs_ = std::exchange(o.neighs_, NeighView());
        state_ = std::exchange(o.state_, nullptr);
    }
    return *this;
}

uint32_t CacheReader::netns() const noexcept {
    if (!state_ || __atomic_load_n(&state_->magic, __ATOMIC_ACQUIRE) != OOB_CACHE_MAGIC)
        return 0;
    return __atomic_load_n(&state_->netns, __ATOMIC_RELAXED);
}

// ---- keys --------------------------------------------------------------------------------------

oob_route_key route_key(uint32_t netns, int family, const void *dst, const void *src, uint32_t mark,
                        uint8_t tos, uint32_t oif) {
    oob_route_key k{};
    const size_t alen = family == AF_INET6 ? 16 : 4;
    k.netns = netns;
    k.oif = oif;
    k.mark = mark;
    k.family = uint8_t(family);
    k.tos = uint8_t(tos & 0xfc);  // DSCP: the kernel masks ECN off before routing
    std::memcpy(k.dst, dst, alen);
    if (src)
        std::memcpy(k.src, src, alen);
    return k;
}

oob_neigh_key neigh_key(uint32_t ifindex, int family, const void *addr) {
    oob_neigh_key k{};
    k.ifindex = ifindex;
    k.family = uint8_t(family);
    std::memcpy(k.addr, addr, family == AF_INET6 ? 16 : 4);
    return k;
}

oob_neigh_key next_hop(const oob_route_key &k, const oob_route &r) {
    return neigh_key(r.oif, k.family, (r.flags & OOB_ROUTE_GATEWAY) ? r.gw : k.dst);
}

uint32_t current_netns() {
    struct stat st {};
    if (stat("/proc/thread-self/ns/net", &st) != 0)
        throw sys_error("stat /proc/thread-self/ns/net", errno);
    return uint32_t(st.st_ino);
}

}  // namespace oobbpf::learn
