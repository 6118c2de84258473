// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stock kernels: the route hook. Dovetail calls ip_learn_oob_route() at the end of every output
 * route lookup towards an oob port; a stock kernel has no such call, but its fib_table_lookup
 * tracepoint fires inside every IPv4 FIB table lookup. The tracepoint is not exported to modules
 * (6.1), so it is found by name with for_each_kernel_tracepoint(), and a probe is attached with
 * tracepoint_probe_register().
 *
 * The probe is a trigger only (see learn.c): an output lookup that found a nexthop on an oob
 * port, for a flow with no entry or an entry older than route_refresh_ms, queues the flow for the
 * worker; with OOBK_MAPS_OBSERVE, a flow with no entry is reported to the daemon (events.c). The probe runs in the lookup's context (process or softirq), so it takes no lock but
 * the pending queue's and allocates nothing.
 */
#include <linux/module.h>
#include <linux/tracepoint.h>
#include <net/ip_fib.h>
#include "oobbpf.h"

static unsigned int route_refresh_ms = 1000;
module_param(route_refresh_ms, uint, 0644);
MODULE_PARM_DESC(route_refresh_ms,
		 "ask the in-band stack again for a learned flow's route when its entry is older (ms)");

static struct tracepoint *oobk_tp_fib;

static void oobk_fib4_probe(void *data, u32 tb_id, const struct flowi4 *flp,
			    const struct fib_nh_common *nhc, int err)
{
	const struct oobk_mapset *m;
	const struct net_device *dev;
	const struct oob_route *r;
	struct oob_route_key key;
	struct net *net;
	u32 lower;
	u16 vid;

	/* A hit, for an output lookup: input lookups carry the receiving device as iif. */
	if (err || !nhc || flp->flowi4_iif != LOOPBACK_IFINDEX)
		return;
	/* One of the module's own resolutions: it only wants to know which table answered. */
	if (oobk_resolver_note(tb_id))
		return;
	dev = nhc->nhc_dev;
	if (!dev)
		return;
	net = dev_net(dev);

	rcu_read_lock();
	m = oobk_maps_rcu(net);
	if (!m || !oobk_port_dev(m, dev, &lower, &vid))
		goto out;
	oobk_route_key4(&key, net, flp);
	r = m->map[OOBK_MAP_ROUTES] ? oobk_lookup(m, OOBK_MAP_ROUTES, &key) : NULL;
	if (m->flags & OOBK_MAPS_OBSERVE) {
		/* The daemon learns; a known flow is its to revalidate. */
		if (!r)
			oobk_event_push(net, &key, dev->ifindex, tb_id);
		goto out;
	}
	if (!m->map[OOBK_MAP_ROUTES] ||
	    (r && ktime_get_ns() - READ_ONCE(r->learned_ns) <
			  (u64)READ_ONCE(route_refresh_ms) * NSEC_PER_MSEC))
		goto out;
	oobk_route_trigger(net, &key);
out:
	rcu_read_unlock();
}

static void oobk_tp_match(struct tracepoint *tp, void *priv)
{
	if (!strcmp(tp->name, "fib_table_lookup"))
		*(struct tracepoint **)priv = tp;
}

/* No tracepoint is no failure: the module loads, and OOBK_IOC_GET_INFO says so. */
int oobk_tp_init(void)
{
	struct tracepoint *tp = NULL;
	int err;

	for_each_kernel_tracepoint(oobk_tp_match, &tp);
	if (!tp) {
		pr_warn("oobbpf: no fib_table_lookup tracepoint: route learning off\n");
		return 0;
	}
	err = tracepoint_probe_register(tp, (void *)oobk_fib4_probe, NULL);
	if (err) {
		pr_warn("oobbpf: fib_table_lookup probe: %d: route learning off\n", err);
		return 0;
	}
	oobk_tp_fib = tp;
	return 0;
}

void oobk_tp_exit(void)
{
	if (!oobk_tp_fib)
		return;
	tracepoint_probe_unregister(oobk_tp_fib, (void *)oobk_fib4_probe, NULL);
	/* No probe runs (and no CPU is about to enter one) after this. */
	tracepoint_synchronize_unregister();
	oobk_tp_fib = NULL;
}

bool oobk_tp_attached(void)
{
	return oobk_tp_fib != NULL;
}
