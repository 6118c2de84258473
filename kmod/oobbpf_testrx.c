// SPDX-License-Identifier: GPL-2.0-only
/*
 * A stand-in companion core for tests: registers a receiver with oobbpf and takes (frees) every
 * frame diverted to it, counting them in debugfs (oobbpf_testrx/received). With accept=0 it
 * declines them, which must send them in-band (PASS, OOB_R_NO_XSK).
 */
#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/skbuff.h>
#include "oobbpf_kapi.h"

static bool accept = true;
module_param(accept, bool, 0644);
MODULE_PARM_DESC(accept, "take diverted frames (else decline them)");

static atomic_t received;
static atomic_t declined;
static struct dentry *dir;

static bool testrx_deliver(struct sk_buff *skb, const struct oobbpf_rx_info *info, void *priv)
{
	if (!READ_ONCE(accept)) {
		atomic_inc(&declined);
		return false;
	}
	atomic_inc(&received);
	consume_skb(skb);
	return true;
}

static struct oobbpf_receiver testrx = {
	.name = "testrx",
	.deliver = testrx_deliver,
};

static int __init testrx_init(void)
{
	dir = debugfs_create_dir("oobbpf_testrx", NULL);
	debugfs_create_atomic_t("received", 0444, dir, &received);
	debugfs_create_atomic_t("declined", 0444, dir, &declined);
	return oobbpf_register_receiver(&testrx);
}

static void __exit testrx_exit(void)
{
	oobbpf_unregister_receiver(&testrx);
	debugfs_remove_recursive(dir);
}

module_init(testrx_init);
module_exit(testrx_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("oobbpf test receiver (a stand-in companion core)");
