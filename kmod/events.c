// SPDX-License-Identifier: GPL-2.0-only
/*
 * Decided flows for the daemon's learner (OOBK_MAPS_OBSERVE). In that mode the daemon writes
 * the routes and neighs maps itself and wants from the module only what the tp_btf learner
 * gives it: which flows the in-band stack decided towards an oob port. The route hook pushes
 * each such flow, unless it has an entry already, to every reader of the namespace: an open
 * /dev/oobbpf that read() or poll()ed. A reader's queue is a fixed ring filled from any context
 * (the tracepoint fires in softirq too) and emptied by read(); a flow is reported once a second
 * at most (OOBK_IOC_FORGET resets that), and what does not fit is counted, not lost for good:
 * the flow's next lookup reports it again.
 */
#include <linux/fs.h>
#include <linux/jhash.h>
#include <linux/mm.h>
#include <linux/nsproxy.h>
#include <linux/poll.h>
#include <linux/rculist.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include "oobbpf.h"

#define OOBK_RING 256		/* records queued per reader */
#define OOBK_RECENT 64		/* flows remembered per reader for the once-a-second rule */
#define OOBK_BATCH 8		/* records per read() pass (copied out of the lock on the stack) */

struct oobk_recent {
	u32 hash;
	u64 ns;
};

struct oobk_reader {
	struct list_head list;
	struct net *net;
	spinlock_t lock;
	wait_queue_head_t wq;
	u32 head;		/* next record written */
	u32 tail;		/* next record read; head == tail: empty */
	struct oob_learn_event ring[OOBK_RING];
	struct oobk_recent recent[OOBK_RECENT];
};

void oobk_events_net_init(struct oobk_net *on)
{
	INIT_LIST_HEAD(&on->readers);
	spin_lock_init(&on->readers_lock);
}

/* Any context. */
void oobk_event_push(struct net *net, const struct oob_route_key *key, u32 nh_ifindex,
		     u32 table)
{
	struct oobk_net *on = oobk_net(net);
	u32 h = jhash(key, sizeof(*key), 0);
	u64 now = ktime_get_ns();
	struct oobk_recent *seen;
	struct oobk_reader *r;
	struct oob_learn_event *ev;
	unsigned long flags;
	bool woke;

	rcu_read_lock();
	list_for_each_entry_rcu(r, &on->readers, list) {
		spin_lock_irqsave(&r->lock, flags);
		seen = &r->recent[h % OOBK_RECENT];
		woke = false;
		if (seen->hash == h && seen->ns && now - seen->ns < NSEC_PER_SEC) {
			/* reported within the last second */
		} else if (r->head - r->tail == OOBK_RING) {
			atomic64_inc(&on->learn_dropped); /* not remembered: reported next time */
		} else {
			ev = &r->ring[r->head % OOBK_RING];
			ev->key = *key;
			ev->nh_ifindex = nh_ifindex;
			ev->table = table;
			ev->ts_ns = now;
			r->head++;
			seen->hash = h;
			seen->ns = now;
			woke = true;
		}
		spin_unlock_irqrestore(&r->lock, flags);
		if (woke)
			wake_up_interruptible(&r->wq);
	}
	rcu_read_unlock();
}

/* The file's reader, made on first use, in the namespace of its first user. */
static struct oobk_reader *oobk_reader_get(struct file *file)
{
	struct oobk_reader *r = READ_ONCE(file->private_data), *old;
	struct oobk_net *on;

	if (r)
		return r;
	r = kvzalloc(sizeof(*r), GFP_KERNEL);
	if (!r)
		return ERR_PTR(-ENOMEM);
	spin_lock_init(&r->lock);
	init_waitqueue_head(&r->wq);
	r->net = get_net(current->nsproxy->net_ns);
	old = cmpxchg(&file->private_data, NULL, r);
	if (old) {
		put_net(r->net);
		kvfree(r);
		return old;
	}
	on = oobk_net(r->net);
	spin_lock_bh(&on->readers_lock);
	list_add_tail_rcu(&r->list, &on->readers);
	spin_unlock_bh(&on->readers_lock);
	return r;
}

ssize_t oobk_events_read(struct file *file, char __user *buf, size_t count)
{
	struct oob_learn_event batch[OOBK_BATCH];
	struct oobk_reader *r = oobk_reader_get(file);
	size_t n;
	int err;

	if (IS_ERR(r))
		return PTR_ERR(r);
	if (count < sizeof(batch[0]))
		return -EINVAL;
	for (;;) {
		spin_lock_irq(&r->lock);
		for (n = 0; n < OOBK_BATCH && (n + 1) * sizeof(batch[0]) <= count &&
			    r->tail != r->head; n++, r->tail++)
			batch[n] = r->ring[r->tail % OOBK_RING];
		spin_unlock_irq(&r->lock);
		if (n)
			return copy_to_user(buf, batch, n * sizeof(batch[0])) ? -EFAULT :
										n * sizeof(batch[0]);
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		err = wait_event_interruptible(r->wq, READ_ONCE(r->head) != READ_ONCE(r->tail));
		if (err)
			return err;
	}
}

__poll_t oobk_events_poll(struct file *file, struct poll_table_struct *wait)
{
	struct oobk_reader *r = oobk_reader_get(file);

	if (IS_ERR(r))
		return EPOLLERR;
	poll_wait(file, &r->wq, wait);
	return READ_ONCE(r->head) != READ_ONCE(r->tail) ? EPOLLIN | EPOLLRDNORM : 0;
}

int oobk_events_forget(struct file *file, const struct oob_route_key __user *ukey)
{
	struct oobk_reader *r = oobk_reader_get(file);
	struct oob_route_key key;
	struct oobk_recent *seen;
	u32 h;

	if (IS_ERR(r))
		return PTR_ERR(r);
	if (copy_from_user(&key, ukey, sizeof(key)))
		return -EFAULT;
	h = jhash(&key, sizeof(key), 0);
	spin_lock_irq(&r->lock);
	seen = &r->recent[h % OOBK_RECENT];
	if (seen->hash == h)
		seen->ns = 0;
	spin_unlock_irq(&r->lock);
	return 0;
}

void oobk_events_release(struct file *file)
{
	struct oobk_reader *r = file->private_data;
	struct oobk_net *on;

	if (!r)
		return;
	on = oobk_net(r->net);
	spin_lock_bh(&on->readers_lock);
	list_del_rcu(&r->list);
	spin_unlock_bh(&on->readers_lock);
	synchronize_rcu(); /* no push is looking at r any more */
	put_net(r->net);
	kvfree(r);
}
