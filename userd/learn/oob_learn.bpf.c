// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Route learning on stock kernels: the fib_table_lookup and fib6_table_lookup tracepoints tell
 * the daemon about output lookups towards oob ports, for flows it has not learned yet.
 *
 * The tracepoints are triggers, not decisions. They fire once per table the RPDB consults (a
 * suppressed or later overridden result shows up too), for input and output lookups alike,
 * before multipath selection, and never for deletions; they carry no preferred source and no
 * MTU. So this program only filters (output lookup, a learned device, a flow with no entry yet,
 * not already reported within the throttle interval) and hands the flow's selectors to user
 * space, which asks the kernel for the complete decision with RTM_GETROUTE and follows route,
 * rule, neighbour and link changes over rtnetlink.
 *
 * The maps that oob code reads (routes, neighs and the cache tables) are declared here so that
 * they carry BTF (bpftool map dump prints field names) and are pinned by the daemon; the
 * programs only read the routes map.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <oobbpf/learn.h>

#define LOOPBACK_IFINDEX 1 /* output lookups carry it as the input interface */
#define AF_INET 2
#define AF_INET6 10
#define RTN_UNICAST 1

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OOB_MAX_ROUTES);
	__type(key, struct oob_route_key);
	__type(value, struct oob_route);
} oob_routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OOB_MAX_NEIGHS);
	__type(key, struct oob_neigh_key);
	__type(value, struct oob_neigh);
} oob_neighs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, OOB_ROUTE_SLOTS);
	__type(key, __u32);
	__type(value, struct oob_route_slot);
} oob_route_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, OOB_NEIGH_SLOTS);
	__type(key, __u32);
	__type(value, struct oob_neigh_slot);
} oob_neigh_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct oob_cache_state);
} oob_cache_state SEC(".maps");

/*
 * Devices whose decisions are learned, by ifindex, in the namespace this object learns for
 * (learn_netns): every daemon loads its own object. An array, because this lookup runs on every
 * output route lookup of the system and an array lookup is inlined by the verifier; devices
 * with larger ifindexes go to learn_ports_big.
 */
#define LEARN_PORTS_DIRECT 65536
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LEARN_PORTS_DIRECT);
	__type(key, __u32);
	__type(value, __u32);
} learn_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OOB_MAX_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} learn_ports_big SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} learn_events SEC(".maps");

/* Unknown flows reported recently: one event per flow and throttle interval, not per packet. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct oob_route_key);
	__type(value, __u64);
} learn_pending SEC(".maps");

/*
 * Flows recently found in oob_routes, per CPU, direct-mapped: a known flow (the steady state)
 * costs a cheap hash, an inlined array lookup and a compare instead of a hash-map lookup with a
 * 48-byte key. Entries only leave oob_routes through the daemon, which then bumps learn_gen:
 * a memo entry of an older generation is ignored.
 */
#define LEARN_MEMO_SLOTS 4096
struct learn_memo {
	struct oob_route_key key;
	__u64 gen;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LEARN_MEMO_SLOTS);
	__type(key, __u32);
	__type(value, struct learn_memo);
} learn_memo SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} learn_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OOB_LS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} learn_stats SEC(".maps");

/* Set before load. */
const volatile __u32 learn_netns;		  /* inode of the namespace learned for */
const volatile __u64 throttle_ns = 1000000000ULL; /* quiet time of a reported unknown flow */

/* Kernels before the switch to dscp_t carried the routing TOS as flowic_tos. */
struct flowi_common___tos {
	__u8 flowic_tos;
} __attribute__((preserve_access_index));

/* The DS field the lookup routed on, ECN bits off (the key's tos). */
static __always_inline __u8 flow_tos(const struct flowi_common *c)
{
	if (bpf_core_field_exists(c->flowic_dscp))
		return c->flowic_dscp;
	return ((const struct flowi_common___tos *)c)->flowic_tos & 0xfc;
}

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&learn_stats, &idx);

	if (c)
		*c += 1;
}

/*
 * A subprogram of its own: were both lookups in one function, clang would merge them into one
 * call with a map chosen at run time, which the verifier cannot inline.
 */
static __noinline int learned_big(__u32 ifindex)
{
	return bpf_map_lookup_elem(&learn_ports_big, &ifindex) != NULL;
}

/* Is this nexthop device one whose decisions are learned? */
static __always_inline int learned_dev(struct net_device *dev)
{
	__u32 ifindex, *on;

	if (!dev)
		return 0;
	/*
	 * Plain loads: tp_btf arguments are BTF pointers, so the verifier turns these into
	 * fault-tolerant loads without a helper call each.
	 */
	ifindex = dev->ifindex;
	if (ifindex < LEARN_PORTS_DIRECT) {
		on = bpf_map_lookup_elem(&learn_ports, &ifindex); /* inlined: an array */
		if (!on || !*on)
			return 0;
	} else if (!learned_big(ifindex)) {
		return 0;
	}
	return 1;
}

/*
 * Is the device in the namespace learned for? The IPv4 tracepoint has no net argument: the
 * namespace is the nexthop device's. Checked after the memo (a pointer chase the known-flow
 * path can do without): a memo hit only ever suppresses a report.
 */
static __always_inline int learned_netns(struct net_device *dev)
{
	return dev->nd_net.net->ns.inum == learn_netns;
}

static __always_inline int same_key(const struct oob_route_key *a, const struct oob_route_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	int i;

	for (i = 0; i < (int)(sizeof(*a) / 8); i++)
		if (x[i] != y[i])
			return 0;
	return 1;
}

static __always_inline __u32 memo_slot(const struct oob_route_key *k)
{
	__u32 h = k->dst[0] ^ k->dst[3] ^ k->src[0] ^ k->src[3] ^ k->mark ^ k->oif ^ k->tos;

	h *= 0x9e3779b1U;
	return h >> 20; /* LEARN_MEMO_SLOTS == 4096 */
}

static __always_inline void report(struct oob_route_key *key, struct net_device *dev, __u32 table)
{
	struct oob_learn_event *ev;
	struct learn_memo *memo;
	__u64 now, *last, *gen;
	__u32 zero = 0, slot;

	gen = bpf_map_lookup_elem(&learn_gen, &zero);
	if (!gen)
		return;
	slot = memo_slot(key);
	memo = bpf_map_lookup_elem(&learn_memo, &slot);
	if (!memo)
		return;
	if (memo->gen == *gen && same_key(&memo->key, key))
		return;
	if (!learned_netns(dev))
		return;
	/* Known flow: user space revalidates it on every route, rule and link change. */
	if (bpf_map_lookup_elem(&oob_routes, key)) {
		__builtin_memcpy(&memo->key, key, sizeof(*key));
		memo->gen = *gen;
		return;
	}
	now = bpf_ktime_get_ns();
	last = bpf_map_lookup_elem(&learn_pending, key);
	if (last && now - *last < throttle_ns) {
		count(OOB_LS_THROTTLED);
		return;
	}
	ev = bpf_ringbuf_reserve(&learn_events, sizeof(*ev), 0);
	if (!ev) {
		/* Not marked pending: the next lookup of this flow tries again. */
		count(OOB_LS_DROPPED);
		return;
	}
	__builtin_memcpy(&ev->key, key, sizeof(*key));
	ev->nh_ifindex = dev->ifindex;
	ev->table = table;
	ev->ts_ns = now;
	bpf_ringbuf_submit(ev, 0);
	bpf_map_update_elem(&learn_pending, key, &now, BPF_ANY);
	count(OOB_LS_EMITTED);
}

SEC("tp_btf/fib_table_lookup")
int BPF_PROG(learn_fib4, u32 tb_id, const struct flowi4 *flp, const struct fib_nh_common *nhc,
	     int err)
{
	struct oob_route_key key = {};
	struct net_device *dev;

	if (err || !nhc)
		return 0;
	if (flp->__fl_common.flowic_iif != LOOPBACK_IFINDEX)
		return 0; /* an input (forwarding or local delivery) lookup */
	dev = nhc->nhc_dev;
	if (!learned_dev(dev))
		return 0;
	key.netns = learn_netns;
	key.oif = flp->__fl_common.flowic_oif;
	key.mark = flp->__fl_common.flowic_mark;
	key.family = AF_INET;
	key.tos = flow_tos(&flp->__fl_common);
	key.dst[0] = flp->daddr;
	key.src[0] = flp->saddr;
	report(&key, dev, tb_id);
	return 0;
}

SEC("tp_btf/fib6_table_lookup")
int BPF_PROG(learn_fib6, const struct net *net, const struct fib6_result *res,
	     struct fib6_table *table, const struct flowi6 *flp)
{
	struct oob_route_key key = {};
	struct net_device *dev;
	struct fib6_nh *nh;

	if (res->fib6_type != RTN_UNICAST)
		return 0; /* no route, blackhole, unreachable, prohibit, local */
	if (flp->__fl_common.flowic_iif != LOOPBACK_IFINDEX)
		return 0;
	nh = res->nh;
	if (!nh)
		return 0;
	dev = nh->nh_common.nhc_dev;
	if (!learned_dev(dev))
		return 0;
	key.netns = learn_netns;
	key.oif = flp->__fl_common.flowic_oif;
	key.mark = flp->__fl_common.flowic_mark;
	key.family = AF_INET6;
	/* Traffic class, DSCP part: the flow label word is tclass << 20 | label. */
	key.tos = (bpf_ntohl(flp->flowlabel) >> 20) & 0xfc;
	__builtin_memcpy(key.dst, flp->daddr.in6_u.u6_addr32, sizeof(key.dst));
	__builtin_memcpy(key.src, flp->saddr.in6_u.u6_addr32, sizeof(key.src));
	report(&key, dev, table ? table->tb6_id : 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
