/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Layouts of route and neighbour learning beyond the routes and neighs maps of abi.h: the
 * lock-free cache tables the oob send path reads (shared with oob processes through bpffs), and
 * the record of a decided flow that a learner back-end hands the daemon's learner (the tp_btf
 * programs through their ring buffer, the kernel module through read() on /dev/oobbpf).
 *
 * Compiled by clang -target bpf (after vmlinux.h), by Kbuild and by the C++ code. Same rules as
 * abi.h: fixed-width types, explicit padding, asserted sizes; tests/layout checks every struct
 * here against the BTF of bpf/abi_anchor.bpf.c.
 */
#ifndef OOBBPF_LEARN_H
#define OOBBPF_LEARN_H

#include <oobbpf/abi.h>

/* ---- cache tables: lock-free reads for the oob send path ---------------------------------- */
/*
 * Two BPF_F_MMAPABLE arrays (route_cache, neigh_cache) hold open-addressed hash tables of
 * (key, value) slots, and a third (cache_state, one element) their generation counters. Readers
 * mmap them read-only and never make a system call per lookup; one writer (the daemon's learner)
 * updates them through its own mapping. The consistency rule:
 *
 *  - A slot is a seqlock: seq is odd while the writer changes the slot; a reader copies the slot
 *    and accepts the copy only if seq was even and unchanged around the copy.
 *  - Slots never move while the table is in use: a removed entry leaves a tombstone
 *    (OOB_SLOT_DEAD) and a lookup probes linearly from hash(key) to the first empty slot. An
 *    entry that stays in the table is therefore always found.
 *  - The generation grows by 2 on every insertion and removal. A miss is only a miss if the
 *    generation was the same before and after the probe (else the key may have moved between
 *    a removal and a re-insertion: retry).
 *  - An odd generation means the writer is compacting the table (rewriting it without
 *    tombstones, rare): readers retry, and after a bounded number of tries report "busy" so the
 *    caller can fall back to a bpf() lookup in the routes/neighs hash maps.
 */
#define OOB_CACHE_MAGIC 0x00bbca01U
#define OOB_CACHE_VERSION 1
#define OOB_ROUTE_SLOTS (2 * OOB_MAX_ROUTES) /* power of two; load factor <= 1/2 */
#define OOB_NEIGH_SLOTS (2 * OOB_MAX_NEIGHS)

#define OOB_SLOT_EMPTY 0
#define OOB_SLOT_USED 1
#define OOB_SLOT_DEAD 2 /* tombstone: probe on */

struct oob_cache_state {
    __u32 magic;       /* OOB_CACHE_MAGIC once the writer initialised the tables */
    __u32 version;     /* OOB_CACHE_VERSION */
    __u32 route_slots; /* OOB_ROUTE_SLOTS */
    __u32 neigh_slots; /* OOB_NEIGH_SLOTS */
    __u64 route_gen;   /* +2 per insertion/removal; odd while compacting */
    __u64 neigh_gen;
    __u32 writer_pid;
    __u32 netns; /* namespace whose decisions the tables hold */
    __u64 pad[3];
};
OOB_ASSERT_SIZE(oob_cache_state, 64);

struct oob_route_slot {
    __u32 seq;   /* seqlock: odd while being written */
    __u32 state; /* OOB_SLOT_* */
    struct oob_route_key key;
    struct oob_route route;
};
OOB_ASSERT_SIZE(oob_route_slot, 128);

struct oob_neigh_slot {
    __u32 seq;
    __u32 state;
    struct oob_neigh_key key;
    struct oob_neigh neigh;
    __u64 pad;
};
OOB_ASSERT_SIZE(oob_neigh_slot, 64);

/*
 * The slot a key hashes to: 32-bit words of the key mixed with the murmur3 64-bit finalizer.
 * Every writer and reader must compute the same value, so this is part of the layout.
 */
static inline __u32 oob_cache_hash(const __u32 *w, unsigned int words)
{
    __u64 h = 0x9e3779b97f4a7c15ULL ^ words;
    unsigned int i;

    for (i = 0; i < words; i++) {
        h ^= w[i];
        h *= 0xff51afd7ed558ccdULL;
        h ^= h >> 33;
    }
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (__u32)h;
}

/* Pinned names (next to OOB_PIN_ROUTES and OOB_PIN_NEIGHS). */
#define OOB_PIN_ROUTE_CACHE "route_cache"
#define OOB_PIN_NEIGH_CACHE "neigh_cache"
#define OOB_PIN_CACHE_STATE "cache_state"

/* ---- the tp_btf learner's private records (BPF <-> daemon, never pinned) ------------------ */

/*
 * An output lookup towards a learned device, for a flow that has no entry yet. It is a trigger,
 * not the decision: the tracepoint fires per table and before multipath selection, so the
 * daemon asks the kernel for the whole decision (RTM_GETROUTE with key's selectors).
 */
struct oob_learn_event {
    struct oob_route_key key;
    __u32 nh_ifindex; /* the device the table lookup found */
    __u32 table;
    __u64 ts_ns; /* bpf_ktime_get_ns() */
};
OOB_ASSERT_SIZE(oob_learn_event, 64);

/* Counters of the tp_btf programs (array indexes of learn_stats). */
#define OOB_LS_EMITTED 0   /* events handed to user space */
#define OOB_LS_DROPPED 1   /* ring buffer full: dropped (retried on the next lookup) */
#define OOB_LS_THROTTLED 2 /* same unknown flow again within the throttle interval */
#define OOB_LS_MAX 4

#endif /* OOBBPF_LEARN_H */
