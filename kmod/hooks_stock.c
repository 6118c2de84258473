// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stock kernels: the route hook. Dovetail calls ip_learn_oob_route() at the end of every output
 * route lookup towards an oob port; a stock kernel has no such call, but its fib_table_lookup
 * and fib6_table_lookup tracepoints fire inside every IPv4 and IPv6 FIB table lookup. They are
 * not exported to modules (6.1), so they are found by name with for_each_kernel_tracepoint(),
 * and probes are attached with tracepoint_probe_register().
 *
 * The probes are triggers only (see learn.c): an output lookup that found a nexthop on an oob
 * port, for a flow with no entry or an entry older than route_refresh_ms, queues the flow for the
 * worker; with OOBK_MAPS_OBSERVE, a flow with no entry is reported to the daemon (events.c). The
 * probes run in the lookup's context (process or softirq), so they take no lock but the pending
 * queue's and allocate nothing. The flows are keyed as the tp_btf learner keys them.
 */
#include <linux/module.h>
#include <linux/tracepoint.h>
#include <net/ip6_fib.h>
#include <net/ip_fib.h>
#include "oobbpf.h"

static unsigned int route_refresh_ms = 1000;
module_param(route_refresh_ms, uint, 0644);
MODULE_PARM_DESC(route_refresh_ms,
		 "ask the in-band stack again for a learned flow's route when its entry is older (ms)");

static struct tracepoint *oobk_tp_fib;
static struct tracepoint *oobk_tp_fib6;

/* An output lookup found a nexthop on dev for flow key (caller holds rcu_read_lock()). */
static void oobk_route_seen(struct net *net, const struct net_device *dev,
			    const struct oob_route_key *key, u32 table)
{
	const struct oobk_mapset *m = oobk_maps_rcu(net);
	const struct oob_route *r;
	u32 lower;
	u16 vid;

	if (!m || !oobk_port_dev(m, dev, &lower, &vid))
		return;
	r = m->map[OOBK_MAP_ROUTES] ? oobk_lookup(m, OOBK_MAP_ROUTES, key) : NULL;
	if (m->flags & OOBK_MAPS_OBSERVE) {
		/* The daemon learns; a known flow is its to revalidate. */
		if (!r)
			oobk_event_push(net, key, dev->ifindex, table);
		return;
	}
	if (!m->map[OOBK_MAP_ROUTES] ||
	    (r && ktime_get_ns() - READ_ONCE(r->learned_ns) <
			  (u64)READ_ONCE(route_refresh_ms) * NSEC_PER_MSEC))
		return;
	oobk_route_trigger(net, key);
}

static void oobk_fib4_probe(void *data, u32 tb_id, const struct flowi4 *flp,
			    const struct fib_nh_common *nhc, int err)
{
	const struct net_device *dev;
	struct oob_route_key key;
	struct net *net;

	/* A hit, for an output lookup: input lookups carry the receiving device as iif. */
	if (err || !nhc || flp->flowi4_iif != LOOPBACK_IFINDEX)
		return;
	/* One of the module's own resolutions: it only wants to know which table answered. */
	if (oobk_resolver_note(tb_id))
		return;
	dev = nhc->nhc_dev;
	if (!dev)
		return;
	/* The IPv4 tracepoint has no net argument: the namespace is the nexthop device's. */
	net = dev_net(dev);
	oobk_route_key4(&key, net, flp);
	rcu_read_lock();
	oobk_route_seen(net, dev, &key, tb_id);
	rcu_read_unlock();
}

/*
 * IPv6: the result is the FIB entry the table gave (before multipath selection); no route,
 * reject and local results are not unicast. The module's own resolutions are skipped as for
 * IPv4 (an IPv6 route names its table itself).
 */
static void oobk_fib6_probe(void *data, const struct net *cnet, const struct fib6_result *res,
			    struct fib6_table *table, const struct flowi6 *flp)
{
	struct net *net = (struct net *)cnet;
	const struct net_device *dev;
	struct oob_route_key key;

	if (!res || res->fib6_type != RTN_UNICAST || !res->nh ||
	    flp->flowi6_iif != LOOPBACK_IFINDEX)
		return;
	if (oobk_resolver_note(table ? table->tb6_id : 0))
		return;
	dev = res->nh->fib_nh_dev;
	if (!dev)
		return;
	oobk_route_key6(&key, net, flp);
	rcu_read_lock();
	oobk_route_seen(net, dev, &key, table ? table->tb6_id : 0);
	rcu_read_unlock();
}

static void oobk_tp_match(struct tracepoint *tp, void *priv)
{
	struct tracepoint **found = priv;

	if (!strcmp(tp->name, "fib_table_lookup"))
		found[0] = tp;
	else if (!strcmp(tp->name, "fib6_table_lookup"))
		found[1] = tp;
}

static struct tracepoint *oobk_tp_attach(struct tracepoint *tp, const char *name, void *probe)
{
	int err;

	if (!tp) {
		pr_warn("oobbpf: no %s tracepoint: its route learning is off\n", name);
		return NULL;
	}
	err = tracepoint_probe_register(tp, probe, NULL);
	if (err) {
		pr_warn("oobbpf: %s probe: %d: its route learning is off\n", name, err);
		return NULL;
	}
	return tp;
}

/* No tracepoint is no failure: the module loads, and OOBK_IOC_GET_INFO says so. */
int oobk_tp_init(void)
{
	struct tracepoint *tp[2] = { NULL, NULL };

	for_each_kernel_tracepoint(oobk_tp_match, tp);
	oobk_tp_fib = oobk_tp_attach(tp[0], "fib_table_lookup", (void *)oobk_fib4_probe);
	oobk_tp_fib6 = oobk_tp_attach(tp[1], "fib6_table_lookup", (void *)oobk_fib6_probe);
	return 0;
}

void oobk_tp_exit(void)
{
	if (oobk_tp_fib)
		tracepoint_probe_unregister(oobk_tp_fib, (void *)oobk_fib4_probe, NULL);
	if (oobk_tp_fib6)
		tracepoint_probe_unregister(oobk_tp_fib6, (void *)oobk_fib6_probe, NULL);
	/* No probe runs (and no CPU is about to enter one) after this. */
	if (oobk_tp_fib || oobk_tp_fib6)
		tracepoint_synchronize_unregister();
	oobk_tp_fib = NULL;
	oobk_tp_fib6 = NULL;
}

bool oobk_tp_attached(void)
{
	return oobk_tp_fib != NULL;
}

bool oobk_tp6_attached(void)
{
	return oobk_tp_fib6 != NULL;
}
