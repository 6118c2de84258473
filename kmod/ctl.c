// SPDX-License-Identifier: GPL-2.0-only
/*
 * /dev/oobbpf: the daemon's control interface (oobbpf/kmod_ioctl.h). Every ioctl acts on the caller's
 * network namespace and needs CAP_NET_ADMIN there.
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/nsproxy.h>
#include <linux/sched.h>
#include <linux/uaccess.h>
#include "oobbpf.h"

static int oobk_get_info(struct net *net, struct oobk_info __user *uinfo)
{
	struct oobk_net *on = oobk_net(net);
	const struct oobk_mapset *m;
	struct oobk_info info;

	if (copy_from_user(&info, uinfo, sizeof(info)))
		return -EFAULT;
	if (info.size != sizeof(info))
		return -EINVAL;
	if (info.version != OOBK_IOCTL_VERSION)
		return -EPROTO;
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.version = OOBK_IOCTL_VERSION;
	info.abi_version = OOB_ABI_VERSION;
#ifdef CONFIG_NET_OOB
	info.flags |= OOBK_INFO_DOVETAIL;
#else
	if (oobk_tp_attached())
		info.flags |= OOBK_INFO_TRACEPOINT;
	if (oobk_tp6_attached())
		info.flags |= OOBK_INFO_TRACEPOINT6;
#endif
	if (oobk_have_receiver())
		info.flags |= OOBK_INFO_RECEIVER;
	rcu_read_lock();
	m = rcu_dereference(on->maps);
	info.maps = m ? m->held : 0;
	rcu_read_unlock();
	info.rx_ports = oobk_rx_count();
	info.routes_learned = atomic64_read(&on->routes_learned);
	info.routes_failed = atomic64_read(&on->routes_failed);
	info.learn_dropped = atomic64_read(&on->learn_dropped);
	info.neighs_updated = atomic64_read(&on->neighs_updated);
	info.neighs_removed = atomic64_read(&on->neighs_removed);
	info.purged = atomic64_read(&on->purged);
	info.rx_frames = atomic64_read(&on->rx_frames);
	info.rx_diverted = atomic64_read(&on->rx_diverted);
	return copy_to_user(uinfo, &info, sizeof(info)) ? -EFAULT : 0;
}

static int oobk_port_ioctl(struct net *net, unsigned int cmd, struct oobk_port_req __user *ureq)
{
	struct oobk_port_req req;

	if (copy_from_user(&req, ureq, sizeof(req)))
		return -EFAULT;
	if (req.size != sizeof(req) || req.flags)
		return -EINVAL;
	if (req.version != OOBK_IOCTL_VERSION)
		return -EPROTO;
	if (cmd == OOBK_IOC_RX_ATTACH)
		return oobk_rx_attach(net, req.ifindex);
	return oobk_rx_detach(net, req.ifindex);
}

static long oobk_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct net *net = current->nsproxy->net_ns;
	void __user *uarg = (void __user *)arg;
	struct oobk_maps req;
	int err;

	if (!ns_capable(net->user_ns, CAP_NET_ADMIN))
		return -EPERM;

	switch (cmd) {
	case OOBK_IOC_SET_MAPS:
		if (copy_from_user(&req, uarg, sizeof(req)))
			return -EFAULT;
		err = oobk_maps_set(net, &req);
		if (put_user(req.bad_role, &((struct oobk_maps __user *)uarg)->bad_role))
			return -EFAULT;
		return err;
	case OOBK_IOC_CLEAR_MAPS:
		oobk_maps_clear(net);
		return 0;
	case OOBK_IOC_GET_INFO:
		return oobk_get_info(net, uarg);
	case OOBK_IOC_RX_ATTACH:
	case OOBK_IOC_RX_DETACH:
		return oobk_port_ioctl(net, cmd, uarg);
	case OOBK_IOC_FORGET:
		return oobk_events_forget(file, uarg);
	default:
		return -ENOTTY;
	}
}

static ssize_t oobk_read(struct file *file, char __user *buf, size_t count, loff_t *pos)
{
	if (!ns_capable(current->nsproxy->net_ns->user_ns, CAP_NET_ADMIN))
		return -EPERM;
	return oobk_events_read(file, buf, count);
}

static __poll_t oobk_poll(struct file *file, struct poll_table_struct *wait)
{
	return oobk_events_poll(file, wait);
}

/* misc_open() points private_data at the miscdevice; ours holds the event reader, made on
 * first read() or poll() (events.c). */
static int oobk_open(struct inode *inode, struct file *file)
{
	file->private_data = NULL;
	return 0;
}

static int oobk_release(struct inode *inode, struct file *file)
{
	oobk_events_release(file);
	return 0;
}

static const struct file_operations oobk_fops = {
	.owner = THIS_MODULE,
	.read = oobk_read,
	.poll = oobk_poll,
	.open = oobk_open,
	.release = oobk_release,
	.unlocked_ioctl = oobk_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice oobk_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "oobbpf",
	.fops = &oobk_fops,
	.mode = 0600,
};

int oobk_ctl_init(void)
{
	return misc_register(&oobk_misc);
}

void oobk_ctl_exit(void)
{
	misc_deregister(&oobk_misc);
}
