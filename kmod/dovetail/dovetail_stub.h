/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A stub of the Dovetail API, as much of it as hooks_dovetail.c uses, so that the Dovetail build
 * of the hook file compiles (with the module's flags and -Werror) against a stock kernel's
 * headers. dovetail_check.c includes it; it is never linked into anything.
 *
 * Each declaration matches Dovetail for Linux 6.1 (linux-evl, CONFIG_DOVETAIL=y, CONFIG_NET_OOB=y):
 *   include/linux/netdevice.h   bool netif_deliver_oob(struct sk_buff *skb);
 *       a weak hook, default "return false"; called by netif_receive_oob() on every receive
 *       path (netif_rx, netif_receive_skb[_list], GRO) of a device with diversion on, before
 *       __netif_receive_skb_core(): generic XDP, taps, VLAN untagging have not run yet.
 *       true: the companion core owns the skb. Runs on the out-of-band stage when the driver
 *       is oob-capable, else in-band.
 *   include/net/route.h         void ip_learn_oob_route(struct net *net, struct flowi4 *flp4,
 *                                                       struct rtable *rt);
 *       a weak hook, called in-band at the end of ip_route_output_flow() when rt's output
 *       device is an oob port (netif_oob_port()); flp4 is the flow after the lookup.
 *   include/linux/irqstage.h    bool running_inband(void); bool running_oob(void);
 *       which pipeline stage the CPU runs on.
 *   include/linux/netdevice.h   bool netif_oob_diversion(const struct net_device *dev);
 *                               int netif_enable_oob_diversion(struct net_device *dev);
 *                               void netif_disable_oob_diversion(struct net_device *dev);
 *                               bool netif_oob_port(struct net_device *dev);
 *                               void netif_enable_oob_port(struct net_device *dev);
 *                               void netif_disable_oob_port(struct net_device *dev);
 *       diversion: the device's frames go to netif_deliver_oob() first (enabling calls the
 *       driver's ndo_enable_oob(), which may fail); port: the device is an oob I/O endpoint,
 *       which is what makes ip_route_output_flow() call ip_learn_oob_route().
 * irq_work_queue() is oob-safe on Dovetail: it is how oob code kicks in-band work.
 */
#ifndef OOBBPF_DOVETAIL_STUB_H
#define OOBBPF_DOVETAIL_STUB_H

#include <linux/netdevice.h>
#include <linux/skbuff.h>
#include <net/route.h>

#ifndef CONFIG_NET_OOB
#define CONFIG_NET_OOB 1
#endif

bool netif_deliver_oob(struct sk_buff *skb);
void ip_learn_oob_route(struct net *net, struct flowi4 *flp4, struct rtable *rt);

/* The stub runs everything in-band: there is no second stage without Dovetail. */
static inline bool running_inband(void)
{
	return true;
}

static inline bool running_oob(void)
{
	return !running_inband();
}

/* Compile-time stand-ins: no device diverts and none is a port without Dovetail. */
static inline bool netif_oob_diversion(const struct net_device *dev)
{
	return false;
}

static inline int netif_enable_oob_diversion(struct net_device *dev)
{
	return -EOPNOTSUPP;
}

static inline void netif_disable_oob_diversion(struct net_device *dev)
{
}

static inline bool netif_oob_port(struct net_device *dev)
{
	return false;
}

static inline void netif_enable_oob_port(struct net_device *dev)
{
}

static inline void netif_disable_oob_port(struct net_device *dev)
{
}

#endif /* OOBBPF_DOVETAIL_STUB_H */
