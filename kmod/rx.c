// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stock kernels, test mode: an rx_handler on an oob port runs the delivery path (classify.c)
 * on every frame the device receives, where Dovetail would call netif_deliver_oob().
 *
 * Differences from the real hook, all from where rx_handlers sit in __netif_receive_skb_core():
 * frames come after GRO, generic XDP, taps and tc ingress; a tag has been moved out of the frame
 * (skb_vlan_untag()); and a frame whose VID has a VLAN device is handed to that device before the
 * lower device's rx_handler runs. So a VLAN port is attached on the VLAN device itself, and the
 * frame is judged as arriving on the lower device with the VLAN device's tag, as XDP on the lower
 * device would see it.
 */
#include <linux/if_vlan.h>
#include <linux/list.h>
#include <linux/netdevice.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include "oobbpf.h"

struct oobk_rx_port {
	struct list_head list;
	struct net_device *dev;
};

/* Devices carrying our rx_handler; changed under RTNL only. */
static LIST_HEAD(oobk_rx_ports);
static u32 oobk_rx_nports;

static rx_handler_result_t oobk_rx_handler(struct sk_buff **pskb)
{
	struct sk_buff *skb = *pskb;
	struct net_device *dev = skb->dev;
	struct oobk_ingress in = { 0 };
	__be16 tpid[OOBK_MAX_TAGS];
	u16 tci[OOBK_MAX_TAGS];
	u32 i, n = 0;

	/* A tap may hold the skb too: what a receiver takes must be ours alone. */
	skb = skb_share_check(skb, GFP_ATOMIC);
	if (!skb)
		return RX_HANDLER_CONSUMED;
	*pskb = skb;

	/* VLAN devices down to the real one took one tag each, inner first. */
	while (is_vlan_dev(dev)) {
		if (n == OOBK_MAX_TAGS)
			return RX_HANDLER_PASS;
		tpid[n] = vlan_dev_vlan_proto(dev);
		tci[n] = vlan_dev_vlan_id(dev);
		n++;
		dev = vlan_dev_real_dev(dev);
	}
	in.ifindex = dev->ifindex;
	for (i = 0; i < n; i++) {
		in.tpid[i] = tpid[n - 1 - i];
		in.tci[i] = tci[n - 1 - i];
	}
	in.ntags = n;
	/* A tag the stack took out of the frame and no VLAN device claimed: the innermost. */
	if (skb_vlan_tag_present(skb)) {
		if (in.ntags == OOBK_MAX_TAGS)
			return RX_HANDLER_PASS;
		in.tpid[in.ntags] = skb->vlan_proto;
		in.tci[in.ntags] = skb_vlan_tag_get(skb);
		in.ntags++;
	}

	switch (oobk_deliver(skb, &in)) {
	case OOBK_TAKEN:
		return RX_HANDLER_CONSUMED;
	case OOBK_DROP:
		kfree_skb(skb);
		return RX_HANDLER_CONSUMED;
	default:
		return RX_HANDLER_PASS;
	}
}

static struct oobk_rx_port *oobk_rx_find(const struct net_device *dev)
{
	struct oobk_rx_port *p;

	ASSERT_RTNL();
	list_for_each_entry(p, &oobk_rx_ports, list)
		if (p->dev == dev)
			return p;
	return NULL;
}

static void oobk_rx_remove(struct oobk_rx_port *p)
{
	ASSERT_RTNL();
	/* Waits (synchronize_net) until no CPU runs our handler for this device. */
	netdev_rx_handler_unregister(p->dev);
	list_del(&p->list);
	oobk_rx_nports--;
	netdev_info(p->dev, "oobbpf: test-mode rx_handler detached\n");
	kfree(p);
}

int oobk_rx_attach(struct net *net, u32 ifindex)
{
	struct net_device *dev;
	struct oobk_rx_port *p;
	int err;

	p = kzalloc(sizeof(*p), GFP_KERNEL);
	if (!p)
		return -ENOMEM;
	rtnl_lock();
	dev = __dev_get_by_index(net, ifindex);
	err = -ENODEV;
	if (!dev)
		goto fail;
	err = -EEXIST;
	if (oobk_rx_find(dev))
		goto fail;
	/* -EBUSY when the device has another rx_handler (bridge, bond, macvlan port...). */
	err = netdev_rx_handler_register(dev, oobk_rx_handler, p);
	if (err)
		goto fail;
	p->dev = dev;
	list_add(&p->list, &oobk_rx_ports);
	oobk_rx_nports++;
	netdev_info(dev, "oobbpf: test-mode rx_handler attached\n");
	rtnl_unlock();
	return 0;
fail:
	rtnl_unlock();
	kfree(p);
	return err;
}

int oobk_rx_detach(struct net *net, u32 ifindex)
{
	struct net_device *dev;
	struct oobk_rx_port *p;
	int err = -ENODEV;

	rtnl_lock();
	dev = __dev_get_by_index(net, ifindex);
	if (dev) {
		p = oobk_rx_find(dev);
		err = -ENOENT;
		if (p) {
			oobk_rx_remove(p);
			err = 0;
		}
	}
	rtnl_unlock();
	return err;
}

/* NETDEV_UNREGISTER (under RTNL): the handler must go before the device does. */
void oobk_rx_dev_gone(struct net_device *dev)
{
	struct oobk_rx_port *p = oobk_rx_find(dev);

	if (p)
		oobk_rx_remove(p);
}

u32 oobk_rx_count(void)
{
	return READ_ONCE(oobk_rx_nports);
}

void oobk_rx_exit(void)
{
	struct oobk_rx_port *p, *tmp;

	rtnl_lock();
	list_for_each_entry_safe(p, tmp, &oobk_rx_ports, list)
		oobk_rx_remove(p);
	rtnl_unlock();
}
