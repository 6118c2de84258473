// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Frames liboob sends, into the taps of their device (dir tx). Never attached: liboob runs it
 * with BPF_PROG_TEST_RUN on each frame it sends while a session of its device keeps tx frames,
 * with struct oob_tap_tx_meta in the metadata in front of the frame. It declares only the two tap
 * maps, which liboob reuses from the pins, so loading it creates nothing.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <oobbpf/bpf_tap.h>

SEC("xdp")
int oob_tap_tx(struct xdp_md *ctx)
{
	struct oob_tap_tx_meta *m = (void *)(long)ctx->data_meta;
	struct oob_tap_hdr h = {};

	if ((void *)(m + 1) > (void *)(long)ctx->data)
		return XDP_ABORTED;
	h.ts_ns = bpf_ktime_get_ns();
	h.ifindex = m->ifindex;
	h.queue = m->queue;
	h.port_id = m->port_id;
	h.verdict = OOB_DIVERT;	/* an oob frame: the verdict filter of rx frames does not apply */
	h.len = (__u32)bpf_xdp_get_buff_len(ctx);
	h.dir = OOB_TAP_TX;
	oob_tap_out(ctx, &h);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
