// SPDX-License-Identifier: GPL-2.0-only
/*
 * Route and neighbour learning into the namespace's routes and neighs maps, with the entries
 * the other learner back-ends write (oobbpf/abi.h: struct oob_route_key / oob_route,
 * oob_neigh_key / oob_neigh).
 *
 * Routes: oobk_learn_route4() has the semantics of Dovetail's ip_learn_oob_route(net, flp4, rt):
 * given a complete output decision towards an oob port, record it. On Dovetail kernels the hook
 * calls it directly. On stock kernels probes on the fib_table_lookup and fib6_table_lookup
 * tracepoints only trigger (hooks_stock.c): the tracepoints fire per table the rules consult and
 * before multipath selection, without source address or MTU, so a worker asks the in-band stack
 * for the whole decision (ip_route_output_key() / ip6_route_output() with the flow's selectors,
 * what RTM_GETROUTE does in the kernel) and records that, with the values RTM_GETROUTE reports
 * (so the entries equal those of the daemon's learner). The worker's own IPv4 lookup fires the
 * tracepoint again; the flow is still marked in flight then, so it is not queued twice; the
 * probe notes which table answered it instead (an IPv6 decision names its table itself).
 *
 * Revalidation: an entry is only looked up again by the in-band stack when an in-band sender
 * uses the flow, and the oob path sends without asking it. So every change of the namespace's
 * IPv4 or IPv6 FIB or rules (FIB notifier) schedules a pass over its entries that asks the
 * stack again and rewrites what changed, or deletes what no longer leads to an oob port.
 *
 * Neighbours: the netevent notifier (NETEVENT_NEIGH_UPDATE) mirrors every valid ARP/ND entry
 * of an oob port device; an entry that stops being valid is removed.
 * Devices: NETDEV_DOWN and NETDEV_UNREGISTER purge the routes and neighbours of the device (and
 * the test-mode rx_handler goes with an unregistered device). In observe mode the entries are
 * the daemon's: the module writes, revalidates and purges none of them.
 */
#include <linux/if_arp.h>
#include <linux/if_vlan.h>
#include <linux/inetdevice.h>
#include <linux/netdevice.h>
#include <linux/workqueue.h>
#include <net/dst.h>
#include <net/fib_notifier.h>
#include <net/addrconf.h>
#include <net/inet_ecn.h>
#include <net/ip6_fib.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/neighbour.h>
#include <net/netevent.h>
#include <net/route.h>
#include "oobbpf.h"

/* Is dev an oob port (untagged, or a VLAN port)? Caller holds rcu_read_lock(). */
bool oobk_port_dev(const struct oobk_mapset *m, const struct net_device *dev, u32 *lower,
		   u16 *vid)
{
	struct oob_port_key pk = { 0 };
	const struct oob_dev *d;
	u32 ifindex;

	if (is_vlan_dev(dev)) {
		pk.ifindex = vlan_dev_real_dev(dev)->ifindex;
		pk.vid = vlan_dev_vlan_id(dev);
		if (!oobk_lookup(m, OOBK_MAP_PORTS, &pk))
			return false;
		*lower = pk.ifindex;
		*vid = pk.vid;
		return true;
	}
	ifindex = dev->ifindex;
	d = oobk_lookup(m, OOBK_MAP_DEVS, &ifindex);
	pk.ifindex = ifindex;
	if (!(d && (d->flags & OOB_DEV_PORT)) && !oobk_lookup(m, OOBK_MAP_PORTS, &pk))
		return false;
	*lower = ifindex;
	*vid = 0;
	return true;
}

/*
 * The flow a decision was taken for: namespace, destination and the selectors that can change
 * it. tos: the kernel hands fib lookups the DS field reduced to its routing bits (6.1:
 * IPTOS_RT_MASK); ECN never takes part.
 */
void oobk_route_key4(struct oob_route_key *key, const struct net *net, const struct flowi4 *fl4)
{
	memset(key, 0, sizeof(*key));
	key->netns = net->ns.inum;
	key->oif = fl4->flowi4_oif;
	key->mark = fl4->flowi4_mark;
	key->family = AF_INET;
	key->tos = fl4->flowi4_tos & ~INET_ECN_MASK;
	key->dst[0] = fl4->daddr;
	key->src[0] = fl4->saddr;
}

/* The entry for decision rt (fl4: the flow after the lookup); -ENOENT when it does not lead to
 * an oob port or cannot be expressed (non-unicast, IPv6 gateway). */
static int oobk_route_value4(struct net *net, const struct flowi4 *fl4, const struct rtable *rt,
			     u32 table, struct oob_route *r)
{
	const struct net_device *dev = rt->dst.dev;
	const struct oobk_mapset *m;
	bool port = false;
	u32 lower = 0;
	u16 vid = 0;

	rcu_read_lock();
	m = oobk_maps_rcu(net);
	if (m && m->map[OOBK_MAP_ROUTES] && dev)
		port = oobk_port_dev(m, dev, &lower, &vid);
	rcu_read_unlock();
	/* Unicast via an IPv4 gateway or on-link only: an IPv6 gateway has no place in the entry. */
	if (!port || rt->rt_type != RTN_UNICAST || rt->rt_gw_family == AF_INET6)
		return -ENOENT;

	memset(r, 0, sizeof(*r));
	r->oif = dev->ifindex;
	r->lower_ifindex = lower;
	r->vid = vid;
	r->family = AF_INET;
	r->flags = OOB_ROUTE_COMPLETE;
	if (rt->rt_gw_family == AF_INET) {
		r->flags |= OOB_ROUTE_GATEWAY;
		r->gw[0] = rt->rt_gw4;
	}
	r->table = table;
	r->mtu = dst_mtu(&rt->dst);
	r->prefsrc[0] = fl4->saddr;
	r->learned_ns = ktime_get_ns();
	return 0;
}

/* ip_learn_oob_route() semantics: record rt, the decision for the flow key, if it leads to an oob
 * port. fl4 is the flow after the lookup (its saddr is the chosen source). */
void oobk_learn_route4(struct net *net, const struct oob_route_key *key,
		       const struct flowi4 *fl4, const struct rtable *rt, u32 table)
{
	struct oobk_net *on = oobk_net(net);
	struct oob_route r;

	if (oobk_route_value4(net, fl4, rt, table, &r) ||
	    oobk_write_seq(on, OOBK_MAP_ROUTES, key, &r, offsetof(struct oob_route, seq)))
		atomic64_inc(&on->routes_failed);
	else
		atomic64_inc(&on->routes_learned);
}

/*
 * The IPv6 flow of a lookup, keyed as the tp_btf learner keys it: tos is the traffic class's
 * DSCP part (the flow label word is tclass << 20 | label); the label itself only picks a
 * multipath leg, which the entry does not record.
 */
void oobk_route_key6(struct oob_route_key *key, const struct net *net, const struct flowi6 *fl6)
{
	memset(key, 0, sizeof(*key));
	key->netns = net->ns.inum;
	key->oif = fl6->flowi6_oif;
	key->mark = fl6->flowi6_mark;
	key->family = AF_INET6;
	key->tos = (ntohl(fl6->flowlabel) >> 20) & 0xfc;
	memcpy(key->dst, &fl6->daddr, sizeof(key->dst));
	memcpy(key->src, &fl6->saddr, sizeof(key->src));
}

/*
 * The entry for IPv6 decision rt of flow key, with what RTM_GETROUTE reports for it (so that it
 * equals the daemon learner's entry): the table and type of the FIB entry the route came from,
 * the gateway when the route has one, the preferred source the stack picks for the destination
 * (the route's own prefsrc, else source address selection on the device; the flow's source when
 * there is none), the route's MTU metric or else the device's MTU. -ENOENT when it does not lead
 * to an oob port or is not unicast.
 */
static int oobk_route_value6(struct net *net, const struct oob_route_key *key,
			     const struct rt6_info *rt, struct oob_route *r)
{
	const struct net_device *dev = rt->dst.dev;
	const struct oobk_mapset *m;
	struct fib6_info *from;
	struct in6_addr saddr;
	bool port = false;
	u32 lower = 0;
	u16 vid = 0;
	int err = -ENOENT;

	memset(r, 0, sizeof(*r));
	rcu_read_lock();
	m = oobk_maps_rcu(net);
	if (m && m->map[OOBK_MAP_ROUTES] && dev)
		port = oobk_port_dev(m, dev, &lower, &vid);
	from = rcu_dereference(rt->from);
	if (!port || !from || from->fib6_type != RTN_UNICAST)
		goto out;
	r->table = from->fib6_table ? from->fib6_table->tb6_id : 0;
	if (from->fib6_prefsrc.plen)
		saddr = from->fib6_prefsrc.addr;
	else if (ipv6_dev_get_saddr(net, fib6_info_nh_dev(from),
				    (const struct in6_addr *)key->dst, 0, &saddr))
		memcpy(&saddr, key->src, sizeof(saddr));
	err = 0;
out:
	rcu_read_unlock();
	if (err)
		return err;

	r->oif = dev->ifindex;
	r->lower_ifindex = lower;
	r->vid = vid;
	r->family = AF_INET6;
	if (rt->rt6i_flags & RTF_GATEWAY) {
		r->flags |= OOB_ROUTE_GATEWAY;
		memcpy(r->gw, &rt->rt6i_gateway, sizeof(r->gw));
	}
	memcpy(r->prefsrc, &saddr, sizeof(r->prefsrc));
	r->mtu = dst_metric_raw(&rt->dst, RTAX_MTU) ?: READ_ONCE(dev->mtu);
	if (r->mtu && !ipv6_addr_any(&saddr))
		r->flags |= OOB_ROUTE_COMPLETE;
	r->learned_ns = ktime_get_ns();
	return 0;
}

/*
 * Resolutions in flight: the tracepoint fires for our own lookups too; the probe records the
 * table that answered (the last successful table lookup: the rules walk stops there) instead of
 * queueing the flow again.
 */
struct oobk_resolver {
	struct task_struct *task;
	u32 table;
};

#define OOBK_RESOLVERS 8
static struct oobk_resolver *oobk_resolvers[OOBK_RESOLVERS];
static atomic_t oobk_nresolvers = ATOMIC_INIT(0);

static bool oobk_resolver_begin(struct oobk_resolver *r)
{
	unsigned int i;

	r->task = current;
	r->table = 0;
	for (i = 0; i < OOBK_RESOLVERS; i++) {
		if (!cmpxchg(&oobk_resolvers[i], NULL, r)) {
			atomic_inc(&oobk_nresolvers);
			return true;
		}
	}
	return false; /* all slots busy: the table stays unknown (0) */
}

static void oobk_resolver_end(struct oobk_resolver *r)
{
	unsigned int i;

	for (i = 0; i < OOBK_RESOLVERS; i++) {
		if (READ_ONCE(oobk_resolvers[i]) == r) {
			WRITE_ONCE(oobk_resolvers[i], NULL);
			atomic_dec(&oobk_nresolvers);
		}
	}
}

/* From the probe: is this lookup one of ours? Then note its table. */
bool oobk_resolver_note(u32 table)
{
	struct oobk_resolver *r;
	unsigned int i;

	if (!atomic_read(&oobk_nresolvers))
		return false;
	for (i = 0; i < OOBK_RESOLVERS; i++) {
		r = READ_ONCE(oobk_resolvers[i]);
		if (r && r->task == current) {
			r->table = table;
			return true;
		}
	}
	return false;
}

/*
 * Ask the stack for the decision on flow key, as an in-band sender of that flow would: 0 and
 * the entry in r, or an error (no route, or not towards an oob port).
 */
static int oobk_decide4(struct net *net, const struct oob_route_key *key, struct oob_route *r)
{
	struct oobk_resolver res;
	struct flowi4 fl4;
	struct rtable *rt;
	bool noted;
	int err;

	memset(&fl4, 0, sizeof(fl4));
	fl4.flowi4_oif = key->oif;
	fl4.flowi4_mark = key->mark;
	fl4.flowi4_tos = key->tos;
	fl4.flowi4_scope = RT_SCOPE_UNIVERSE;
	fl4.daddr = key->dst[0];
	fl4.saddr = key->src[0];
	noted = oobk_resolver_begin(&res);
	rt = ip_route_output_key(net, &fl4);
	if (noted)
		oobk_resolver_end(&res);
	if (IS_ERR(rt))
		return PTR_ERR(rt);
	err = oobk_route_value4(net, &fl4, rt, res.table, r);
	ip_rt_put(rt);
	return err;
}

static int oobk_decide6(struct net *net, const struct oob_route_key *key, struct oob_route *r)
{
	struct oobk_resolver res;
	struct dst_entry *dst;
	struct flowi6 fl6;
	bool noted;
	int err;

	memset(&fl6, 0, sizeof(fl6));
	fl6.flowi6_oif = key->oif;
	fl6.flowi6_mark = key->mark;
	fl6.flowlabel = ip6_make_flowinfo(key->tos, 0);
	memcpy(&fl6.daddr, key->dst, sizeof(fl6.daddr));
	memcpy(&fl6.saddr, key->src, sizeof(fl6.saddr));
	noted = oobk_resolver_begin(&res);
	dst = ip6_route_output(net, NULL, &fl6);
	if (noted)
		oobk_resolver_end(&res);
	err = dst->error;
	if (!err)
		err = oobk_route_value6(net, key, container_of(dst, struct rt6_info, dst), r);
	dst_release(dst);
	return err;
}

static int oobk_decide(struct net *net, const struct oob_route_key *key, struct oob_route *r)
{
	switch (key->family) {
	case AF_INET:
		return oobk_decide4(net, key, r);
	case AF_INET6:
		return oobk_decide6(net, key, r);
	}
	return -EAFNOSUPPORT;
}

/* ---- stock kernels: triggered flows, resolved by a worker ---------------------------------- */
#define OOBK_PENDING 64

enum { OOBK_P_FREE, OOBK_P_QUEUED, OOBK_P_INFLIGHT };

struct oobk_pending {
	struct net *net;	/* a reference while queued or in flight */
	struct oob_route_key key;
	u32 state;
};

static struct oobk_pending oobk_pending[OOBK_PENDING];
static DEFINE_SPINLOCK(oobk_pending_lock);
static bool oobk_stopping;
static void oobk_learn_fn(struct work_struct *work);
static DECLARE_WORK(oobk_learn_work, oobk_learn_fn);

/* Any context (the tracepoint fires in process and softirq context alike). */
void oobk_route_trigger(struct net *net, const struct oob_route_key *key)
{
	struct oobk_pending *p, *slot = NULL;
	unsigned long flags;
	unsigned int i;

	spin_lock_irqsave(&oobk_pending_lock, flags);
	if (oobk_stopping)
		goto out;
	for (i = 0; i < OOBK_PENDING; i++) {
		p = &oobk_pending[i];
		if (p->state == OOBK_P_FREE) {
			if (!slot)
				slot = p;
		} else if (p->net == net && !memcmp(&p->key, key, sizeof(*key))) {
			goto out; /* queued or being resolved already */
		}
	}
	if (!slot) {
		/* Dropped, not lost: the flow's next lookup triggers again. */
		atomic64_inc(&oobk_net(net)->learn_dropped);
		goto out;
	}
	slot->net = maybe_get_net(net);
	if (!slot->net)
		goto out; /* the namespace is going away */
	slot->key = *key;
	slot->state = OOBK_P_QUEUED;
	queue_work(system_unbound_wq, &oobk_learn_work);
out:
	spin_unlock_irqrestore(&oobk_pending_lock, flags);
}

static void oobk_resolve(struct net *net, const struct oob_route_key *key)
{
	struct oobk_net *on = oobk_net(net);
	struct oob_route r;

	if (oobk_decide(net, key, &r) ||
	    oobk_write_seq(on, OOBK_MAP_ROUTES, key, &r, offsetof(struct oob_route, seq)))
		atomic64_inc(&on->routes_failed);
	else
		atomic64_inc(&on->routes_learned);
}

static void oobk_learn_fn(struct work_struct *work)
{
	struct oobk_pending *p;
	struct oob_route_key key;
	unsigned int i;
	struct net *net;

	for (;;) {
		spin_lock_irq(&oobk_pending_lock);
		for (i = 0; i < OOBK_PENDING; i++)
			if (oobk_pending[i].state == OOBK_P_QUEUED)
				break;
		if (i == OOBK_PENDING) {
			spin_unlock_irq(&oobk_pending_lock);
			return;
		}
		p = &oobk_pending[i];
		p->state = OOBK_P_INFLIGHT;
		net = p->net;
		key = p->key;
		spin_unlock_irq(&oobk_pending_lock);

		oobk_resolve(net, &key);

		spin_lock_irq(&oobk_pending_lock);
		p->state = OOBK_P_FREE;
		p->net = NULL;
		spin_unlock_irq(&oobk_pending_lock);
		put_net(net);
		cond_resched();
	}
}

/* ---- revalidation after FIB and rule changes ----------------------------------------------- */
/* Ask again for flow key: rewrite its entry if the decision changed, delete it if the flow no
 * longer leads to an oob port. false: the entry is gone. */
static bool oobk_revalidate(struct oobk_net *on, const struct oob_route_key *key)
{
	const struct oobk_mapset *m;
	const struct oob_route *r;
	struct oob_route now, cur;
	bool have = false;

	if (oobk_decide(on->net, key, &now)) {
		if (!oobk_delete(on, OOBK_MAP_ROUTES, key))
			atomic64_inc(&on->purged);
		return false;
	}
	rcu_read_lock();
	m = rcu_dereference(on->maps);
	r = m ? oobk_lookup(m, OOBK_MAP_ROUTES, key) : NULL;
	if (r) {
		/* A torn copy only costs a needless rewrite. */
		memcpy(&cur, r, sizeof(cur));
		have = true;
	}
	rcu_read_unlock();
	if (have) {
		now.learned_ns = cur.learned_ns;
		now.seq = cur.seq;
		if (!memcmp(&now, &cur, sizeof(now)))
			return true; /* unchanged: readers see no seq movement */
		now.learned_ns = ktime_get_ns();
	}
	if (!oobk_write_seq(on, OOBK_MAP_ROUTES, key, &now, offsetof(struct oob_route, seq)))
		atomic64_inc(&on->routes_learned);
	return true;
}

static void oobk_reval_fn(struct work_struct *work)
{
	struct oobk_net *on = container_of(to_delayed_work(work), struct oobk_net, reval);
	struct oob_route_key prev, next;
	const struct oobk_mapset *m;
	bool have_prev = false;
	struct bpf_map *map;
	unsigned int budget;
	int err;

	/* Bounded: a concurrent delete of prev restarts the walk from the first entry. */
	for (budget = 2 * OOB_MAX_ROUTES; budget; budget--) {
		rcu_read_lock();
		m = rcu_dereference(on->maps);
		map = m ? m->map[OOBK_MAP_ROUTES] : NULL;
		err = map ? map->ops->map_get_next_key(map, have_prev ? &prev : NULL, &next) :
			    -ENOENT;
		rcu_read_unlock();
		if (err)
			break;
		if (next.netns == on->net->ns.inum && !oobk_revalidate(on, &next))
			continue; /* deleted: prev's successor is the next candidate */
		prev = next;
		have_prev = true;
		cond_resched();
	}
}

/* Atomic context (the FIB notifier chain): only schedule. */
static int oobk_fib_event(struct notifier_block *nb, unsigned long event, void *ptr)
{
	struct oobk_net *on = container_of(nb, struct oobk_net, fib_nb);
	struct fib_notifier_info *info = ptr;

	if (info->family != AF_INET && info->family != AF_INET6)
		return NOTIFY_DONE;
	switch (event) {
	case FIB_EVENT_ENTRY_REPLACE:
	case FIB_EVENT_ENTRY_APPEND:
	case FIB_EVENT_ENTRY_ADD:
	case FIB_EVENT_ENTRY_DEL:
	case FIB_EVENT_RULE_ADD:
	case FIB_EVENT_RULE_DEL:
		/* A burst (a flush, the replay at registration) makes one pass. */
		mod_delayed_work(system_unbound_wq, &on->reval, msecs_to_jiffies(20));
		break;
	}
	return NOTIFY_DONE;
}

void oobk_learn_net_init(struct oobk_net *on)
{
	INIT_DELAYED_WORK(&on->reval, oobk_reval_fn);
	on->fib_nb.notifier_call = oobk_fib_event;
}

/* While the namespace's map set has a routes map (maps.c, under its lock; takes RTNL). */
int oobk_reval_start(struct net *net)
{
	struct oobk_net *on = oobk_net(net);
	int err;

	if (on->fib_registered)
		return 0;
	err = register_fib_notifier(net, &on->fib_nb, NULL, NULL);
	if (err) {
		pr_warn("oobbpf: netns %u: FIB notifier: %d: learned routes are not revalidated\n",
			net->ns.inum, err);
		return err;
	}
	on->fib_registered = true;
	return 0;
}

void oobk_reval_stop(struct net *net)
{
	struct oobk_net *on = oobk_net(net);

	if (!on->fib_registered)
		return;
	unregister_fib_notifier(net, &on->fib_nb);
	on->fib_registered = false;
	cancel_delayed_work_sync(&on->reval);
}

/* ---- neighbours ---------------------------------------------------------------------------- */
static void oobk_neigh_update(struct neighbour *n)
{
	struct net_device *dev = n->dev;
	struct net *net = dev_net(dev);
	struct oobk_net *on = oobk_net(net);
	const struct oobk_mapset *m;
	struct oob_neigh_key key;
	struct oob_neigh v;
	char ha[MAX_ADDR_LEN];
	int family = n->tbl->family;
	bool port = false;
	u32 lower;
	u8 state;
	u16 vid;

	if ((family != AF_INET && family != AF_INET6) || dev->type != ARPHRD_ETHER ||
	    dev->addr_len != ETH_ALEN)
		return;
	rcu_read_lock();
	m = oobk_maps_rcu(net);
	/* OOBK_MAPS_OBSERVE: the daemon mirrors neighbours itself. */
	if (m && m->map[OOBK_MAP_NEIGHS] && !(m->flags & OOBK_MAPS_OBSERVE))
		port = oobk_port_dev(m, dev, &lower, &vid);
	rcu_read_unlock();
	if (!port)
		return;

	memset(&key, 0, sizeof(key));
	key.ifindex = dev->ifindex;
	key.family = family;
	memcpy(key.addr, n->primary_key, family == AF_INET ? 4 : 16);
	state = READ_ONCE(n->nud_state);
	/* A device that is down has no usable neighbours: an update that comes after its
	 * NETDEV_DOWN purge (neigh_ifdown leaves referenced entries NUD_NOARP, which counts as
	 * valid) must not bring an entry back. */
	if (!(state & NUD_VALID) || !netif_running(dev)) {
		if (!oobk_delete(on, OOBK_MAP_NEIGHS, &key))
			atomic64_inc(&on->neighs_removed);
		return;
	}
	memset(&v, 0, sizeof(v));
	neigh_ha_snapshot(ha, n, dev);
	memcpy(v.mac, ha, ETH_ALEN);
	v.state = state;
	v.updated_ns = ktime_get_ns();
	if (!oobk_write_seq(on, OOBK_MAP_NEIGHS, &key, &v, offsetof(struct oob_neigh, seq)))
		atomic64_inc(&on->neighs_updated);
}

static int oobk_netevent(struct notifier_block *nb, unsigned long event, void *ptr)
{
	if (event == NETEVENT_NEIGH_UPDATE)
		oobk_neigh_update(ptr);
	return NOTIFY_DONE;
}

static struct notifier_block oobk_netevent_nb = {
	.notifier_call = oobk_netevent,
};

/* ---- devices ------------------------------------------------------------------------------- */
struct oobk_dev_match {
	u32 netns;
	u32 ifindex;
};

static bool oobk_route_on(const void *key, const void *val, const void *arg)
{
	const struct oob_route_key *k = key;
	const struct oob_route *r = val;
	const struct oobk_dev_match *d = arg;

	return k->netns == d->netns &&
	       (k->oif == d->ifindex || r->oif == d->ifindex || r->lower_ifindex == d->ifindex);
}

static bool oobk_neigh_on(const void *key, const void *val, const void *arg)
{
	const struct oob_neigh_key *k = key;
	const struct oobk_dev_match *d = arg;

	return k->ifindex == d->ifindex;
}

static void oobk_purge_dev(struct net_device *dev)
{
	struct net *net = dev_net(dev);
	struct oobk_net *on = oobk_net(net);
	struct oobk_dev_match d = { .netns = net->ns.inum, .ifindex = dev->ifindex };
	const struct oobk_mapset *m;
	bool observe;
	unsigned int n;

	/* OOBK_MAPS_OBSERVE: the entries are the daemon's, and so is their removal (its caches
	 * and next-hop references go with them). */
	rcu_read_lock();
	m = oobk_maps_rcu(net);
	observe = !m || (m->flags & OOBK_MAPS_OBSERVE);
	rcu_read_unlock();
	if (observe)
		return;
	n = oobk_purge(on, OOBK_MAP_ROUTES, oobk_route_on, &d);
	n += oobk_purge(on, OOBK_MAP_NEIGHS, oobk_neigh_on, &d);
	if (n) {
		atomic64_add(n, &on->purged);
		netdev_dbg(dev, "oobbpf: purged %u entries\n", n);
	}
}

static int oobk_netdev_event(struct notifier_block *nb, unsigned long event, void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);

	/* Unregistering the notifier replays DOWN and UNREGISTER for every device: those are
	 * not real, and the maps outlive the module. */
	if (READ_ONCE(oobk_stopping))
		return NOTIFY_DONE;
	switch (event) {
	case NETDEV_UNREGISTER:
		oobk_rx_dev_gone(dev);
		fallthrough;
	case NETDEV_DOWN:
		oobk_purge_dev(dev);
		break;
	}
	return NOTIFY_DONE;
}

static struct notifier_block oobk_netdev_nb = {
	.notifier_call = oobk_netdev_event,
};

int oobk_learn_init(void)
{
	int err;

	err = register_netdevice_notifier(&oobk_netdev_nb);
	if (err)
		return err;
	err = register_netevent_notifier(&oobk_netevent_nb);
	if (err)
		unregister_netdevice_notifier(&oobk_netdev_nb);
	return err;
}

/* After the route trigger is gone (no new work). */
void oobk_learn_exit(void)
{
	unsigned int i;

	spin_lock_irq(&oobk_pending_lock);
	WRITE_ONCE(oobk_stopping, true);
	spin_unlock_irq(&oobk_pending_lock);
	unregister_netevent_notifier(&oobk_netevent_nb);
	unregister_netdevice_notifier(&oobk_netdev_nb);
	cancel_work_sync(&oobk_learn_work);
	for (i = 0; i < OOBK_PENDING; i++) {
		if (oobk_pending[i].state != OOBK_P_FREE) {
			put_net(oobk_pending[i].net);
			oobk_pending[i].state = OOBK_P_FREE;
			oobk_pending[i].net = NULL;
		}
	}
}
