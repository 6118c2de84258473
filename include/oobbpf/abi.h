/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * oobbpf ABI: every layout that crosses a boundary between the BPF programs, the kernel module
 * and user space. Compiled by clang -target bpf (next to vmlinux.h), by Kbuild (next to kernel
 * headers) and by the C++ code (next to UAPI headers).
 *
 * Rules of this file:
 *  - fixed-width types only; explicit pad members (a hash key with hidden padding misses lookups);
 *  - no bool, long, pointers or enum-typed members;
 *  - numbers (verdicts, reasons, flags) are stable: append, never renumber;
 *  - every struct has its size asserted here, and tests/layout compares all of them with the BTF
 *    the BPF objects carry.
 */
#ifndef OOBBPF_ABI_H
#define OOBBPF_ABI_H

#if defined(__VMLINUX_H__)
/* BPF side: vmlinux.h already defines __u8 ... __u64, __be16, __be32. */
#elif defined(__KERNEL__)
#include <linux/types.h>
#else
#include <linux/types.h>
#include <stddef.h>
#endif

#if defined(__cplusplus)
#define OOB_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define OOB_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

/*
 * A test build (tests/layout) defines OOBBPF_LAYOUT_SKEW to shift one member in the C++ view only
 * and proves that the layout test notices; the asserts below are what it must get past.
 */
#ifdef OOBBPF_LAYOUT_SKEW
#define OOB_SKEW_MEMBER __u32 skew;
#define OOB_ASSERT_SIZE(type, size)
#else
#define OOB_SKEW_MEMBER
#define OOB_ASSERT_SIZE(type, size) OOB_STATIC_ASSERT(sizeof(struct type) == (size), #type " size")
#endif

/* ABI version: bumped whenever a layout below changes. Selectors and the kmod check it. */
#define OOB_ABI_VERSION 2
#define OOB_CONFIG_MAGIC 0x00bbbf01U

/* ---- limits ------------------------------------------------------------------------------ */
#define OOB_MAX_DEVS 64		/* diverting devices; also selector slots */
#define OOB_MAX_QUEUES 64	/* RX queues per device that can hold an oob socket */
#define OOB_MAX_PORTS 256
#define OOB_MAX_VLAN_ENTRIES 4096
#define OOB_MAX_RULES 16384	/* rule ids 1..OOB_MAX_RULES-1; 0 means "no rule" */
#define OOB_MAX_RULE_ENTRIES 65536 /* hash entries after range expansion, both generations */
#define OOB_MAX_MASKS 32	/* distinct rule masks (tuples) per generation */
#define OOB_MAX_ROUTES 65536
#define OOB_MAX_NEIGHS 16384
#define OOB_IP6_MAX_EXT 6	/* IPv6 extension headers walked before giving up (PASS) */
#define OOB_VLAN_MAX_DEPTH 2	/* 802.1ad outer + 802.1Q inner */
#define OOB_XSK_SLOTS (OOB_MAX_DEVS * OOB_MAX_QUEUES)

/* ---- verdicts (stable) ------------------------------------------------------------------- */
#define OOB_PASS 0	/* to the in-band stack */
#define OOB_DIVERT 1	/* to the oob queue of the frame's RX queue */
#define OOB_DROP 2
#define OOB_SKIP 3	/* no opinion: next selector */
#define OOB_VERDICT_MAX 4

/* ---- reasons (stable; why a verdict was reached) ----------------------------------------- */
#define OOB_R_NONE 0
#define OOB_R_NO_DEV 1		/* device has no diversion record */
#define OOB_R_NO_PORT 2		/* untagged frame on a device that is no port */
#define OOB_R_VLAN_NOT_OOB 3	/* tagged frame whose VID is no port and in no oob VLAN set */
#define OOB_R_CONTROL 4		/* ARP, IPv6 ND or LLDP: always in-band */
#define OOB_R_TRUNC_ETH 5
#define OOB_R_TRUNC_VLAN 6
#define OOB_R_VLAN_DEPTH 7	/* more tags than OOB_VLAN_MAX_DEPTH */
#define OOB_R_TRUNC_IP4 8
#define OOB_R_BAD_IP4_HDR 9	/* version or IHL wrong */
#define OOB_R_BAD_IP4_LEN 10	/* total length lies */
#define OOB_R_TRUNC_IP6 11
#define OOB_R_BAD_IP6_LEN 12
#define OOB_R_IP6_EXT_LIMIT 13	/* extension chain longer than OOB_IP6_MAX_EXT */
#define OOB_R_TRUNC_L4 14
#define OOB_R_BAD_L4_LEN 15	/* UDP length or TCP data offset lies */
#define OOB_R_FRAGMENT 16	/* a fragment no rule asked for */
#define OOB_R_NOT_IP 17		/* neither IPv4 nor IPv6 and nobody asked for it */
#define OOB_R_VLAN_MEMBER 18	/* diverted by oob VLAN membership */
#define OOB_R_RULE 19		/* a flow rule decided */
#define OOB_R_SELECTOR 20	/* a custom selector decided */
#define OOB_R_DEFAULT 21	/* no selector had an opinion */
#define OOB_R_NO_XSK 22		/* DIVERT, but no oob socket on that queue: passed in-band */
#define OOB_R_BAD_VID 23	/* VID 4095 (reserved) */
#define OOB_R_SELECTOR_ERR 24	/* the custom selector could not run (tail call failed) */
#define OOB_R_BAD_IP6_HDR 25	/* version field of an IPv6 ethertype frame is not 6 */
#define OOB_REASON_MAX 32

/* ---- device flags (struct oob_dev.flags) ------------------------------------------------- */
#define OOB_DEV_DIVERT (1U << 0)	/* diversion on */
#define OOB_DEV_PORT (1U << 1)		/* the device itself (untagged) is an oob port */
#define OOB_DEV_SELECTOR (1U << 2)	/* a custom selector is installed in slot */
#define OOB_DEV_TAP (1U << 3)		/* a tap is running: copy judged frames to its ring */

/* ---- port flags -------------------------------------------------------------------------- */
#define OOB_PORT_VLAN (1U << 0)		/* a VLAN device on top of lower_ifindex */

/* ---- VLAN set flags ---------------------------------------------------------------------- */
#define OOB_VLAN_MEMBER (1U << 0)

/* ---- rule match-field bits (struct oob_rule.fields) -------------------------------------- */
#define OOB_F_IFINDEX (1U << 0)
#define OOB_F_VID (1U << 1)
#define OOB_F_L3PROTO (1U << 2)
#define OOB_F_SRC (1U << 3)
#define OOB_F_DST (1U << 4)
#define OOB_F_L4PROTO (1U << 5)
#define OOB_F_SPORT (1U << 6)
#define OOB_F_DPORT (1U << 7)
#define OOB_F_DSCP (1U << 8)
#define OOB_F_FRAG (1U << 9)

/* ---- key flags (struct oob_rule_key.flags) ----------------------------------------------- */
#define OOB_KF_FRAG (1U << 0)	/* an IPv4/IPv6 fragment (first or not) */

/*
 * A diverting device. Key: ifindex (__u32).
 * slot indexes the selector prog array and the XSKMAP block (slot * OOB_MAX_QUEUES + queue).
 */
struct oob_dev {
	__u32 flags;
	__u32 slot;
	__u32 port_id;		/* port of untagged frames when OOB_DEV_PORT */
	__u32 pad;
};
OOB_ASSERT_SIZE(oob_dev, 16);

/* An oob port: (device, VID). Untagged ports have vid 0. */
struct oob_port_key {
	__u32 ifindex;		/* the lower (physical) device: where frames arrive */
	__u16 vid;		/* 0: untagged */
	__u16 pad;
};
OOB_ASSERT_SIZE(oob_port_key, 8);

struct oob_port {
	__u32 port_id;		/* 1..OOB_MAX_PORTS-1, indexes per-port statistics */
	__u32 flags;
	__u32 ifindex;		/* the port device itself (eth0.42 for a VLAN port) */
	__u32 lower_ifindex;	/* where frames arrive and leave; == ifindex for plain ports */
	__u16 vid;
	__u16 pad;
	__u32 pad2;
};
OOB_ASSERT_SIZE(oob_port, 24);

/* VLAN sets: ifindex 0 is the global set; otherwise the per-device set of that lower device. */
struct oob_vlan_key {
	__u32 ifindex;
	__u16 vid;
	__u16 pad;
};
OOB_ASSERT_SIZE(oob_vlan_key, 8);

struct oob_vlan {
	__u32 flags;
	__u32 port_id;		/* statistics of frames admitted through this membership */
};
OOB_ASSERT_SIZE(oob_vlan, 8);

/*
 * Flow-rule key, also the frame's classification key. Addresses are in network byte order;
 * IPv4 addresses sit in word 0 of src/dst, the rest zero. The rule engine is a tuple-space
 * search: `tuple` = generation * OOB_MAX_MASKS + mask index, so one hash map holds every mask's
 * entries of both generations and a frame never sees a mix of two rule sets.
 */
struct oob_rule_key {
	__u32 ifindex;		/* lower device the frame arrived on */
	__u16 vid;		/* innermost VID, 0 untagged */
	__be16 l3proto;		/* ethertype after tags */
	__u8 l4proto;
	__u8 dscp;
	__u8 flags;		/* OOB_KF_* */
	__u8 tuple;
	__be16 sport;
	__be16 dport;
	__be32 src[4];
	__be32 dst[4];
};
OOB_ASSERT_SIZE(oob_rule_key, 48);

/* What a matching entry says. Lower prio wins (as with ip rule and tc). */
struct oob_rule_val {
	__u32 rule_id;
	__u32 prio;
	__u32 action;		/* OOB_PASS, OOB_DIVERT or OOB_DROP */
	__u32 pad;
};
OOB_ASSERT_SIZE(oob_rule_val, 16);

/*
 * The masks of one generation, in the order they are searched. best_prio[i] is the best
 * (lowest) priority of any rule under mask i; the search is sorted by it and stops as soon as no
 * remaining mask can beat the match in hand.
 *
 * head_mask[i] and head_val[i] are a pre-check on the key's first 16 bytes (ifindex up to dport,
 * read as two __u64 in host order): every entry of mask i agrees with head_val[i] on the bits of
 * head_mask[i], so a frame whose head differs there cannot match under mask i and the search
 * skips it without a hash lookup. All zero (a hand-made image) means "always search".
 */
struct oob_rule_masks {
	__u32 count;
	__u32 pad;
	__u32 best_prio[OOB_MAX_MASKS];
	struct oob_rule_key mask[OOB_MAX_MASKS];
	__u64 head_mask[OOB_MAX_MASKS][2];
	__u64 head_val[OOB_MAX_MASKS][2];
};
OOB_ASSERT_SIZE(oob_rule_masks,
		8 + OOB_MAX_MASKS * 4 + OOB_MAX_MASKS * 48 + 2 * OOB_MAX_MASKS * 16);

/* Per-rule counters (per-CPU array indexed by rule id). */
struct oob_rule_stats {
	__u64 packets;
	__u64 bytes;
};
OOB_ASSERT_SIZE(oob_rule_stats, 16);

/* Per-port counters (per-CPU array indexed by port id; id 0 collects frames of no port). */
struct oob_port_stats {
	__u64 verdict_packets[OOB_VERDICT_MAX];
	__u64 verdict_bytes[OOB_VERDICT_MAX];
	__u64 reason[OOB_REASON_MAX];
};
OOB_ASSERT_SIZE(oob_port_stats, 8 * (2 * OOB_VERDICT_MAX + OOB_REASON_MAX));

/*
 * The last judgement on this CPU (per-CPU array, one entry). Tests read it (DIVERT without a
 * socket and PASS look alike as XDP actions); the XDP program also uses it to hand the frame's
 * state to a tail-called custom selector, which runs on the same CPU.
 */
struct oob_last {
	__u32 verdict;		/* final: what happened to the frame */
	__u32 reason;
	__u32 rule_id;
	__u32 port_id;
	__u32 ifindex;
	__u32 queue;		/* RX queue */
	__u32 slot;		/* device slot (selector, XSKMAP block) */
	__u32 len;
	__u32 dev_flags;	/* OOB_DEV_* of the device (OOB_DEV_TAP: copy to the tap rings) */
	__u32 pad;
	__u64 seq;		/* frames judged on this CPU */
};
OOB_ASSERT_SIZE(oob_last, 48);

/* Global configuration (array, one entry), written by the daemon. */
struct oob_config {
	__u32 magic;		/* OOB_CONFIG_MAGIC */
	__u32 version;		/* OOB_ABI_VERSION */
	__u32 rule_gen;		/* active rule generation: 0 or 1 */
	__u32 flags;
	OOB_SKEW_MEMBER
	__u64 pad[2];
};
OOB_ASSERT_SIZE(oob_config, 32);

/* An oob application's socket, mirrored for bpftool (XSKMAP itself cannot be dumped). */
struct oob_xsk_reg {
	__u32 ifindex;
	__u32 queue;
	__u32 pid;
	__u32 flags;
	__u64 registered_ns;	/* CLOCK_MONOTONIC */
};
OOB_ASSERT_SIZE(oob_xsk_reg, 24);

/* XDP metadata in front of a diverted frame (bpf_xdp_adjust_meta), read by liboob. */
struct oob_xdp_meta {
	__u64 classified_ns;	/* bpf_ktime_get_ns() when judged */
	__u32 rule_id;
	__u16 reason;
	__u16 port_id;
};
OOB_ASSERT_SIZE(oob_xdp_meta, 16);

/*
 * Tap records (in each tap session's ring, below): every frame a diverting device with
 * OOB_DEV_TAP judges, with its judgement, followed by up to OOB_TAP_SNAP_MAX bytes of it. The flag
 * is set only while a tap runs, so the cost when off is one test of a per-CPU word.
 */
#define OOB_TAP_SNAP_MAX 2048
#define OOB_TAP_RX 0		/* judged by the classifier */
#define OOB_TAP_TX 1		/* sent by liboob */

struct oob_tap_hdr {
	__u64 ts_ns;		/* bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	__u32 ifindex;
	__u32 queue;
	__u32 verdict;
	__u32 reason;
	__u32 rule_id;
	__u32 port_id;
	__u32 len;		/* frame length */
	__u32 caplen;		/* bytes that follow the header */
	__u32 dir;		/* OOB_TAP_RX or OOB_TAP_TX */
	__u32 pad;
};
OOB_ASSERT_SIZE(oob_tap_hdr, 48);

/*
 * Tap sessions: one per running `oobbpf tap`, each with its own ring buffer (a ring has one
 * reader, so two taps cannot share one). Slot i of the array `tap_sess` says what session i
 * wants; slot i of the map-in-map `tap_rings` holds its ring. The classifier copies a judged
 * frame into every session of its device whose verdict mask keeps it, only while the device has
 * OOB_DEV_TAP (set by oobbpfd while at least one session taps it). liboob copies the frames it
 * sends into the sessions of its device with OOB_TAP_KEEP_TX, through the program oob_tap_tx.
 * tap_sess is mmapable: liboob sees a session start with one memory read per send batch.
 * (A first design had one ring, pin `tap`, for every tap: a ring buffer has one reader, so it went.)
 */
#define OOB_MAX_TAPS 8
#define OOB_TAP_RING_SIZE (4U << 20)	/* bytes of each session's ring */
#define OOB_TAP_KEEP_TX (1U << 0)	/* oob_tap_sess.flags: frames liboob sends too */

struct oob_tap_sess {
	__u32 ifindex;		/* 0: slot free */
	__u32 verdicts;		/* bit v set: keep frames judged v (1 << OOB_DIVERT, ...) */
	__u32 flags;		/* OOB_TAP_KEEP_* */
	__u32 pad;
	__u64 lost;		/* copies the full ring refused */
	__u64 copied;		/* copies made */
};
OOB_ASSERT_SIZE(oob_tap_sess, 32);

/* Metadata in front of a frame handed to oob_tap_tx (BPF_PROG_TEST_RUN, xdp_md.data = 16). */
struct oob_tap_tx_meta {
	__u32 ifindex;		/* where the frame leaves (the lower device) */
	__u32 queue;
	__u32 port_id;
	__u32 pad;
};
OOB_ASSERT_SIZE(oob_tap_tx_meta, 16);

/*
 * Learned route, keyed by the flow the in-band stack decided: namespace, destination and the
 * selectors that can change a routing decision (source, mark, tos, output device).
 * family is AF_INET (2) or AF_INET6 (10); IPv4 addresses in word 0.
 */
struct oob_route_key {
	__u32 netns;		/* inode number of the network namespace */
	__u32 oif;		/* 0 when the lookup did not fix the output device */
	__u32 mark;
	__u8 family;
	__u8 tos;
	__u16 pad;
	__be32 dst[4];
	__be32 src[4];		/* zero when the flow had no source yet */
};
OOB_ASSERT_SIZE(oob_route_key, 48);

#define OOB_ROUTE_GATEWAY (1U << 0)	/* gw is valid (else on-link) */
#define OOB_ROUTE_COMPLETE (1U << 1)	/* preferred source and MTU filled in */

struct oob_route {
	__u32 oif;		/* output device (the VLAN device for VLAN ports) */
	__u32 lower_ifindex;	/* where frames leave */
	__u16 vid;		/* 0: untagged */
	__u8 family;
	__u8 pad;
	__u32 flags;
	__u32 table;
	__u32 mtu;
	__be32 gw[4];
	__be32 prefsrc[4];
	__u64 learned_ns;	/* CLOCK_MONOTONIC */
	__u32 seq;		/* even: stable; odd: being written (readers retry) */
	__u32 pad2;
};
OOB_ASSERT_SIZE(oob_route, 72);

struct oob_neigh_key {
	__u32 ifindex;
	__u8 family;
	__u8 pad[3];
	__be32 addr[4];
};
OOB_ASSERT_SIZE(oob_neigh_key, 24);

struct oob_neigh {
	__u8 mac[6];
	__u16 state;		/* NUD_* of the in-band table */
	__u64 updated_ns;
	__u32 seq;
	__u32 pad;
};
OOB_ASSERT_SIZE(oob_neigh, 24);

/* ---- pinned names (part of the user interface: stable) ----------------------------------- */
#define OOB_PIN_ROOT_DEFAULT "/sys/fs/bpf/oobbpf"
#define OOB_PIN_CONFIG "config"
#define OOB_PIN_DEVS "devs"
#define OOB_PIN_PORTS "ports"
#define OOB_PIN_VLANS "vlans"
#define OOB_PIN_RULES "rules"
#define OOB_PIN_RULE_MASKS "rule_masks"
#define OOB_PIN_RULE_STATS "rule_stats"
#define OOB_PIN_PORT_STATS "port_stats"
#define OOB_PIN_LAST "last"
#define OOB_PIN_XSKS "xsks"
#define OOB_PIN_XSK_REGS "xsk_regs"
#define OOB_PIN_SELECTORS "selectors"
#define OOB_PIN_ROUTES "routes"
#define OOB_PIN_NEIGHS "neighs"
#define OOB_PIN_TAP_SESS "tap_sess"
#define OOB_PIN_TAP_RINGS "tap_rings"

#endif /* OOBBPF_ABI_H */
