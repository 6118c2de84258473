// SPDX-License-Identifier: GPL-2.0-only
/*
 * oobbpf kernel bridge: the Dovetail hooks (netif_deliver_oob, ip_learn_oob_route) and their
 * stock-kernel equivalents, reading and writing the BPF maps the daemon hands over through
 * /dev/oobbpf. See oobbpf.h for the parts.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include "oobbpf.h"

static int __init oobbpf_init(void)
{
	int err;

	err = oobk_maps_init();
	if (err)
		return err;
	err = oobk_learn_init();
	if (err)
		goto err_maps;
	err = oobk_tp_init();
	if (err)
		goto err_learn;
	err = oobk_ctl_init();
	if (err)
		goto err_tp;
	pr_info("oobbpf: loaded, ABI %d, ioctl %d, route hook: %s\n", OOB_ABI_VERSION,
		OOBK_IOCTL_VERSION,
		IS_ENABLED(CONFIG_NET_OOB) ? "dovetail" :
		oobk_tp_attached() ? "fib_table_lookup tracepoint" : "none");
	return 0;

err_tp:
	oobk_tp_exit();
err_learn:
	oobk_learn_exit();
err_maps:
	oobk_maps_exit();
	return err;
}

/*
 * Reverse order: no new requests, no rx_handler (it uses the maps), no route trigger, no
 * notifier or worker, and last the maps of every namespace (pernet exit drops our references).
 */
static void __exit oobbpf_exit(void)
{
	oobk_ctl_exit();
	oobk_rx_exit();
	oobk_tp_exit();
	oobk_learn_exit();
	oobk_maps_exit();
	pr_info("oobbpf: unloaded\n");
}

module_init(oobbpf_init);
module_exit(oobbpf_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("oobbpf: out-of-band network bridge for Dovetail and stock kernels");
MODULE_VERSION("0.2.0");
