/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kernel bridge's internal interfaces.
 *
 *   maps.c        the maps each network namespace's daemon hands over, and how the module
 *                 reads and writes them
 *   ctl.c         /dev/oobbpf and its ioctls (oobbpf/kmod_ioctl.h)
 *   classify.c    the classifier core (oobbpf/classify.h) on skbs: netif_deliver_oob()
 *                 semantics, statistics, the companion core's receiver
 *   rx.c          stock kernels: the test-mode rx_handler that drives classify.c
 *   learn.c       route and neighbour entries; netevent and netdevice notifiers
 *   hooks_stock.c stock kernels: the fib_table_lookup / fib6_table_lookup tracepoint probes
 *                 (route trigger)
 *   hooks_dovetail.c  Dovetail kernels: netif_deliver_oob() and ip_learn_oob_route()
 */
#ifndef OOBBPF_KMOD_H
#define OOBBPF_KMOD_H

#include <linux/bpf.h>
#include <linux/netdevice.h>
#include <linux/notifier.h>
#include <linux/rcupdate.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/route.h>
#include <oobbpf/abi.h>
#include <oobbpf/kmod_ioctl.h>

/* The maps of one namespace, replaced as a whole (RCU) when the daemon hands a new set. */
struct oobk_mapset {
	struct rcu_head rcu;
	u32 held;				/* bit per role */
	u32 flags;				/* OOBK_MAPS_* */
	struct bpf_map *map[OOBK_MAP_COUNT];
};

/* Per network namespace state. */
struct oobk_net {
	struct net *net;
	struct oobk_mapset __rcu *maps;
	/* Serialises the in-place (seqcount) writes to routes and neighs entries. */
	spinlock_t write_lock;
	/* Route revalidation after FIB and rule changes (learn.c), while a routes map is held. */
	struct notifier_block fib_nb;
	struct delayed_work reval;
	bool fib_registered;
	/* Open files that read decided flows (events.c); RCU list, changed under readers_lock. */
	struct list_head readers;
	spinlock_t readers_lock;
	atomic64_t routes_learned;
	atomic64_t routes_failed;
	atomic64_t learn_dropped;
	atomic64_t neighs_updated;
	atomic64_t neighs_removed;
	atomic64_t purged;
	atomic64_t rx_frames;
	atomic64_t rx_diverted;
};

extern unsigned int oobk_net_id;

static inline struct oobk_net *oobk_net(const struct net *net)
{
	return net_generic(net, oobk_net_id);
}

/* The namespace's maps, or NULL; caller holds rcu_read_lock(). */
static inline const struct oobk_mapset *oobk_maps_rcu(const struct net *net)
{
	return rcu_dereference(oobk_net(net)->maps);
}

/*
 * Lookups go straight to the map's ops, as an inlined bpf_map_lookup_elem() in a BPF program
 * does: under RCU, without locks. For per-CPU arrays that is this CPU's element, so the caller
 * must not migrate (softirq, or the oob stage, both qualify).
 */
static inline void *oobk_lookup(const struct oobk_mapset *m, unsigned int role, const void *key)
{
	struct bpf_map *map = m->map[role];

	return map ? map->ops->map_lookup_elem(map, (void *)key) : NULL;
}

/* maps.c */
int oobk_maps_init(void);
void oobk_maps_exit(void);
int oobk_maps_set(struct net *net, struct oobk_maps *req);
void oobk_maps_clear(struct net *net);
int oobk_write_seq(struct oobk_net *on, unsigned int role, const void *key, void *val,
		   size_t seq_off);
int oobk_delete(struct oobk_net *on, unsigned int role, const void *key);
typedef bool (*oobk_match_fn)(const void *key, const void *val, const void *arg);
unsigned int oobk_purge(struct oobk_net *on, unsigned int role, oobk_match_fn match,
			const void *arg);

/* ctl.c */
int oobk_ctl_init(void);
void oobk_ctl_exit(void);

/* events.c: decided flows for the daemon's learner (OOBK_MAPS_OBSERVE) */
struct oobk_reader;
void oobk_events_net_init(struct oobk_net *on);
void oobk_event_push(struct net *net, const struct oob_route_key *key, u32 nh_ifindex,
		     u32 table);
ssize_t oobk_events_read(struct file *file, char __user *buf, size_t count);
__poll_t oobk_events_poll(struct file *file, struct poll_table_struct *wait);
int oobk_events_forget(struct file *file, const struct oob_route_key __user *ukey);
void oobk_events_release(struct file *file);

/* classify.c */
/* Tags the frame adapter can put back: one more than the classifier accepts, so that a frame
 * with too many is still judged (and counted as OOB_R_VLAN_DEPTH). */
#define OOBK_MAX_TAGS (OOB_VLAN_MAX_DEPTH + 1)

struct oobk_ingress {
	u32 ifindex;		/* the lower device: what XDP calls the ingress device */
	u32 ntags;		/* tags the stack took out of the frame, outer first */
	__be16 tpid[OOBK_MAX_TAGS];
	u16 tci[OOBK_MAX_TAGS];
};

enum oobk_action {
	OOBK_PASS,		/* the in-band stack goes on with the skb */
	OOBK_TAKEN,		/* the receiver owns the skb */
	OOBK_DROP,		/* the caller frees the skb */
};

enum oobk_action oobk_deliver(struct sk_buff *skb, const struct oobk_ingress *in);
bool oobk_have_receiver(void);


/* learn.c */
bool oobk_port_dev(const struct oobk_mapset *m, const struct net_device *dev, u32 *lower,
		   u16 *vid);
void oobk_route_key4(struct oob_route_key *key, const struct net *net, const struct flowi4 *fl4);
void oobk_route_key6(struct oob_route_key *key, const struct net *net, const struct flowi6 *fl6);
void oobk_learn_route4(struct net *net, const struct oob_route_key *key,
		       const struct flowi4 *fl4, const struct rtable *rt, u32 table);
void oobk_route_trigger(struct net *net, const struct oob_route_key *key);
bool oobk_resolver_note(u32 table);
void oobk_learn_net_init(struct oobk_net *on);
int oobk_reval_start(struct net *net);
void oobk_reval_stop(struct net *net);
int oobk_learn_init(void);
void oobk_learn_exit(void);

/*
 * rx.c on stock kernels: the test-mode rx_handler. hooks_dovetail.c on Dovetail kernels: oob
 * diversion (and the oob port flag) through Dovetail's own switches.
 */
int oobk_rx_attach(struct net *net, u32 ifindex);
int oobk_rx_detach(struct net *net, u32 ifindex);
void oobk_rx_dev_gone(struct net_device *dev);
u32 oobk_rx_count(void);
void oobk_rx_exit(void);

#ifndef CONFIG_NET_OOB
/* hooks_stock.c (stock kernels) */
int oobk_tp_init(void);
void oobk_tp_exit(void);
bool oobk_tp_attached(void);
bool oobk_tp6_attached(void);
#else
/* hooks_dovetail.c: the kernel calls the route hook; there is no tracepoint to attach. */
void oobk_dovetail_init(void);

static inline int oobk_tp_init(void)
{
	oobk_dovetail_init();
	return 0;
}

static inline void oobk_tp_exit(void)
{
}

static inline bool oobk_tp_attached(void)
{
	return false;
}

static inline bool oobk_tp6_attached(void)
{
	return false;
}
#endif

#endif /* OOBBPF_KMOD_H */
