/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The classifier core, part 2: judging a frame. Header-only C, no BPF helpers; see parse.h for
 * the frame adapters. The environment also provides, before including this file:
 *   OOB_ENV                                   handle on its maps (unused in BPF)
 *   const struct oob_dev *oob_env_dev(OOB_ENV, __u32 ifindex)
 *   const struct oob_port *oob_env_port(OOB_ENV, const struct oob_port_key *)
 *   const struct oob_vlan *oob_env_vlan(OOB_ENV, const struct oob_vlan_key *)
 *   const struct oob_config *oob_env_config(OOB_ENV)
 *   const struct oob_rule_masks *oob_env_masks(OOB_ENV, __u32 gen)
 *   const struct oob_rule_val *oob_env_rule(OOB_ENV, const struct oob_rule_key *)
 *
 * Selector order (DESIGN.md, ingress data path):
 *   1. port: (device, VID); a tagged frame of a VID that is no port and in no oob VLAN set, or an
 *      untagged frame on a device that is no port, has no port and goes in-band;
 *   2. ARP, RARP, LLDP, IPv6 ND and MLD: in-band;
 *   3. malformed: in-band, with the reason;
 *   4. VLAN membership: IP frames (not fragments) on an oob VLAN are diverted;
 *   5. flow rules: best (lowest) priority among the matching rules;
 *   6. the device's custom selector, if any (verdict OOB_SKIP here: the caller runs it);
 *   7. default: in-band.
 */
#ifndef OOBBPF_CLASSIFY_H
#define OOBBPF_CLASSIFY_H

#include <oobbpf/parse.h>

struct oob_result {
	__u32 verdict;
	__u32 reason;
	__u32 rule_id;
	__u32 port_id;
	__u32 slot;
	__u32 dev_flags;
};

OOB_INLINE void oob_rule_key_of(const struct oob_pkt *pkt, __u32 ifindex, struct oob_rule_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->ifindex = ifindex;
	k->vid = pkt->vid;
	k->l3proto = pkt->l3proto;
	k->l4proto = pkt->l4proto;
	k->dscp = pkt->dscp;
	k->flags = pkt->flags;
	k->sport = pkt->sport;
	k->dport = pkt->dport;
	__builtin_memcpy(k->src, pkt->src, sizeof(k->src));
	__builtin_memcpy(k->dst, pkt->dst, sizeof(k->dst));
}

/* Field by field: no type punning (C++) and no misaligned wide stack access (verifier). */
OOB_INLINE void oob_rule_key_mask(struct oob_rule_key *out, const struct oob_rule_key *k,
				  const struct oob_rule_key *m)
{
	int i;

	out->ifindex = k->ifindex & m->ifindex;
	out->vid = k->vid & m->vid;
	out->l3proto = k->l3proto & m->l3proto;
	out->l4proto = k->l4proto & m->l4proto;
	out->dscp = k->dscp & m->dscp;
	out->flags = k->flags & m->flags;
	out->tuple = 0;
	out->sport = k->sport & m->sport;
	out->dport = k->dport & m->dport;
	for (i = 0; i < 4; i++) {
		out->src[i] = k->src[i] & m->src[i];
		out->dst[i] = k->dst[i] & m->dst[i];
	}
}

/*
 * What the rule search found: 0 for no match, else OOB_RULE_HIT | action << 32 | rule_id. A
 * scalar, not a pointer into a map or an out-parameter: in BPF the search is a global function,
 * which may only return a scalar, and whose writes to the caller's stack the verifier of older
 * kernels does not track.
 */
#define OOB_RULE_HIT (1ULL << 63)
#define OOB_RULE_HIT_ID(h) ((__u32)(h))
#define OOB_RULE_HIT_ACTION(h) ((__u32)((h) >> 32) & 0x7fffffffU)

/*
 * Tuple-space search: one hash lookup per distinct mask, masks sorted by the best priority they
 * hold, stopping when no remaining mask can beat the match in hand. The cost depends on the
 * number of masks (at most OOB_MAX_MASKS), not on the number of rules. A mask whose entries all
 * disagree with the frame on the key's first 16 bytes (head_mask/head_val) is skipped without a
 * lookup. The generation is read once, so a frame is judged by one rule set only.
 */
OOB_INLINE __u64 oob_rules_search_in(OOB_ENV env, const struct oob_rule_key *k)
{
	const struct oob_config *cfg = oob_env_config(env);
	const struct oob_rule_masks *m;
	const struct oob_rule_val *v;
	struct oob_rule_key mk;
	__u64 head[2], hit = 0;
	__u32 gen, best_prio = 0xffffffffU, i, a;

	gen = cfg ? (cfg->rule_gen & 1) : 0;
	m = oob_env_masks(env, gen);
	if (!m)
		return 0;
	/* No type punning (C++), no wide access at an alignment the key does not promise. */
	__builtin_memcpy(head, k, sizeof(head));
	for (i = 0; i < OOB_MAX_MASKS; i++) {
		if (i >= m->count || m->best_prio[i] >= best_prio)
			break;
		if ((head[0] & m->head_mask[i][0]) != m->head_val[i][0] ||
		    (head[1] & m->head_mask[i][1]) != m->head_val[i][1])
			continue;
		oob_rule_key_mask(&mk, k, &m->mask[i]);
		mk.tuple = (__u8)(gen * OOB_MAX_MASKS + i);
		v = oob_env_rule(env, &mk);
		if (v && v->prio < best_prio) {
			best_prio = v->prio;
			/* An action past the verdicts is passed (oob_settle) either way. */
			a = v->action < OOB_VERDICT_MAX ? v->action : OOB_VERDICT_MAX;
			hit = OOB_RULE_HIT | ((__u64)a << 32) | v->rule_id;
		}
	}
	return hit;
}

#ifdef OOB_RULE_SEARCH_GLOBAL
/*
 * BPF: a global function, verified once on its own instead of once per parse path that reaches
 * it (the environment is the maps, so it takes no env). Its pointer argument may be NULL as far
 * as the verifier knows.
 */
__attribute__((noinline)) __u64 oob_rules_search(const struct oob_rule_key *k)
{
	if (!k)
		return 0;
	return oob_rules_search_in(0, k);
}
#define OOB_RULES_SEARCH(env, k) oob_rules_search(k)
#else
#define OOB_RULES_SEARCH(env, k) oob_rules_search_in(env, k)
#endif

OOB_INLINE void oob_judge_default(const struct oob_pkt *pkt, struct oob_result *res)
{
	res->verdict = OOB_PASS;
	if (pkt->flags & OOB_KF_FRAG)
		res->reason = OOB_R_FRAGMENT;
	else if (!pkt->is_ip)
		res->reason = OOB_R_NOT_IP;
	else
		res->reason = OOB_R_DEFAULT;
}

OOB_INLINE void oob_judge(OOB_ENV env, OOB_CTX ctx, __u32 ifindex, struct oob_pkt *pkt,
			  struct oob_result *res)
{
	const struct oob_dev *dev;
	struct oob_rule_key key;
	__u64 hit;
	__u32 r, member = 0;

	res->verdict = OOB_PASS;
	res->reason = OOB_R_NONE;
	res->rule_id = 0;
	res->port_id = 0;
	res->slot = 0;
	res->dev_flags = 0;

	dev = oob_env_dev(env, ifindex);
	if (!dev || !(dev->flags & OOB_DEV_DIVERT)) {
		pkt->len = oob_frame_len(ctx);
		res->reason = OOB_R_NO_DEV;
		return;
	}
	res->slot = dev->slot;
	res->dev_flags = dev->flags;
	r = oob_parse_l2(ctx, pkt);
	if (r) {
		res->reason = r;
		return;
	}

	if (!pkt->vid) {
		if (!(dev->flags & OOB_DEV_PORT)) {
			res->reason = OOB_R_NO_PORT;
			return;
		}
		res->port_id = dev->port_id;
	} else {
		struct oob_port_key pk = { .ifindex = ifindex, .vid = pkt->vid, .pad = 0 };
		struct oob_vlan_key vk = { .ifindex = ifindex, .vid = pkt->vid, .pad = 0 };
		const struct oob_port *port = oob_env_port(env, &pk);
		const struct oob_vlan *vlan = oob_env_vlan(env, &vk);

		if (!vlan) {
			vk.ifindex = 0; /* the global set */
			vlan = oob_env_vlan(env, &vk);
		}
		if (vlan && (vlan->flags & OOB_VLAN_MEMBER))
			member = 1;
		if (port)
			res->port_id = port->port_id;
		else if (member)
			res->port_id = vlan->port_id;
		else {
			res->reason = OOB_R_VLAN_NOT_OOB;
			return;
		}
	}

	if (pkt->control) {
		res->reason = OOB_R_CONTROL;
		return;
	}
	r = oob_parse_l3(ctx, pkt);
	if (r) {
		res->reason = r;
		return;
	}
	if (pkt->control) {
		res->reason = OOB_R_CONTROL;
		return;
	}

	if (member && pkt->is_ip && !(pkt->flags & OOB_KF_FRAG)) {
		res->verdict = OOB_DIVERT;
		res->reason = OOB_R_VLAN_MEMBER;
		return;
	}

	oob_rule_key_of(pkt, ifindex, &key);
	hit = OOB_RULES_SEARCH(env, &key);
	if (hit) {
		res->verdict = OOB_RULE_HIT_ACTION(hit);
		res->reason = OOB_R_RULE;
		res->rule_id = OOB_RULE_HIT_ID(hit);
		return;
	}

	if (dev->flags & OOB_DEV_SELECTOR) {
		res->verdict = OOB_SKIP;
		return;
	}
	oob_judge_default(pkt, res);
}

/*
 * From verdict to action: a custom selector with no opinion means the default; DIVERT needs an
 * oob socket on the frame's queue, else the frame is counted (OOB_R_NO_XSK) and passed in-band.
 */
OOB_INLINE void oob_settle(struct oob_result *res, int xsk_present)
{
	if (res->verdict == OOB_SKIP) {
		res->verdict = OOB_PASS;
		res->reason = OOB_R_DEFAULT;
	} else if (res->verdict == OOB_DIVERT && !xsk_present) {
		res->verdict = OOB_PASS;
		res->reason = OOB_R_NO_XSK;
	} else if (res->verdict >= OOB_VERDICT_MAX) {
		res->verdict = OOB_PASS;
	}
}

/* Counting, the same in every environment; the pointers are per-CPU where that exists. */
OOB_INLINE void oob_account(struct oob_port_stats *ps, struct oob_rule_stats *rs, __u32 verdict,
			    __u32 reason, __u32 bytes)
{
	if (ps && verdict < OOB_VERDICT_MAX && reason < OOB_REASON_MAX) {
		ps->verdict_packets[verdict]++;
		ps->verdict_bytes[verdict] += bytes;
		ps->reason[reason]++;
	}
	if (rs) {
		rs->packets++;
		rs->bytes += bytes;
	}
}

#endif /* OOBBPF_CLASSIFY_H */
