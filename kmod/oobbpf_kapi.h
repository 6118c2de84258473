/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel bridge's in-kernel interface for a companion core (an oob network stack): it
 * registers one receiver, which gets the frames the classifier diverts (DIVERT). With no receiver
 * registered, or when the receiver declines a frame, the frame goes in-band (PASS, reason
 * OOB_R_NO_XSK), exactly as XDP passes a DIVERT frame whose queue has no oob socket.
 */
#ifndef OOBBPF_KAPI_H
#define OOBBPF_KAPI_H

#include <linux/skbuff.h>
#include <linux/types.h>

/* What the classifier found out about a diverted frame. */
struct oobbpf_rx_info {
	u32 reason;	/* OOB_R_VLAN_MEMBER or OOB_R_RULE */
	u32 rule_id;	/* 0 unless a rule decided */
	u32 port_id;
	u32 ifindex;	/* the lower device the frame arrived on */
	u16 vid;	/* innermost VID, 0 untagged */
	u16 pad;
};

struct oobbpf_receiver {
	const char *name;
	/*
	 * Called for each diverted frame, under rcu_read_lock(): in softirq context on stock
	 * kernels (test-mode rx_handler), on the out-of-band stage on Dovetail kernels (where only
	 * oob-safe services may be used). skb->data is at the network header, the MAC header is
	 * set, a VLAN tag may be in skb->vlan_tci. Return true to take ownership of skb; false
	 * leaves it to the in-band stack.
	 */
	bool (*deliver)(struct sk_buff *skb, const struct oobbpf_rx_info *info, void *priv);
	void *priv;
};

/* One receiver at a time: -EBUSY if another one is registered. */
int oobbpf_register_receiver(struct oobbpf_receiver *rx);
/* Returns once no deliver() call to rx is running any more. */
void oobbpf_unregister_receiver(struct oobbpf_receiver *rx);

#endif /* OOBBPF_KAPI_H */
