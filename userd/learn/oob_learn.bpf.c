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
#include "learn_abi.h"

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

/* Devices whose decisions are learned, per namespace (ifindexes are per namespace). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OOB_MAX_PORTS);
	__type(key, struct oob_learn_port_key);
	__type(value, __u32);
} learn_ports SEC(".maps");

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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OOB_LS_MAX);
	__type(key, __u32);
	__type(value, __u64);
} learn_stats SEC(".maps");

/* Set before load: how long an unknown flow stays quiet after being reported. */
const volatile __u64 throttle_ns = 1000000000ULL;

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&learn_stats, &idx);

	if (c)
		*c += 1;
}

/* Is this device learned? (ifindex of the nexthop device, in its own namespace) */
static __always_inline int learned_dev(struct net_device *dev, __u32 *netns)
{
	struct oob_learn_port_key pk;

	if (!dev)
		return 0;
	pk.netns = BPF_CORE_READ(dev, nd_net.net, ns.inum);
	pk.ifindex = BPF_CORE_READ(dev, ifindex);
	*netns = pk.netns;
	return bpf_map_lookup_elem(&learn_ports, &pk) != NULL;
}

static __always_inline void report(struct oob_route_key *key, __u32 nh_ifindex, __u32 table)
{
	struct oob_learn_event *ev;
	__u64 now, *last;

	/* Known flow: user space revalidates it on every route, rule and link change. */
	if (bpf_map_lookup_elem(&oob_routes, key))
		return;
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
	ev->nh_ifindex = nh_ifindex;
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
	__u32 netns;

	if (err || !nhc)
		return 0;
	if (flp->__fl_common.flowic_iif != LOOPBACK_IFINDEX)
		return 0; /* an input (forwarding or local delivery) lookup */
	dev = nhc->nhc_dev;
	/* No net argument here: the namespace is the nexthop device's. */
	if (!learned_dev(dev, &netns))
		return 0;
	key.netns = netns;
	key.oif = flp->__fl_common.flowic_oif;
	key.mark = flp->__fl_common.flowic_mark;
	key.family = AF_INET;
	key.tos = flp->__fl_common.flowic_dscp; /* DS field with ECN masked off */
	key.dst[0] = flp->daddr;
	key.src[0] = flp->saddr;
	report(&key, dev->ifindex, tb_id);
	return 0;
}

SEC("tp_btf/fib6_table_lookup")
int BPF_PROG(learn_fib6, const struct net *net, const struct fib6_result *res,
	     struct fib6_table *table, const struct flowi6 *flp)
{
	struct oob_route_key key = {};
	struct net_device *dev;
	struct fib6_nh *nh;
	__u32 netns;

	if (res->fib6_type != RTN_UNICAST)
		return 0; /* no route, blackhole, unreachable, prohibit, local */
	if (flp->__fl_common.flowic_iif != LOOPBACK_IFINDEX)
		return 0;
	nh = res->nh;
	if (!nh)
		return 0;
	dev = nh->nh_common.nhc_dev;
	if (!learned_dev(dev, &netns))
		return 0;
	key.netns = netns;
	key.oif = flp->__fl_common.flowic_oif;
	key.mark = flp->__fl_common.flowic_mark;
	key.family = AF_INET6;
	/* Traffic class, DSCP part: the flow label word is tclass << 20 | label. */
	key.tos = (bpf_ntohl(flp->flowlabel) >> 20) & 0xfc;
	BPF_CORE_READ_INTO(&key.dst, flp, daddr);
	BPF_CORE_READ_INTO(&key.src, flp, saddr);
	report(&key, dev->ifindex, table ? table->tb6_id : 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
