/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kernel bridge's control interface: ioctls on the misc device /dev/oobbpf (kmod/). Shared
 * by the module and user space (the daemon's kmod back-end, tests); same rules as oobbpf/abi.h:
 * fixed-width types, explicit padding, asserted sizes, numbers that are only ever appended.
 * tests/layout checks the structs against the BTF of bpf/abi_anchor.bpf.c.
 *
 * Every request starts with its own size and OOBK_IOCTL_VERSION; the module refuses a request
 * whose size, version, ABI version or reserved fields it does not know (EINVAL / EPROTO), so an
 * old module and a new daemon fail loudly instead of misreading each other. All requests need
 * CAP_NET_ADMIN in the caller's network namespace, and act on that namespace: each namespace has
 * its own set of maps, as it has its own daemon.
 */
#ifndef OOBBPF_KMOD_IOCTL_H
#define OOBBPF_KMOD_IOCTL_H

#include <oobbpf/abi.h>
#include <oobbpf/learn.h>
#ifndef __VMLINUX_H__
/* The request numbers; the BPF side (the layout anchor) only needs the layouts. */
#include <linux/ioctl.h>
#endif

#define OOBK_DEV_PATH "/dev/oobbpf"
#define OOBK_IOCTL_VERSION 1

/*
 * Map roles: the index of a map in struct oobk_maps.fd. Each role has one map type, key size
 * and value size (the ones bpf/ declares), checked when the map is handed over.
 */
#define OOBK_MAP_CONFIG 0	/* ARRAY u32 -> struct oob_config */
#define OOBK_MAP_DEVS 1		/* HASH u32 -> struct oob_dev                   (required) */
#define OOBK_MAP_PORTS 2	/* HASH oob_port_key -> oob_port                (required) */
#define OOBK_MAP_VLANS 3	/* HASH oob_vlan_key -> oob_vlan                (required) */
#define OOBK_MAP_RULES 4	/* HASH oob_rule_key -> oob_rule_val            (required) */
#define OOBK_MAP_RULE_MASKS 5	/* ARRAY u32 -> oob_rule_masks, 2 entries       (required) */
#define OOBK_MAP_RULE_STATS 6	/* PERCPU_ARRAY u32 -> oob_rule_stats */
#define OOBK_MAP_PORT_STATS 7	/* PERCPU_ARRAY u32 -> oob_port_stats */
#define OOBK_MAP_LAST 8		/* PERCPU_ARRAY u32 -> oob_last */
#define OOBK_MAP_ROUTES 9	/* HASH oob_route_key -> oob_route: route learning on */
#define OOBK_MAP_NEIGHS 10	/* HASH oob_neigh_key -> oob_neigh: neighbour learning on */
#define OOBK_MAP_COUNT 11	/* roles this version knows */
#define OOBK_MAP_SLOTS 16	/* fd slots in the request: room to grow without a new layout */

#define OOBK_MAPS_REQUIRED                                                                        \
	((1U << OOBK_MAP_DEVS) | (1U << OOBK_MAP_PORTS) | (1U << OOBK_MAP_VLANS) |                \
	 (1U << OOBK_MAP_RULES) | (1U << OOBK_MAP_RULE_MASKS))

/*
 * OOBK_IOC_SET_MAPS: hand the module the maps of the caller's namespace (by fd; -1: not
 * handed). Replaces the previous set as a whole: a frame is judged by the old set or the new
 * one, never by a mix. On error nothing changes and bad_role names the offending map (or
 * OOBK_BAD_REQUEST when the request itself is wrong).
 *
 * OOBK_MAPS_OBSERVE: the daemon's learner writes routes and neighs itself (and revalidates
 * them); the module only reports the flows the in-band stack decided towards oob ports, as
 * struct oob_learn_event records read() from /dev/oobbpf, skipping flows that have an entry in the
 * routes map. Without it the module writes both maps (and revalidates routes) itself.
 */
#define OOBK_MAPS_OBSERVE (1U << 0)

struct oobk_maps {
	__u32 size;		/* sizeof(struct oobk_maps) */
	__u32 version;		/* OOBK_IOCTL_VERSION */
	__u32 abi_version;	/* OOB_ABI_VERSION the caller's layouts come from */
	__u32 flags;		/* OOBK_MAPS_* */
	__s32 fd[OOBK_MAP_SLOTS];
	__u32 bad_role;		/* out */
	__u32 pad;
};
OOB_ASSERT_SIZE(oobk_maps, 88);
#define OOBK_BAD_REQUEST 0xffffffffU

/* OOBK_IOC_GET_INFO: what the module does in the caller's namespace. */
#define OOBK_INFO_TRACEPOINT (1U << 0)	/* stock route hook: fib_table_lookup probe attached */
#define OOBK_INFO_DOVETAIL (1U << 1)	/* built into a Dovetail kernel: the real hooks */
#define OOBK_INFO_RECEIVER (1U << 2)	/* a companion core registered a receiver */
#define OOBK_INFO_TRACEPOINT6 (1U << 3)	/* stock route hook: fib6_table_lookup probe attached */

struct oobk_info {
	__u32 size;		/* in: sizeof(struct oobk_info) */
	__u32 version;		/* in: OOBK_IOCTL_VERSION */
	__u32 abi_version;	/* out: OOB_ABI_VERSION of the module */
	__u32 flags;		/* out: OOBK_INFO_* */
	__u32 maps;		/* out: bit per role held for this namespace */
	__u32 rx_ports;		/* out: devices with the test-mode rx_handler (all namespaces) */
	__u64 routes_learned;	/* out, this namespace: route entries written */
	__u64 routes_failed;	/* out: re-resolutions that failed or left the oob ports */
	__u64 learn_dropped;	/* out: triggers dropped, the pending queue was full */
	__u64 neighs_updated;	/* out: neighbour entries written */
	__u64 neighs_removed;	/* out: neighbour entries removed (no longer valid) */
	__u64 purged;		/* out: entries removed because their device went down or away */
	__u64 rx_frames;	/* out: frames judged by the skb path */
	__u64 rx_diverted;	/* out: frames a receiver took */
};
OOB_ASSERT_SIZE(oobk_info, 88);

/*
 * OOBK_IOC_RX_ATTACH / OOBK_IOC_RX_DETACH (test mode on stock kernels): run the classifier on
 * every frame a device receives, from an rx_handler, with the delivery semantics of Dovetail's
 * netif_deliver_oob(). Meant for testing: it takes the device's one rx_handler slot (a bridge or
 * bond port cannot have it) and sees frames after GRO and generic XDP. For a VLAN port, attach
 * to the VLAN device: the stack hands its frames there before the lower device's handler runs.
 */
struct oobk_port_req {
	__u32 size;		/* sizeof(struct oobk_port_req) */
	__u32 version;		/* OOBK_IOCTL_VERSION */
	__u32 ifindex;		/* in the caller's namespace */
	__u32 flags;		/* none defined: 0 */
};
OOB_ASSERT_SIZE(oobk_port_req, 16);

/*
 * read() on /dev/oobbpf (OOBK_MAPS_OBSERVE): whole struct oob_learn_event records
 * (oobbpf/learn.h: the layout of the tp_btf learner's events, so both feed one sink), as many as
 * fit; blocks unless O_NONBLOCK; poll()/epoll for readability. Each open file that reads is a
 * reader of the namespace it was opened in. A flow is reported once per second at most, and
 * again after OOBK_IOC_FORGET. Records lost to a full queue are counted in
 * oobk_info.learn_dropped. IPv4 and IPv6 flows alike (key.family).
 */

#define OOBK_IOC_MAGIC 0xbb
#define OOBK_IOC_SET_MAPS _IOWR(OOBK_IOC_MAGIC, 1, struct oobk_maps)
#define OOBK_IOC_CLEAR_MAPS _IO(OOBK_IOC_MAGIC, 2)
#define OOBK_IOC_GET_INFO _IOWR(OOBK_IOC_MAGIC, 3, struct oobk_info)
#define OOBK_IOC_RX_ATTACH _IOW(OOBK_IOC_MAGIC, 4, struct oobk_port_req)
#define OOBK_IOC_RX_DETACH _IOW(OOBK_IOC_MAGIC, 5, struct oobk_port_req)
/* The flow's entry went away: report it again when it is next decided (this file only). */
#define OOBK_IOC_FORGET _IOW(OOBK_IOC_MAGIC, 6, struct oob_route_key)

#endif /* OOBBPF_KMOD_IOCTL_H */
