// SPDX-License-Identifier: MIT
// The lock-free cache tables (route_cache.h) in plain memory: semantics of the single writer,
// and readers racing it. The same tables over mmap'ed BPF arrays are tested in learn_test.
#include "route_cache.h"
#include "store.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

using namespace oobbpf::learn;

namespace {

template <class T>
struct Table {
    using Slot = typename T::Slot;
    Table() {
        slots.reset(static_cast<Slot *>(std::aligned_alloc(64, sizeof(Slot) * T::kSlots)));
        std::memset(static_cast<void *>(slots.get()), 0, sizeof(Slot) * T::kSlots);
        w = CacheWriter<T>(slots.get(), &gen);
    }
    struct Free {
        void operator()(Slot *p) const { std::free(p); }
    };
    std::unique_ptr<Slot, Free> slots;
    uint64_t gen = 0;
    CacheWriter<T> w;
    CacheView<T> view() const { return CacheView<T>(slots.get(), &gen); }
};

oob_route_key key_n(uint32_t n) {
    uint32_t dst = htonl(0x0a000000U + n);
    return route_key(4026531840U, AF_INET, &dst);
}

// A value whose every field is derived from (n, version): a torn copy cannot pass check().
oob_route value_of(uint32_t n, uint32_t version) {
    oob_route r{};
    r.oif = n ^ version;
    r.lower_ifindex = ~version;
    r.vid = uint16_t(version);
    r.family = AF_INET;
    r.flags = OOB_ROUTE_GATEWAY;
    r.table = version;
    r.mtu = n + version;
    for (int i = 0; i < 4; i++) {
        r.gw[i] = version * 2654435761U + uint32_t(i);
        r.prefsrc[i] = n * 40503U + version + uint32_t(i);
    }
    r.learned_ns = (uint64_t(version) << 32) | n;
    r.seq = version * 2;
    return r;
}

bool consistent(uint32_t n, const oob_route &r) {
    const uint32_t version = r.table;
    oob_route want = value_of(n, version);
    return std::memcmp(&want, &r, sizeof(r)) == 0;
}

}  // namespace

TEST(Cache, PutFindUpdateErase) {
    auto t = std::make_unique<Table<RouteTable>>();
    oob_route out{};
    EXPECT_EQ(t->view().find(key_n(1), &out), Lookup::miss);
    t->w.put(key_n(1), value_of(1, 1));
    ASSERT_EQ(t->view().find(key_n(1), &out), Lookup::hit);
    EXPECT_TRUE(consistent(1, out));
    EXPECT_EQ(out.table, 1U);
    const uint64_t g = t->gen;
    t->w.put(key_n(1), value_of(1, 2));  // in place: no generation change
    EXPECT_EQ(t->gen, g);
    ASSERT_EQ(t->view().find(key_n(1), &out), Lookup::hit);
    EXPECT_EQ(out.table, 2U);
    EXPECT_EQ(t->view().find(key_n(2), &out), Lookup::miss);
    EXPECT_TRUE(t->w.erase(key_n(1)));
    EXPECT_FALSE(t->w.erase(key_n(1)));
    EXPECT_EQ(t->gen, g + 2);
    EXPECT_EQ(t->view().find(key_n(1), &out), Lookup::miss);
    EXPECT_EQ(t->w.used(), 0U);
    EXPECT_EQ(t->w.dead(), 1U);
}

TEST(Cache, CollidingKeysProbeAndSurviveRemovalOfOthers) {
    // Keys that hash to the same slot: removing the first must not hide the later ones.
    auto t = std::make_unique<Table<RouteTable>>();
    const uint32_t home = cache_slot_of<RouteTable>(key_n(0));
    std::vector<uint32_t> same;
    for (uint32_t n = 1; same.size() < 4 && n < 50000000; n++)
        if (cache_slot_of<RouteTable>(key_n(n)) == home)
            same.push_back(n);
    ASSERT_EQ(same.size(), 4U);
    for (uint32_t n : same)
        t->w.put(key_n(n), value_of(n, 7));
    EXPECT_TRUE(t->w.erase(key_n(same[0])));
    EXPECT_TRUE(t->w.erase(key_n(same[2])));
    oob_route out{};
    EXPECT_EQ(t->view().find(key_n(same[1]), &out), Lookup::hit);
    EXPECT_EQ(t->view().find(key_n(same[3]), &out), Lookup::hit);
    EXPECT_EQ(t->view().find(key_n(same[0]), &out), Lookup::miss);
    // Re-insertion reuses the first tombstone on the probe path.
    t->w.put(key_n(same[0]), value_of(same[0], 8));
    EXPECT_EQ(t->w.dead(), 1U);
    EXPECT_EQ(t->view().find(key_n(same[0]), &out), Lookup::hit);
    EXPECT_EQ(out.table, 8U);
}

TEST(Cache, RebuildDropsTombstonesAndKeepsEntries) {
    auto t = std::make_unique<Table<RouteTable>>();
    std::vector<std::pair<oob_route_key, oob_route>> live;
    for (uint32_t n = 0; n < 1000; n++)
        t->w.put(key_n(n), value_of(n, 1));
    for (uint32_t n = 0; n < 1000; n += 2)
        t->w.erase(key_n(n));
    for (uint32_t n = 1; n < 1000; n += 2)
        live.emplace_back(key_n(n), value_of(n, 1));
    const uint64_t g = t->gen;
    t->w.rebuild(live);
    EXPECT_EQ(t->gen % 2, 0U);
    EXPECT_GT(t->gen, g);
    EXPECT_EQ(t->w.used(), 500U);
    EXPECT_EQ(t->w.dead(), 0U);
    oob_route out{};
    for (uint32_t n = 0; n < 1000; n++)
        EXPECT_EQ(t->view().find(key_n(n), &out), n % 2 ? Lookup::hit : Lookup::miss) << n;
}

TEST(Cache, OddGenerationMeansBusy) {
    auto t = std::make_unique<Table<RouteTable>>();
    t->w.put(key_n(1), value_of(1, 1));
    t->gen |= 1;  // as while a compaction runs
    oob_route out{};
    EXPECT_EQ(t->view().find(key_n(1), &out), Lookup::busy);
}

TEST(Cache, NeighbourTable) {
    auto t = std::make_unique<Table<NeighTable>>();
    uint32_t a = htonl(0x0a010002U);
    oob_neigh n{{2, 0, 0, 0, 0, 1}, 0x02, 0, 0, 0};
    t->w.put(neigh_key(3, AF_INET, &a), n);
    oob_neigh out{};
    ASSERT_EQ(t->view().find(neigh_key(3, AF_INET, &a), &out), Lookup::hit);
    EXPECT_EQ(out.mac[5], 1);
    EXPECT_EQ(t->view().find(neigh_key(4, AF_INET, &a), &out), Lookup::miss);
}

// Readers racing the writer: every hit is a whole (key, value) pair (never torn), keys that are
// never removed are never missed, and churn keys come and go (with compactions) meanwhile.
TEST(Cache, ReadersRacingWriter) {
    auto t = std::make_unique<Table<RouteTable>>();
    constexpr uint32_t kStable = 512, kChurn = 4096;
    for (uint32_t n = 0; n < kStable; n++)
        t->w.put(key_n(n), value_of(n, 0));
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> hits{0}, torn{0}, lost{0}, busy{0};
    auto reader = [&] {
        CacheView<RouteTable> v = t->view();
        uint64_t i = 0, h = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            const uint32_t n = uint32_t(i++ % (kStable + kChurn));
            oob_route out{};
            Lookup r = v.find(key_n(n), &out);
            if (r == Lookup::hit) {
                h++;
                if (!consistent(n, out))
                    torn++;
            } else if (r == Lookup::miss && n < kStable) {
                lost++;
            } else if (r == Lookup::busy) {
                busy++;
            }
        }
        hits += h;
    };
    std::vector<std::thread> readers;
    for (int i = 0; i < 2; i++)
        readers.emplace_back(reader);
    uint32_t compactions = 0;
    for (uint32_t version = 1; version < 400; version++) {
        for (uint32_t n = 0; n < kStable; n++)
            t->w.put(key_n(n), value_of(n, version));  // in-place updates under the seqlock
        for (uint32_t n = kStable; n < kStable + kChurn; n++) {
            // churn keys move around: a different key set every round
            const uint32_t m = n + (version % 7) * kChurn;
            if (version % 2)
                t->w.put(key_n(m), value_of(m, version));
            else
                t->w.erase(key_n(n + ((version - 1) % 7) * kChurn));
        }
        if (t->w.dead() > 20000) {
            std::vector<std::pair<oob_route_key, oob_route>> live;
            for (uint32_t n = 0; n < kStable; n++)
                live.emplace_back(key_n(n), value_of(n, version));
            t->w.rebuild(live);
            compactions++;
        }
    }
    stop = true;
    for (auto &r : readers)
        r.join();
    EXPECT_GT(hits.load(), 10000U);
    EXPECT_EQ(torn.load(), 0U) << "a reader saw a torn entry";
    EXPECT_EQ(lost.load(), 0U) << "a reader missed an entry that was never removed "
                               << "(busy answers: " << busy.load() << ")";
    EXPECT_GT(compactions, 0U);
}
