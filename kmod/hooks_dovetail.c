// SPDX-License-Identifier: GPL-2.0-only
/*
 * Dovetail kernels: the hooks themselves. Dovetail declares netif_deliver_oob() and
 * ip_learn_oob_route() as weak symbols with empty defaults; these strong definitions replace
 * them when oobbpf is built into the kernel image (a loadable module cannot override a weak
 * symbol of vmlinux). See dovetail/README.md for the build; on stock kernels this file is only
 * compile-checked (dovetail_check.c, dovetail/dovetail_stub.h).
 *
 * netif_deliver_oob() may run on the out-of-band stage: from there it only reads maps (RCU,
 * lock-free lookups of ARRAY, PERCPU_ARRAY and HASH maps) and bumps per-CPU counters (see
 * classify.c). A DROP verdict there cannot free the skb (the allocator is in-band): the skb is
 * queued on a lock-free per-CPU list and freed by an irq_work, which runs in-band.
 */
#include <linux/if_vlan.h>
#include <linux/irq_work.h>
#include <linux/llist.h>
#include <linux/list.h>
#include <linux/percpu.h>
#include <linux/rtnetlink.h>
#include <linux/slab.h>
#include "oobbpf.h"

struct oobk_drops {
	struct llist_head skbs;
	struct irq_work work;
};

static DEFINE_PER_CPU(struct oobk_drops, oobk_drops);

static void oobk_drops_free(struct irq_work *work)
{
	struct oobk_drops *d = container_of(work, struct oobk_drops, work);
	struct llist_node *list = llist_del_all(&d->skbs);
	struct sk_buff *skb, *next;

	llist_for_each_entry_safe(skb, next, list, ll_node)
		kfree_skb(skb);
}

static void oobk_drop(struct sk_buff *skb)
{
	struct oobk_drops *d;

	if (running_inband()) {
		kfree_skb(skb);
		return;
	}
	d = this_cpu_ptr(&oobk_drops);
	llist_add(&skb->ll_node, &d->skbs);
	irq_work_queue(&d->work);
}

void oobk_dovetail_init(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct oobk_drops *d = per_cpu_ptr(&oobk_drops, cpu);

		init_llist_head(&d->skbs);
		init_irq_work(&d->work, oobk_drops_free);
	}
}

/*
 * Called for every frame a diverting device receives, before the in-band stack sees it. The
 * frame is as the driver built it: a tag is in the frame, or in skb->vlan_tci when the NIC
 * strips tags (rxvlan on); skb->dev is the real device, the one XDP would run on.
 */
bool netif_deliver_oob(struct sk_buff *skb)
{
	struct oobk_ingress in = { .ifindex = skb->dev->ifindex };
	enum oobk_action act;

	if (skb_vlan_tag_present(skb)) {
		in.tpid[0] = skb->vlan_proto;
		in.tci[0] = skb_vlan_tag_get(skb);
		in.ntags = 1;
	}
	rcu_read_lock();
	act = oobk_deliver(skb, &in);
	rcu_read_unlock();
	if (act == OOBK_DROP)
		oobk_drop(skb);
	return act != OOBK_PASS;
}

/*
 * Called in-band at the end of every output route lookup towards an oob port. The flow has
 * been through the lookup: its saddr is the chosen source, so the entry is keyed by it (the
 * stock-kernel path keys by the source the caller asked for, often none).
 */
void ip_learn_oob_route(struct net *net, struct flowi4 *flp4, struct rtable *rt)
{
	const struct oobk_mapset *m;
	struct oob_route_key key;
	bool observe;

	oobk_route_key4(&key, net, flp4);
	rcu_read_lock();
	m = oobk_maps_rcu(net);
	observe = m && (m->flags & OOBK_MAPS_OBSERVE);
	rcu_read_unlock();
	if (observe)
		oobk_event_push(net, &key, rt->dst.dev->ifindex, 0);
	else
		oobk_learn_route4(net, &key, flp4, rt, 0);
}

/*
 * OOBK_IOC_RX_ATTACH on Dovetail: make the device an oob port with Dovetail's own switches.
 * A VLAN device becomes the port and its real device diverts (as enabling a port on a VLAN
 * device does in EVL); any other device is both. Changed under RTNL only.
 */
struct oobk_port_dev {
	struct list_head list;
	struct net_device *dev;		/* the port */
	struct net_device *lower;	/* the diverting device */
};

static LIST_HEAD(oobk_port_devs);
static u32 oobk_nport_devs;

static struct oobk_port_dev *oobk_port_find(const struct net_device *dev)
{
	struct oobk_port_dev *p;

	list_for_each_entry(p, &oobk_port_devs, list)
		if (p->dev == dev)
			return p;
	return NULL;
}

static bool oobk_lower_used(const struct net_device *lower)
{
	struct oobk_port_dev *p;

	list_for_each_entry(p, &oobk_port_devs, list)
		if (p->lower == lower)
			return true;
	return false;
}

static void oobk_port_remove(struct oobk_port_dev *p)
{
	ASSERT_RTNL();
	list_del(&p->list);
	oobk_nport_devs--;
	netif_disable_oob_port(p->dev);
	if (!oobk_lower_used(p->lower))
		netif_disable_oob_diversion(p->lower);
	kfree(p);
}

int oobk_rx_attach(struct net *net, u32 ifindex)
{
	struct net_device *dev, *lower;
	struct oobk_port_dev *p;
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
	if (oobk_port_find(dev))
		goto fail;
	lower = is_vlan_dev(dev) ? vlan_dev_real_dev(dev) : dev;
	if (!netif_oob_diversion(lower)) {
		/* The driver's ndo_enable_oob() may refuse. */
		err = netif_enable_oob_diversion(lower);
		if (err)
			goto fail;
	}
	netif_enable_oob_port(dev);
	p->dev = dev;
	p->lower = lower;
	list_add(&p->list, &oobk_port_devs);
	oobk_nport_devs++;
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
	struct oobk_port_dev *p;
	int err = -ENODEV;

	rtnl_lock();
	dev = __dev_get_by_index(net, ifindex);
	if (dev) {
		p = oobk_port_find(dev);
		err = -ENOENT;
		if (p) {
			oobk_port_remove(p);
			err = 0;
		}
	}
	rtnl_unlock();
	return err;
}

/* NETDEV_UNREGISTER of a port, or of the lower device of ports. */
void oobk_rx_dev_gone(struct net_device *dev)
{
	struct oobk_port_dev *p, *tmp;

	list_for_each_entry_safe(p, tmp, &oobk_port_devs, list)
		if (p->dev == dev || p->lower == dev)
			oobk_port_remove(p);
}

u32 oobk_rx_count(void)
{
	return READ_ONCE(oobk_nport_devs);
}

void oobk_rx_exit(void)
{
	struct oobk_port_dev *p, *tmp;

	rtnl_lock();
	list_for_each_entry_safe(p, tmp, &oobk_port_devs, list)
		oobk_port_remove(p);
	rtnl_unlock();
}
