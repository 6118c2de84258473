/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The oobbpf selector SDK: write your own per-frame selection logic in C, compile it with clang,
 * load it with `oobbpf load DEV FILE.o`. Guide: docs/selectors.md.
 *
 *	#include "vmlinux.h"
 *	#include <oobbpf/selector.h>
 *
 *	OOB_SELECTOR(my_sel)(struct xdp_md *ctx, const struct oob_pkt *pkt)
 *	{
 *		if (pkt->l4proto == OOB_IPPROTO_UDP && pkt->dport == OOB_HTONS(7400))
 *			return OOB_DIVERT;
 *		return OOB_SKIP;
 *	}
 *
 *	char LICENSE[] SEC("license") = "Dual BSD/GPL";
 *
 * Where a selector runs. The device's XDP classifier judges every ingress frame first: port and
 * VLAN membership, control traffic (ARP, ND, LLDP: always in-band), malformed frames, flow rules.
 * Only a frame that none of these decided, on a port of a device with a selector loaded, reaches
 * your function; it sees the frame already parsed (struct oob_pkt below) and returns a verdict:
 *
 *	OOB_DIVERT  to the oob socket of the frame's RX queue (no socket there: counted, passed)
 *	OOB_PASS    to the in-band stack
 *	OOB_DROP    dropped, counted
 *	OOB_SKIP    no opinion: the classifier's default (in-band)
 *
 * Anything else counts as OOB_PASS. Every frame is counted per port, verdict and reason (`oobbpf
 * stats`, bpftool map dump pinned <pin root>/port_stats); a selector's verdicts carry the reason
 * OOB_R_SELECTOR, exactly as for the built-in selectors.
 *
 * How it is wired, and why the macro looks the way it does. The classifier hands the frame over
 * with a tail call into the device's slot of the prog array `oob_selectors`; a tail-called program
 * never returns to its caller, so the selector finishes the frame itself: the code OOB_SELECTOR
 * generates around your function re-parses the frame, calls you, then carries out your verdict on
 * the shared maps (counters, XSK redirect, PASS when no socket) with the classifier's own
 * oob_finish(). The kernel only lets a program into a prog array if its type and flags match the
 * array's owner, the classifier, which is an XDP program with frags support: so a selector lives
 * in SEC("xdp.frags"), and OOB_SELECTOR says so. Selectors do not need BPF trampolines.
 *
 * Maps. This header declares the classifier's maps (bpf_env.h); `oobbpf load` makes your object
 * use the running classifier's instances (pinned under the pin root), so the counters you bump are
 * the ones `oobbpf stats` shows. Maps of your own (declared in SEC(".maps")) are pinned under
 * <pin root>/selector/<dev>/maps/<name> for bpftool; loading a new version of a selector keeps
 * the contents of those whose definition did not change. Do not name your maps oob_*.
 *
 * Rules of the road, enforced by the verifier or by `oobbpf load`:
 *  - one selector per device; one object may hold several, `oobbpf load ... section NAME` picks one
 *    by its name (the name given to OOB_SELECTOR);
 *  - the object is built from this header: the loader reads oob_sdk_abi_version and refuses an
 *    object built for another ABI;
 *  - compile with -g (the maps are described in BTF), -O2 and -mcpu=v3 (with the default v1 ISA
 *    the verifier loses track of bounds checks in the classifier code compiled in here):
 *    clang -g -O2 -target bpf -mcpu=v3;
 *  - if you include vmlinux.h, include it before this header; otherwise the UAPI headers are used.
 */
#ifndef OOBBPF_SELECTOR_H
#define OOBBPF_SELECTOR_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#include <linux/bpf.h>
#endif
#include <bpf/bpf_helpers.h>
#include <oobbpf/bpf_env.h>

/* clang 15 and later say which ISA they compile for; older ones are caught by the loader. */
#if defined(__BPF_CPU_VERSION__) && __BPF_CPU_VERSION__ < 3
#error "compile selectors with clang -mcpu=v3: the verifier rejects the classifier code in v1/v2"
#endif

/*
 * The ABI the object was built for. `oobbpf load` reads it from the object's .rodata (once
 * loaded, bpftool shows it in the selector's ".rodata" map) and refuses a mismatch: the maps'
 * layouts would disagree.
 */
const volatile __u32 oob_sdk_abi_version = OOB_ABI_VERSION;

/* The section of a selector program: XDP, with frags, as the prog array's owner requires. */
#define OOB_SELECTOR_SEC SEC("xdp.frags")

/*
 * Parse a frame into *pkt, as the classifier did before handing it over: Ethernet, up to two
 * VLAN tags, IPv4/IPv6 (extension headers, fragments), UDP/TCP ports, ICMP type. Returns
 * OOB_R_NONE (0) or the reason the frame is malformed (a frame that reached a selector parsed
 * fine in the classifier). pkt must be zeroed first. Fields of struct oob_pkt (parse.h):
 *
 *	len        frame length, all fragments      l3proto  ethertype after the tags (network order)
 *	vid        innermost VID (0: untagged)      ntags    number of tags
 *	l3off      offset of the L3 header          l4off    offset of the L4 header (IP only)
 *	is_ip      0, OOB_AF_INET or OOB_AF_INET6   l4proto  OOB_IPPROTO_UDP, _TCP, ...
 *	src, dst   addresses, network order (IPv4 in word 0)
 *	sport, dport  L4 ports, network order       flags    OOB_KF_FRAG for IP fragments
 *	dscp       DSCP of the IP header
 *
 * Compare network-order fields with OOB_HTONS(host_value). Other bytes of the frame are read
 * with oob_load(ctx, offset, buf, len): it copies len (a constant) bytes at offset into buf and
 * returns 0, or -1 when the frame is shorter; it works in the linear part and in frags alike.
 *
 * Why a global (non-static, noinline) function: the verifier checks a global function once, on
 * its own, instead of walking every path of the parser again for every branch of the selector's
 * body; that cuts what it verifies per selector about threefold (about 150k to 50k
 * instructions), which is most of the time `oobbpf load` takes. The price: after the call the
 * verifier knows the fields of *pkt only as numbers, so use offsets such as pkt->l3off with
 * oob_load(), not to compute packet pointers by hand.
 */
__attribute__((noinline)) int oob_selector_parse(struct xdp_md *ctx, struct oob_pkt *pkt)
{
	__u32 r;

	if (!pkt)
		return OOB_R_TRUNC_ETH;
	r = oob_parse_l2(ctx, pkt);
	if (r)
		return (int)r;
	return (int)oob_parse_l3(ctx, pkt);
}

/*
 * The finishing call of a selector: carry out verdict for the frame in ctx, count it on the
 * frame's port (reason OOB_R_SELECTOR; OOB_SKIP is counted like a frame no selector wanted) and
 * return the XDP action. pkt may be 0 when the frame was not parsed. OOB_SELECTOR calls it for
 * you; a hand-written entry point (OOB_SELECTOR_SEC int f(struct xdp_md *ctx)) must end every
 * path with `return oob_selector_return(ctx, pkt, verdict);`: returning an XDP_* action, or a
 * verdict code, straight from the program would skip the counting and the redirect.
 */
OOB_INLINE int oob_selector_return(struct xdp_md *ctx, const struct oob_pkt *pkt, __u32 verdict)
{
	struct oob_last *st = oob_last_get();
	struct oob_result res = { .verdict = verdict, .reason = OOB_R_SELECTOR };

	if (!st)
		return XDP_PASS;
	if (verdict == OOB_SKIP) {
		/* The reason the classifier gives when nobody has an opinion. */
		if (pkt)
			oob_judge_default(pkt, &res);
		else
			res.reason = OOB_R_DEFAULT;
	}
	return oob_finish(ctx, st, res.verdict, res.reason);
}

/*
 * Define a selector named name. Follow it with the judging function's parameter list and body:
 *
 *	OOB_SELECTOR(name)(struct xdp_md *ctx, const struct oob_pkt *pkt) { ... return verdict; }
 *
 * The body returns a verdict (OOB_DIVERT, OOB_PASS, OOB_DROP, OOB_SKIP), not an XDP action. The
 * generated program `name` parses the frame, calls the body (inlined) and finishes the frame with
 * oob_selector_return(). A frame that fails to parse (cannot happen for a frame the classifier
 * handed over, but the verifier does not know that) never reaches the body: OOB_SKIP.
 */
#define OOB_SELECTOR(name)							\
	static __always_inline __u32 oob_judge_##name(struct xdp_md *ctx,	\
						      const struct oob_pkt *pkt);	\
	OOB_SELECTOR_SEC int name(struct xdp_md *ctx)				\
	{									\
		struct oob_pkt pkt = {};					\
		__u32 verdict = OOB_SKIP;					\
										\
		if (oob_selector_parse(ctx, &pkt) == OOB_R_NONE)		\
			verdict = oob_judge_##name(ctx, &pkt);			\
		return oob_selector_return(ctx, &pkt, verdict);			\
	}									\
	static __always_inline __u32 oob_judge_##name

#endif /* OOBBPF_SELECTOR_H */
