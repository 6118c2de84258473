// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Example selector with state of its own: a per-source allow-list with a token bucket.
 *
 * allow_src maps an IPv4 or IPv6 source address to its budget. Frames (IP, not fragments) from a
 * listed source are diverted as long as the source has tokens; a source that sends faster than
 * its rate is dropped above the rate (a misbehaving peer cannot flood the oob path). Sources not
 * on the list get no opinion (the default: in-band). The selector also counts, per source, what
 * it diverted and dropped, in the same entry: `bpftool map dump pinned <...>/allow_src` shows it.
 *
 * An entry with rate_pps 0 has no limit. Tokens are kept in thousandths so rates below one frame
 * per millisecond still accrue; the bucket holds at most burst frames.
 *
 * Concurrency: frames of one source may be judged on several CPUs at once; the bucket update is a
 * plain read-modify-write, so under contention it can admit a few frames more than the rate. The
 * counters use atomic adds and are exact.
 */
#include "vmlinux.h"
#include <oobbpf/selector.h>

struct src_key {
	__u8 family;		/* OOB_AF_INET (2) or OOB_AF_INET6 (10) */
	__u8 pad[3];
	__be32 addr[4];		/* network order; IPv4 in word 0, the rest zero */
};

struct src_budget {
	__u32 rate_pps;		/* frames per second; 0: unlimited */
	__u32 burst;		/* bucket depth in frames */
	__u64 tokens_milli;	/* written by the selector */
	__u64 last_ns;		/* written by the selector */
	__u64 diverted;		/* written by the selector */
	__u64 dropped;		/* written by the selector */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct src_key);
	__type(value, struct src_budget);
} allow_src SEC(".maps");

OOB_SELECTOR(sel_allow_src)(struct xdp_md *ctx, const struct oob_pkt *pkt)
{
	struct src_key k = {};
	struct src_budget *b;
	__u64 now, cap, tokens;

	if (!pkt->is_ip || (pkt->flags & OOB_KF_FRAG))
		return OOB_SKIP;
	k.family = pkt->is_ip;
	__builtin_memcpy(k.addr, pkt->src, sizeof(k.addr));
	b = bpf_map_lookup_elem(&allow_src, &k);
	if (!b)
		return OOB_SKIP;

	if (b->rate_pps) {
		now = bpf_ktime_get_ns();
		cap = (__u64)(b->burst ? b->burst : 1) * 1000;
		tokens = b->tokens_milli;
		if (!b->last_ns)
			tokens = cap; /* a new entry starts with a full bucket */
		else if (now > b->last_ns)
			/* rate_pps frames/s = rate_pps thousandths per ms */
			tokens += (now - b->last_ns) / 1000000 * b->rate_pps +
				  (now - b->last_ns) % 1000000 * b->rate_pps / 1000000;
		if (tokens > cap)
			tokens = cap;
		b->last_ns = now;
		if (tokens < 1000) {
			b->tokens_milli = tokens;
			__sync_fetch_and_add(&b->dropped, 1);
			return OOB_DROP;
		}
		b->tokens_milli = tokens - 1000;
	}
	__sync_fetch_and_add(&b->diverted, 1);
	return OOB_DIVERT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
