// SPDX-License-Identifier: GPL-2.0-only
/*
 * oobbpf kernel bridge. This is the module entry point; the Dovetail hooks and their stock-kernel
 * equivalents plug in here.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <oobbpf/abi.h>

static int __init oobbpf_init(void)
{
	pr_info("oobbpf: loaded, ABI %d\n", OOB_ABI_VERSION);
	return 0;
}

static void __exit oobbpf_exit(void)
{
	pr_info("oobbpf: unloaded\n");
}

module_init(oobbpf_init);
module_exit(oobbpf_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("oobbpf: out-of-band network bridge for Dovetail and stock kernels");
MODULE_VERSION("0.1.0");
