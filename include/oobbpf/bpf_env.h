/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The BPF environment of the classifier core: the shared maps, the adapters parse.h and
 * classify.h ask for, and the finishing step (action + counters) shared by the built-in XDP
 * program and by users' custom selectors (selector.h).
 *
 * Every object that includes this file declares the same maps; the daemon pins its own and a
 * selector loaded by `oobbpf load` reuses the pinned ones (bpf_map__reuse_fd), so all see one
 * state. BPF only: include after vmlinux.h and bpf_helpers.h.
 */
#ifndef OOBBPF_BPF_ENV_H
#define OOBBPF_BPF_ENV_H

#include <bpf/bpf_helpers.h>
#include <oobbpf/abi.h>

#define OOB_INLINE static __always_inline
#define OOB_CTX struct xdp_md *
#define OOB_ENV void *

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct oob_config);
} oob_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OOB_MAX_DEVS);
	__type(key, __u32);
	__type(value, struct oob_dev);
} oob_devs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OOB_MAX_PORTS);
	__type(key, struct oob_port_key);
	__type(value, struct oob_port);
} oob_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OOB_MAX_VLAN_ENTRIES);
	__type(key, struct oob_vlan_key);
	__type(value, struct oob_vlan);
} oob_vlans SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OOB_MAX_RULE_ENTRIES);
	__type(key, struct oob_rule_key);
	__type(value, struct oob_rule_val);
} oob_rules SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2); /* one per generation */
	__type(key, __u32);
	__type(value, struct oob_rule_masks);
} oob_rule_masks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OOB_MAX_RULES);
	__type(key, __u32);
	__type(value, struct oob_rule_stats);
} oob_rule_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, OOB_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct oob_port_stats);
} oob_port_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct oob_last);
} oob_last SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, OOB_XSK_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} oob_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OOB_XSK_SLOTS);
	__type(key, __u32);
	__type(value, struct oob_xsk_reg);
} oob_xsk_regs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, OOB_MAX_DEVS);
	__type(key, __u32);
	__type(value, __u32);
} oob_selectors SEC(".maps");

#include <oobbpf/bpf_tap.h>

/*
 * Frame bytes. Headers normally sit in the linear part, read directly after a bounds check; the
 * offset is capped first so the verifier can bound the packet pointer. A frame whose headers
 * reach into XDP frags (or lie past the cap) falls back to bpf_xdp_load_bytes().
 */
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

OOB_INLINE const struct oob_dev *oob_env_dev(void *env, __u32 ifindex)
{
	return bpf_map_lookup_elem(&oob_devs, &ifindex);
}

OOB_INLINE const struct oob_port *oob_env_port(void *env, const struct oob_port_key *k)
{
	return bpf_map_lookup_elem(&oob_ports, k);
}

OOB_INLINE const struct oob_vlan *oob_env_vlan(void *env, const struct oob_vlan_key *k)
{
	return bpf_map_lookup_elem(&oob_vlans, k);
}

OOB_INLINE const struct oob_config *oob_env_config(void *env)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&oob_config, &zero);
}

OOB_INLINE const struct oob_rule_masks *oob_env_masks(void *env, __u32 gen)
{
	return bpf_map_lookup_elem(&oob_rule_masks, &gen);
}

OOB_INLINE const struct oob_rule_val *oob_env_rule(void *env, const struct oob_rule_key *k)
{
	return bpf_map_lookup_elem(&oob_rules, k);
}

/* The rule search as a BPF global function (classify.h): verified once, not per parse path. */
#define OOB_RULE_SEARCH_GLOBAL
#include <oobbpf/classify.h>

OOB_INLINE struct oob_last *oob_last_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&oob_last, &zero);
}

/*
 * A copy of the judged frame for the taps of its device (bpf_tap.h). OOB_NO_TAP builds the
 * classifier without it: the benchmark's measure of what the tap costs while it is off.
 */
OOB_INLINE void oob_tap_frame(struct xdp_md *ctx, const struct oob_last *st,
			      const struct oob_result *res)
{
#ifndef OOB_NO_TAP
	struct oob_tap_hdr h = {
		.ts_ns = bpf_ktime_get_ns(),
		.ifindex = st->ifindex,
		.queue = st->queue,
		.verdict = res->verdict,
		.reason = res->reason,
		.rule_id = st->rule_id,
		.port_id = st->port_id,
		.len = st->len,
		.dir = OOB_TAP_RX,
	};

	oob_tap_out(ctx, &h);
#endif
}

/*
 * Carry out a verdict and count it. st holds the frame's port, rule, queue and slot (filled by
 * the classifier, also across a tail call: both run on this CPU with migration disabled).
 * DIVERT goes to the XSKMAP slot of the frame's RX queue; with no socket there it is counted
 * (OOB_R_NO_XSK) and passed in-band, never silently lost.
 */
OOB_INLINE int oob_finish(struct xdp_md *ctx, struct oob_last *st, __u32 verdict, __u32 reason)
{
	struct oob_result res = { .verdict = verdict, .reason = reason };
	struct oob_port_stats *ps;
	struct oob_rule_stats *rs = 0;
	__u32 port_id = st->port_id, rule_id = st->rule_id;
	__u32 xsk = st->slot * OOB_MAX_QUEUES + st->queue;
	int present = 0, act = XDP_PASS;

	if (verdict == OOB_DIVERT)
		present = st->queue < OOB_MAX_QUEUES && bpf_map_lookup_elem(&oob_xsks, &xsk);
	oob_settle(&res, present);
	if (st->dev_flags & OOB_DEV_TAP)
		oob_tap_frame(ctx, st, &res);

	if (res.verdict == OOB_DIVERT) {
		/* Stamp the frame for liboob: when it was judged, and why. */
		if (!bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct oob_xdp_meta))) {
			struct oob_xdp_meta *meta = (void *)(long)ctx->data_meta;

			if ((void *)(meta + 1) <= (void *)(long)ctx->data) {
				meta->classified_ns = bpf_ktime_get_ns();
				meta->rule_id = rule_id;
				meta->reason = (__u16)res.reason;
				meta->port_id = (__u16)port_id;
			}
		}
		act = bpf_redirect_map(&oob_xsks, xsk, XDP_PASS);
	} else if (res.verdict == OOB_DROP) {
		act = XDP_DROP;
	}

	st->verdict = res.verdict;
	st->reason = res.reason;
	st->seq++;
	ps = bpf_map_lookup_elem(&oob_port_stats, &port_id);
	if (rule_id)
		rs = bpf_map_lookup_elem(&oob_rule_stats, &rule_id);
	oob_account(ps, rs, res.verdict, res.reason, st->len);
	return act;
}

#endif /* OOBBPF_BPF_ENV_H */
