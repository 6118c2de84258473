// SPDX-License-Identifier: GPL-2.0-only
/*
 * The maps each namespace's daemon hands over (OOBK_IOC_SET_MAPS), checked against the layouts
 * of oobbpf/abi.h, and the module's way of writing them.
 *
 * Reads (classifier, learners) take no lock: the namespace's map set is an RCU pointer, and a
 * new set replaces the old one as a whole. Writes go through the map's own ops, as the bpf()
 * syscall does. Route and neighbour entries are changed in place under a seqcount (the seq
 * member of struct oob_route and struct oob_neigh: odd while being written), which is what
 * readers that copy an entry use to detect a torn copy.
 */
#include <linux/bpf.h>
#include <linux/err.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include "oobbpf.h"

unsigned int oobk_net_id;
static DEFINE_MUTEX(oobk_maps_lock);

/* The one shape each role may have: what bpf/ declares for it. */
struct oobk_role {
	const char *name;
	u32 type;
	u32 key_size;
	u32 value_size;
	u32 min_entries;
};

static const struct oobk_role oobk_roles[OOBK_MAP_COUNT] = {
	[OOBK_MAP_CONFIG] = { OOB_PIN_CONFIG, BPF_MAP_TYPE_ARRAY, sizeof(__u32),
			      sizeof(struct oob_config), 1 },
	[OOBK_MAP_DEVS] = { OOB_PIN_DEVS, BPF_MAP_TYPE_HASH, sizeof(__u32), sizeof(struct oob_dev),
			    1 },
	[OOBK_MAP_PORTS] = { OOB_PIN_PORTS, BPF_MAP_TYPE_HASH, sizeof(struct oob_port_key),
			     sizeof(struct oob_port), 1 },
	[OOBK_MAP_VLANS] = { OOB_PIN_VLANS, BPF_MAP_TYPE_HASH, sizeof(struct oob_vlan_key),
			     sizeof(struct oob_vlan), 1 },
	[OOBK_MAP_RULES] = { OOB_PIN_RULES, BPF_MAP_TYPE_HASH, sizeof(struct oob_rule_key),
			     sizeof(struct oob_rule_val), 1 },
	/* One entry per rule generation. */
	[OOBK_MAP_RULE_MASKS] = { OOB_PIN_RULE_MASKS, BPF_MAP_TYPE_ARRAY, sizeof(__u32),
				  sizeof(struct oob_rule_masks), 2 },
	[OOBK_MAP_RULE_STATS] = { OOB_PIN_RULE_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
				  sizeof(struct oob_rule_stats), 1 },
	[OOBK_MAP_PORT_STATS] = { OOB_PIN_PORT_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
				  sizeof(struct oob_port_stats), 1 },
	[OOBK_MAP_LAST] = { OOB_PIN_LAST, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
			    sizeof(struct oob_last), 1 },
	[OOBK_MAP_ROUTES] = { OOB_PIN_ROUTES, BPF_MAP_TYPE_HASH, sizeof(struct oob_route_key),
			      sizeof(struct oob_route), 1 },
	[OOBK_MAP_NEIGHS] = { OOB_PIN_NEIGHS, BPF_MAP_TYPE_HASH, sizeof(struct oob_neigh_key),
			      sizeof(struct oob_neigh), 1 },
};

/* Keys are copied on the stack when purging: the largest key must fit. */
#define OOBK_MAX_KEY 64
OOB_STATIC_ASSERT(sizeof(struct oob_route_key) <= OOBK_MAX_KEY, "route key");
OOB_STATIC_ASSERT(sizeof(struct oob_neigh_key) <= OOBK_MAX_KEY, "neigh key");

static bool oobk_role_ok(const struct bpf_map *map, unsigned int role)
{
	const struct oobk_role *r = &oobk_roles[role];

	if (map->map_type != r->type || map->key_size != r->key_size ||
	    map->value_size != r->value_size || map->max_entries < r->min_entries) {
		pr_debug("oobbpf: map '%s' for %s: type %u key %u value %u entries %u, want type %u key %u value %u entries >= %u\n",
			 map->name, r->name, map->map_type, map->key_size, map->value_size,
			 map->max_entries, r->type, r->key_size, r->value_size, r->min_entries);
		return false;
	}
	return true;
}

static void oobk_mapset_free(struct oobk_mapset *ms)
{
	unsigned int i;

	for (i = 0; i < OOBK_MAP_COUNT; i++)
		if (ms->map[i])
			bpf_map_put(ms->map[i]);
	kfree(ms);
}

/* Publish ms (may be NULL) for net and release the set it replaces once no reader sees it. */
static void oobk_maps_publish(struct net *net, struct oobk_mapset *ms)
{
	struct oobk_net *on = oobk_net(net);
	struct oobk_mapset *old;

	mutex_lock(&oobk_maps_lock);
	old = rcu_replace_pointer(on->maps, ms, lockdep_is_held(&oobk_maps_lock));
	/* Learned routes follow FIB and rule changes while the module writes a routes map. */
	if (ms && ms->map[OOBK_MAP_ROUTES] && !(ms->flags & OOBK_MAPS_OBSERVE))
		oobk_reval_start(net);
	else
		oobk_reval_stop(net);
	mutex_unlock(&oobk_maps_lock);
	if (old) {
		synchronize_rcu();
		oobk_mapset_free(old);
	}
}

int oobk_maps_set(struct net *net, struct oobk_maps *req)
{
	struct oobk_mapset *ms;
	unsigned int i;
	int err;

	req->bad_role = OOBK_BAD_REQUEST;
	if (req->size != sizeof(*req) || (req->flags & ~OOBK_MAPS_OBSERVE) || req->pad)
		return -EINVAL;
	if (req->version != OOBK_IOCTL_VERSION || req->abi_version != OOB_ABI_VERSION)
		return -EPROTO;
	for (i = OOBK_MAP_COUNT; i < OOBK_MAP_SLOTS; i++) {
		if (req->fd[i] != -1) {
			req->bad_role = i; /* a role this module does not know */
			return -EINVAL;
		}
	}

	ms = kzalloc(sizeof(*ms), GFP_KERNEL);
	if (!ms)
		return -ENOMEM;
	for (i = 0; i < OOBK_MAP_COUNT; i++) {
		struct bpf_map *map;

		if (req->fd[i] == -1)
			continue;
		req->bad_role = i;
		err = -EBADF;
		if (req->fd[i] < 0)
			goto fail;
		/* A reference of our own: the maps stay usable when the daemon exits or unpins. */
		map = bpf_map_get(req->fd[i]);
		if (IS_ERR(map)) {
			err = PTR_ERR(map);
			goto fail;
		}
		if (!oobk_role_ok(map, i)) {
			bpf_map_put(map);
			err = -EINVAL;
			goto fail;
		}
		ms->map[i] = map;
		ms->held |= 1U << i;
	}
	if ((ms->held & OOBK_MAPS_REQUIRED) != OOBK_MAPS_REQUIRED) {
		req->bad_role = __ffs(OOBK_MAPS_REQUIRED & ~ms->held);
		err = -ENOENT;
		goto fail;
	}
	req->bad_role = 0;
	ms->flags = req->flags;
	oobk_maps_publish(net, ms);
	pr_debug("oobbpf: netns %u: maps 0x%x\n", net->ns.inum, ms->held);
	return 0;
fail:
	oobk_mapset_free(ms);
	return err;
}

void oobk_maps_clear(struct net *net)
{
	oobk_maps_publish(net, NULL);
}

/*
 * Write one entry: in place under the seqcount when it exists, else inserted whole (a reader
 * cannot see an entry before the insertion is complete). seq_off is the offset of the value's
 * u32 seq member.
 */
int oobk_write_seq(struct oobk_net *on, unsigned int role, const void *key, void *val,
		   size_t seq_off)
{
	const struct oobk_mapset *m;
	struct bpf_map *map;
	u32 *seqp, seq;
	void *cur;
	int err;

	rcu_read_lock();
	m = rcu_dereference(on->maps);
	map = m ? m->map[role] : NULL;
	if (!map) {
		rcu_read_unlock();
		return -ENOENT;
	}
	spin_lock_bh(&on->write_lock);
	cur = map->ops->map_lookup_elem(map, (void *)key);
	if (cur) {
		seqp = (u32 *)((u8 *)cur + seq_off);
		seq = READ_ONCE(*seqp) | 1;
		WRITE_ONCE(*seqp, seq);
		smp_wmb(); /* odd seq visible before the fields change */
		*(u32 *)((u8 *)val + seq_off) = seq;
		memcpy(cur, val, map->value_size);
		smp_wmb(); /* fields visible before seq is even again */
		WRITE_ONCE(*seqp, seq + 1);
		err = 0;
	} else {
		*(u32 *)((u8 *)val + seq_off) = 0;
		err = map->ops->map_update_elem(map, (void *)key, val, BPF_NOEXIST);
	}
	spin_unlock_bh(&on->write_lock);
	rcu_read_unlock();
	return err;
}

int oobk_delete(struct oobk_net *on, unsigned int role, const void *key)
{
	const struct oobk_mapset *m;
	struct bpf_map *map;
	int err = -ENOENT;

	rcu_read_lock();
	m = rcu_dereference(on->maps);
	map = m ? m->map[role] : NULL;
	if (map) {
		spin_lock_bh(&on->write_lock);
		err = map->ops->map_delete_elem(map, (void *)key);
		spin_unlock_bh(&on->write_lock);
	}
	rcu_read_unlock();
	return err;
}

/* Delete every entry of a hash map for which match() says so; returns how many. */
unsigned int oobk_purge(struct oobk_net *on, unsigned int role, oobk_match_fn match,
			const void *arg)
{
	u8 prev[OOBK_MAX_KEY], next[OOBK_MAX_KEY];
	const struct oobk_mapset *m;
	struct bpf_map *map;
	bool have_prev = false;
	unsigned int n = 0;
	void *val;

	rcu_read_lock();
	m = rcu_dereference(on->maps);
	map = m ? m->map[role] : NULL;
	if (!map || map->key_size > OOBK_MAX_KEY)
		goto out;
	spin_lock_bh(&on->write_lock);
	while (!map->ops->map_get_next_key(map, have_prev ? prev : NULL, next)) {
		val = map->ops->map_lookup_elem(map, next);
		if (val && match(next, val, arg)) {
			/* prev stays: its successor is now the entry after the deleted one. */
			if (!map->ops->map_delete_elem(map, next))
				n++;
			continue;
		}
		memcpy(prev, next, map->key_size);
		have_prev = true;
	}
	spin_unlock_bh(&on->write_lock);
out:
	rcu_read_unlock();
	return n;
}

static int __net_init oobk_net_init(struct net *net)
{
	struct oobk_net *on = oobk_net(net);

	on->net = net;
	spin_lock_init(&on->write_lock);
	oobk_learn_net_init(on);
	oobk_events_net_init(on);
	RCU_INIT_POINTER(on->maps, NULL);
	return 0;
}

/* A namespace going away (or the module): drop our references on its maps. */
static void __net_exit oobk_net_exit(struct net *net)
{
	oobk_maps_clear(net);
}

static struct pernet_operations oobk_net_ops = {
	.init = oobk_net_init,
	.exit = oobk_net_exit,
	.id = &oobk_net_id,
	.size = sizeof(struct oobk_net),
};

int oobk_maps_init(void)
{
	return register_pernet_subsys(&oobk_net_ops);
}

void oobk_maps_exit(void)
{
	unregister_pernet_subsys(&oobk_net_ops);
}
