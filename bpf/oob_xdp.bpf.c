// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The diversion classifier: runs on every ingress frame of a diverting device.
 * Built with xdp.frags so it can sit on jumbo-MTU devices; the selector prog array inherits that
 * flag from its owner, which is why selector.h's section macro says xdp.frags too.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <oobbpf/bpf_env.h>

SEC("xdp.frags")
int oob_xdp(struct xdp_md *ctx)
{
	struct oob_pkt pkt = {};
	struct oob_result res;
	struct oob_last *st = oob_last_get();

	if (!st)
		return XDP_PASS;
	oob_judge(0, ctx, ctx->ingress_ifindex, &pkt, &res);
	st->ifindex = ctx->ingress_ifindex;
	st->queue = ctx->rx_queue_index;
	st->slot = res.slot;
	st->port_id = res.port_id;
	st->rule_id = res.rule_id;
	st->len = pkt.len;
	st->dev_flags = res.dev_flags;
	if (res.verdict == OOB_SKIP) {
		/* The device's custom selector; it ends in oob_finish() itself. */
		bpf_tail_call(ctx, &oob_selectors, res.slot);
		res.verdict = OOB_PASS;
		res.reason = OOB_R_SELECTOR_ERR;
	}
	return oob_finish(ctx, st, res.verdict, res.reason);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
