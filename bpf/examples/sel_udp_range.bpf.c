// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Example selector: divert UDP datagrams (IPv4 and IPv6) whose destination port lies in a range.
 *
 * The range is load-time configuration, not a compile-time switch: the map udp_range holds it
 * (pinned by `oobbpf load` as <pin root>/selector/<dev>/maps/udp_range) and can be changed
 * at run time without reloading. While the map's entry is all zeroes, the range given at compile
 * time applies (-DUDP_PORT_LO=... -DUDP_PORT_HI=..., default 47000-47999).
 *
 *	bpftool map update pinned $ROOT/selector/eth0/maps/udp_range \
 *		key hex 00 00 00 00 value hex 10 27 1f 27 01 00 00 00   # 10000-10015, DIVERT
 */
#include "vmlinux.h"
#include <oobbpf/selector.h>

#ifndef UDP_PORT_LO
#define UDP_PORT_LO 47000
#endif
#ifndef UDP_PORT_HI
#define UDP_PORT_HI 47999
#endif

/* Host byte order: the map is written by people with bpftool. */
struct udp_range {
	__u16 lo;
	__u16 hi;
	__u32 verdict;		/* what a datagram in the range gets: OOB_DIVERT, OOB_DROP, OOB_PASS */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct udp_range);
} udp_range SEC(".maps");

OOB_SELECTOR(sel_udp_range)(struct xdp_md *ctx, const struct oob_pkt *pkt)
{
	struct udp_range def = { .lo = UDP_PORT_LO, .hi = UDP_PORT_HI, .verdict = OOB_DIVERT };
	const struct udp_range *r;
	__u32 zero = 0;
	__u16 dport;

	/* A fragment has no ports (parse.h leaves them zero): not ours. */
	if (pkt->l4proto != OOB_IPPROTO_UDP || (pkt->flags & OOB_KF_FRAG))
		return OOB_SKIP;
	r = bpf_map_lookup_elem(&udp_range, &zero);
	if (!r || (!r->lo && !r->hi))
		r = &def;
	dport = OOB_NTOHS(pkt->dport);
	if (dport < r->lo || dport > r->hi)
		return OOB_SKIP;
	return r->verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
