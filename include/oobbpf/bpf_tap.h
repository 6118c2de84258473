/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Tap output (abi.h, "Tap sessions"): the session table, the ring of each session, and the copy
 * of one frame into the rings of every session that wants it. Shared by the classifier (frames
 * as judged, dir rx, through bpf_env.h) and by oob_tap_tx (frames liboob sends, dir tx), so both
 * directions land in the same rings in the same record format.
 * BPF only: include after vmlinux.h and bpf_helpers.h.
 */
#ifndef OOBBPF_BPF_TAP_H
#define OOBBPF_BPF_TAP_H

#include <bpf/bpf_helpers.h>
#include <oobbpf/abi.h>

/* The inner map of oob_tap_rings: every session ring must be created with this size. */
struct oob_tap_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, OOB_TAP_RING_SIZE);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, OOB_MAX_TAPS);
	__type(key, __u32);
	__array(values, struct oob_tap_ring);
} oob_tap_rings SEC(".maps");

/* Mmapable: liboob polls it with plain loads, no system call. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, OOB_MAX_TAPS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct oob_tap_sess);
} oob_tap_sess SEC(".maps");

struct oob_tap_rec {
	struct oob_tap_hdr hdr;
	__u8 data[OOB_TAP_SNAP_MAX];
};

/*
 * Copies the frame of ctx (from its start, at most OOB_TAP_SNAP_MAX bytes) behind h into the
 * ring of every session of h->ifindex that keeps it. A full ring loses the copy (counted in the
 * session), never the frame. A subprogram, not inlined: the classifier's path with no tap
 * running carries one test and no copy code.
 */
static __noinline int oob_tap_out(struct xdp_md *ctx, const struct oob_tap_hdr *h)
{
	__u32 i;

	for (i = 0; i < OOB_MAX_TAPS; i++) {
		struct oob_tap_sess *s;
		struct oob_tap_rec *r;
		void *ring;
		__u32 k = i, cap = h->len;

		s = bpf_map_lookup_elem(&oob_tap_sess, &k);
		if (!s || !s->ifindex || s->ifindex != h->ifindex)
			continue;
		if (h->dir == OOB_TAP_TX ? !(s->flags & OOB_TAP_KEEP_TX)
					 : !(s->verdicts & (1U << (h->verdict & 31))))
			continue;
		ring = bpf_map_lookup_elem(&oob_tap_rings, &k);
		if (!ring)
			continue;
		r = bpf_ringbuf_reserve(ring, sizeof(*r), 0);
		if (!r) {
			__sync_fetch_and_add(&s->lost, 1);
			continue;
		}
		if (cap > OOB_TAP_SNAP_MAX)
			cap = OOB_TAP_SNAP_MAX;
		/* Keep clang from fusing this bound with the lower one below into one range check
		 * on cap - N: older verifiers (6.1) then lose cap's lower bound and reject the call.
		 * The lower bound is an ordered compare, not cap != 0, which 6.1 does not turn into a
		 * minimum. */
		asm volatile("" : "+r"(cap));
		r->hdr = *h;
		if (cap < 14 || bpf_xdp_load_bytes(ctx, 0, r->data, cap))
			cap = 0;
		r->hdr.caplen = cap;
		bpf_ringbuf_submit(r, 0);
		__sync_fetch_and_add(&s->copied, 1);
	}
	return 0;
}

#endif /* OOBBPF_BPF_TAP_H */
