// SPDX-License-Identifier: GPL-2.0-only
/*
 * The classifier core (oobbpf/parse.h + oobbpf/classify.h, the code the XDP program runs) on
 * skbs, with the same maps and the same per-CPU statistics (oob_port_stats, oob_rule_stats,
 * oob_last): netif_deliver_oob() semantics for the test-mode rx_handler and the Dovetail hook.
 *
 * The core parses a frame as XDP sees it, tags in place. By the time an skb reaches us the stack
 * may have moved a tag out of the frame (hardware VLAN acceleration, skb_vlan_untag(), or a VLAN
 * device that already took the outer tag); the frame adapter puts such tags back, virtually:
 * reads of the first 12 + 4 * ntags bytes come from a small rebuilt header, reads past it from
 * the skb, 4 * ntags bytes earlier.
 *
 * What runs here is safe on Dovetail's out-of-band stage: map lookups (RCU, lock-free for the
 * map types below), per-CPU counter updates and skb_header_pointer(). Map types whose lookup is
 * lock-free and therefore qualify: ARRAY, PERCPU_ARRAY, HASH, PERCPU_HASH. Updates of any map
 * (bucket locks), LRU maps (list locks) and ring buffers (spinlock) do not, and are not used on
 * this path. Custom selectors are XDP programs and cannot run on an skb: their SKIP counts as
 * PASS with OOB_R_DEFAULT, as when a device has none.
 */
#include <linux/if_vlan.h>
#include <linux/rcupdate.h>
#include <linux/skbuff.h>
#include <linux/string.h>
#include "oobbpf.h"
#include "oobbpf_kapi.h"

struct oobk_frame {
	const struct sk_buff *skb;
	int mac_off;		/* MAC header, relative to skb->data (<= 0 on receive) */
	u32 len;		/* frame length, rebuilt tags included */
	u32 hlen;		/* bytes of hdr in use: 0, or 12 + 4 * tags */
	u32 shift;		/* 4 * tags: rebuilt bytes that are not in the skb */
	u8 hdr[ETH_ALEN * 2 + VLAN_HLEN * OOBK_MAX_TAGS];
};

/* ---- the environment parse.h and classify.h ask for ---------------------------------------- */
#define OOB_CTX const struct oobk_frame *
#define OOB_ENV const struct oobk_mapset *

static __always_inline int oob_load(const struct oobk_frame *f, __u32 off, void *buf, __u32 len)
{
	u32 n, hlen = min_t(u32, f->hlen, sizeof(f->hdr));
	const void *p;
	u8 *out = buf;

	if (off >= f->len || len > f->len - off)
		return -1;
	if (off < hlen) {
		n = min(len, hlen - off);
		memcpy(out, f->hdr + off, n);
		if (n == len)
			return 0;
		out += n;
		off += n;
		len -= n;
	}
	/* Non-linear skbs too: skb_header_pointer() copies across fragments. */
	p = skb_header_pointer(f->skb, f->mac_off + (int)(off - f->shift), len, out);
	if (!p)
		return -1;
	if (p != out)
		memcpy(out, p, len);
	return 0;
}

static __always_inline __u32 oob_frame_len(const struct oobk_frame *f)
{
	return f->len;
}

static __always_inline const struct oob_dev *oob_env_dev(const struct oobk_mapset *m,
							 __u32 ifindex)
{
	return oobk_lookup(m, OOBK_MAP_DEVS, &ifindex);
}

static __always_inline const struct oob_port *oob_env_port(const struct oobk_mapset *m,
							   const struct oob_port_key *k)
{
	return oobk_lookup(m, OOBK_MAP_PORTS, k);
}

static __always_inline const struct oob_vlan *oob_env_vlan(const struct oobk_mapset *m,
							   const struct oob_vlan_key *k)
{
	return oobk_lookup(m, OOBK_MAP_VLANS, k);
}

static __always_inline const struct oob_config *oob_env_config(const struct oobk_mapset *m)
{
	__u32 zero = 0;

	return oobk_lookup(m, OOBK_MAP_CONFIG, &zero);
}

static __always_inline const struct oob_rule_masks *oob_env_masks(const struct oobk_mapset *m,
								  __u32 gen)
{
	return oobk_lookup(m, OOBK_MAP_RULE_MASKS, &gen);
}

static __always_inline const struct oob_rule_val *oob_env_rule(const struct oobk_mapset *m,
							       const struct oob_rule_key *k)
{
	return oobk_lookup(m, OOBK_MAP_RULES, k);
}

#define OOB_INLINE static __always_inline
#include <oobbpf/classify.h>

/* ---- the companion core's receiver --------------------------------------------------------- */
static struct oobbpf_receiver __rcu *oobk_receiver;
static DEFINE_MUTEX(oobk_receiver_lock);

int oobbpf_register_receiver(struct oobbpf_receiver *rx)
{
	int err = 0;

	if (!rx || !rx->deliver)
		return -EINVAL;
	mutex_lock(&oobk_receiver_lock);
	if (rcu_access_pointer(oobk_receiver))
		err = -EBUSY;
	else
		rcu_assign_pointer(oobk_receiver, rx);
	mutex_unlock(&oobk_receiver_lock);
	if (!err)
		pr_info("oobbpf: receiver '%s' registered\n", rx->name ? rx->name : "?");
	return err;
}
EXPORT_SYMBOL_GPL(oobbpf_register_receiver);

void oobbpf_unregister_receiver(struct oobbpf_receiver *rx)
{
	bool was = false;

	mutex_lock(&oobk_receiver_lock);
	if (rcu_access_pointer(oobk_receiver) == rx) {
		RCU_INIT_POINTER(oobk_receiver, NULL);
		was = true;
	}
	mutex_unlock(&oobk_receiver_lock);
	if (was) {
		synchronize_rcu(); /* no deliver() of rx is running after this */
		pr_info("oobbpf: receiver '%s' unregistered\n", rx->name ? rx->name : "?");
	}
}
EXPORT_SYMBOL_GPL(oobbpf_unregister_receiver);

bool oobk_have_receiver(void)
{
	return rcu_access_pointer(oobk_receiver) != NULL;
}

/* ---- delivery ------------------------------------------------------------------------------ */
static bool oobk_frame_init(struct oobk_frame *f, const struct sk_buff *skb,
			    const struct oobk_ingress *in)
{
	const void *p;
	u32 i;

	if (!skb_mac_header_was_set(skb) || in->ntags > OOBK_MAX_TAGS)
		return false;
	f->skb = skb;
	f->mac_off = skb_mac_offset(skb);
	if (f->mac_off > 0 || (int)skb->len < -f->mac_off)
		return false;
	f->shift = VLAN_HLEN * in->ntags;
	f->len = skb->len - f->mac_off + f->shift;
	f->hlen = 0;
	if (!in->ntags)
		return true;
	/* Rebuild the header as it was on the wire: addresses, then the tags, outer first. */
	p = skb_header_pointer(skb, f->mac_off, ETH_ALEN * 2, f->hdr);
	if (!p)
		return false;
	if (p != f->hdr)
		memcpy(f->hdr, p, ETH_ALEN * 2);
	for (i = 0; i < in->ntags; i++) {
		__be16 tci = htons(in->tci[i]);

		memcpy(f->hdr + ETH_ALEN * 2 + VLAN_HLEN * i, &in->tpid[i], 2);
		memcpy(f->hdr + ETH_ALEN * 2 + VLAN_HLEN * i + 2, &tci, 2);
	}
	f->hlen = ETH_ALEN * 2 + f->shift;
	return true;
}

/*
 * Judge skb, which arrived on in->ifindex (with in's tags taken out of it), with the maps of
 * its namespace; hand a DIVERT frame to the receiver; count the outcome as the XDP program
 * does (oob_finish() in bpf_env.h). Caller holds rcu_read_lock() and cannot migrate.
 */
enum oobk_action oobk_deliver(struct sk_buff *skb, const struct oobk_ingress *in)
{
	struct oobk_net *on = oobk_net(dev_net(skb->dev));
	struct oob_rule_stats *rs = NULL;
	const struct oobbpf_receiver *rx;
	enum oobk_action act = OOBK_PASS;
	const struct oobk_mapset *m;
	struct oob_port_stats *ps;
	struct oob_result res;
	struct oobk_frame f;
	struct oob_last *st;
	struct oob_pkt pkt;
	u32 verdict, reason, queue, zero = 0;

	m = rcu_dereference(on->maps);
	if (!m || !oobk_frame_init(&f, skb, in))
		return OOBK_PASS;
	atomic64_inc(&on->rx_frames);
	queue = skb_rx_queue_recorded(skb) ? skb_get_rx_queue(skb) : 0;

	memset(&pkt, 0, sizeof(pkt));
	oob_judge(m, &f, in->ifindex, &pkt, &res);
	verdict = res.verdict;
	reason = res.reason;
	if (verdict == OOB_SKIP) {
		verdict = OOB_PASS;
		reason = OOB_R_DEFAULT;
	}

	if (verdict == OOB_DIVERT) {
		struct oobbpf_rx_info info = {
			.reason = reason,
			.rule_id = res.rule_id,
			.port_id = res.port_id,
			.ifindex = in->ifindex,
			.vid = pkt.vid,
		};

		rx = rcu_dereference(oobk_receiver);
		if (rx && rx->deliver(skb, &info, rx->priv)) {
			act = OOBK_TAKEN;
			atomic64_inc(&on->rx_diverted);
		} else {
			/* Nobody to take it: in-band, counted, never lost (as XDP without a socket). */
			verdict = OOB_PASS;
			reason = OOB_R_NO_XSK;
		}
	} else if (verdict == OOB_DROP) {
		act = OOBK_DROP;
	} else {
		verdict = OOB_PASS;
	}

	/* skb may belong to the receiver now: only pkt and res from here on. */
	st = oobk_lookup(m, OOBK_MAP_LAST, &zero);
	if (st) {
		st->verdict = verdict;
		st->reason = reason;
		st->rule_id = res.rule_id;
		st->port_id = res.port_id;
		st->ifindex = in->ifindex;
		st->queue = queue;
		st->slot = res.slot;
		st->len = pkt.len;
		st->seq++;
	}
	ps = oobk_lookup(m, OOBK_MAP_PORT_STATS, &res.port_id);
	if (res.rule_id)
		rs = oobk_lookup(m, OOBK_MAP_RULE_STATS, &res.rule_id);
	oob_account(ps, rs, verdict, reason, pkt.len);
	return act;
}
