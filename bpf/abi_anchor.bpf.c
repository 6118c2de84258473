// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Not a program: an anchor that puts every ABI type of include/oobbpf/ (abi.h, learn.h,
 * kmod_ioctl.h) into BTF, so tests/layout can compare each struct's size and field offsets with
 * what the C++ and kernel compilers see. Add every new ABI struct here.
 */
#include "vmlinux.h"
#include <oobbpf/abi.h>
#include <oobbpf/learn.h>
#include <oobbpf/kmod_ioctl.h>

struct oob_abi_anchor {
	struct oob_dev dev;
	struct oob_port_key port_key;
	struct oob_port port;
	struct oob_vlan_key vlan_key;
	struct oob_vlan vlan;
	struct oob_rule_key rule_key;
	struct oob_rule_val rule_val;
	struct oob_rule_masks rule_masks;
	struct oob_rule_stats rule_stats;
	struct oob_port_stats port_stats;
	struct oob_last last;
	struct oob_config config;
	struct oob_xsk_reg xsk_reg;
	struct oob_xdp_meta xdp_meta;
	struct oob_tap_hdr tap_hdr;
	struct oob_tap_sess tap_sess;
	struct oob_tap_tx_meta tap_tx_meta;
	struct oob_route_key route_key;
	struct oob_route route;
	struct oob_neigh_key neigh_key;
	struct oob_neigh neigh;
	/* learn.h */
	struct oob_cache_state cache_state;
	struct oob_route_slot route_slot;
	struct oob_neigh_slot neigh_slot;
	struct oob_learn_event learn_event;
	/* kmod_ioctl.h */
	struct oobk_maps kmod_maps;
	struct oobk_info kmod_info;
	struct oobk_port_req kmod_port_req;
};

struct oob_abi_anchor oob_abi_anchor;
