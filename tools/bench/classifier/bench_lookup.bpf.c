// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Benchmark baseline: what any classifier must do at least. The classifier core's own parser
 * (parse.h: Ethernet, tags, IPv4/IPv6, UDP/TCP, with its bounds checks), the rule key built
 * from it, and one hash lookup of that key. No ports, no VLAN sets, no counters.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define OOB_INLINE static __always_inline
#define OOB_CTX struct xdp_md *

/* The same frame adapter as the classifier's (bpf_env.h), without its maps. */
OOB_INLINE int oob_load(struct xdp_md *ctx, __u32 off, void *buf, __u32 len)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if (off <= 0x3fff) {
		__u8 *p = (__u8 *)data + off;

		if ((void *)(p + len) <= end) {
			__builtin_memcpy(buf, p, len);
			return 0;
		}
	}
	return bpf_xdp_load_bytes(ctx, off, buf, len) ? -1 : 0;
}

OOB_INLINE __u32 oob_frame_len(struct xdp_md *ctx)
{
	return (__u32)bpf_xdp_get_buff_len(ctx);
}

#include <oobbpf/parse.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OOB_MAX_RULE_ENTRIES);
	__type(key, struct oob_rule_key);
	__type(value, struct oob_rule_val);
} bench_rules SEC(".maps");

SEC("xdp.frags")
int bench_lookup(struct xdp_md *ctx)
{
	struct oob_pkt pkt = {};
	struct oob_rule_key k;
	const struct oob_rule_val *v;

	if (oob_parse_l2(ctx, &pkt) || oob_parse_l3(ctx, &pkt))
		return XDP_PASS;
	__builtin_memset(&k, 0, sizeof(k));
	k.ifindex = ctx->ingress_ifindex;
	k.vid = pkt.vid;
	k.l3proto = pkt.l3proto;
	k.l4proto = pkt.l4proto;
	k.dscp = pkt.dscp;
	k.flags = pkt.flags;
	k.sport = pkt.sport;
	k.dport = pkt.dport;
	__builtin_memcpy(k.src, pkt.src, sizeof(k.src));
	__builtin_memcpy(k.dst, pkt.dst, sizeof(k.dst));
	v = bpf_map_lookup_elem(&bench_rules, &k);
	if (v && v->action == OOB_DROP)
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
