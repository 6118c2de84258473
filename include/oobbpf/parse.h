/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The classifier core, part 1: frame parsing. Header-only C, no BPF helpers, compiled three
 * times: into the XDP program (bpf/), into the kernel module (kmod/) and into C++ (userd/).
 *
 * The including environment provides, before including this file:
 *   OOB_CTX                       the frame handle type (struct xdp_md *, skb, buffer)
 *   int oob_load(OOB_CTX, __u32 off, void *buf, __u32 len)
 *                                 copy len bytes at off into buf; 0, or -1 when out of bounds.
 *                                 len is always a compile-time constant here.
 *   __u32 oob_frame_len(OOB_CTX)  bytes in the frame, all fragments included
 *
 * Headers are read as byte arrays with explicit offsets, never through the kernel's header
 * structs: iphdr's bitfields depend on the compiler's bitfield order, and C++ forbids the void *
 * arithmetic those idioms use.
 */
#ifndef OOBBPF_PARSE_H
#define OOBBPF_PARSE_H

#include <oobbpf/abi.h>

#ifndef OOB_INLINE
#if defined(__cplusplus)
#define OOB_INLINE static inline __attribute__((always_inline))
#else
#define OOB_INLINE static inline __attribute__((always_inline))
#endif
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define OOB_HTONS(x) ((__u16)((((x) & 0xffU) << 8) | (((x) >> 8) & 0xffU)))
#else
#define OOB_HTONS(x) ((__u16)(x))
#endif
#define OOB_NTOHS(x) OOB_HTONS(x)

/* Ethertypes (host order; compared after OOB_HTONS). */
#define OOB_ETH_P_IP 0x0800
#define OOB_ETH_P_ARP 0x0806
#define OOB_ETH_P_RARP 0x8035
#define OOB_ETH_P_8021Q 0x8100
#define OOB_ETH_P_8021AD 0x88a8
#define OOB_ETH_P_IPV6 0x86dd
#define OOB_ETH_P_LLDP 0x88cc

#define OOB_IPPROTO_HOPOPTS 0
#define OOB_IPPROTO_ICMP 1
#define OOB_IPPROTO_TCP 6
#define OOB_IPPROTO_UDP 17
#define OOB_IPPROTO_ROUTING 43
#define OOB_IPPROTO_FRAGMENT 44
#define OOB_IPPROTO_AH 51
#define OOB_IPPROTO_ICMPV6 58
#define OOB_IPPROTO_NONE 59
#define OOB_IPPROTO_DSTOPTS 60
#define OOB_IPPROTO_MH 135

#define OOB_AF_INET 2
#define OOB_AF_INET6 10

/* What the parser learnt of a frame. Offsets are from the start of the Ethernet header. */
struct oob_pkt {
	__u32 len;		/* frame length, all fragments */
	__u16 l3off;
	__u16 l4off;
	__u16 l3end;		/* end of the IP datagram per its own length field */
	__be16 l3proto;		/* ethertype after the tags */
	__u16 vid;		/* innermost VID; 0 untagged or priority-tagged */
	__u16 outer_vid;	/* 802.1ad S-VID of a QinQ frame */
	__u8 ntags;
	__u8 l4proto;
	__u8 dscp;
	__u8 flags;		/* OOB_KF_* */
	__u8 icmp_type;
	__u8 control;		/* ARP, ND, MLD, LLDP: always in-band */
	__u8 is_ip;
	__u8 pad;
	__be16 sport;
	__be16 dport;
	__be32 src[4];
	__be32 dst[4];
};

OOB_INLINE __u16 oob_get16(const __u8 *b)
{
	return (__u16)(((__u16)b[0] << 8) | b[1]);
}

/* Ethernet and up to OOB_VLAN_MAX_DEPTH tags (802.1ad outer, 802.1Q inner). */
OOB_INLINE __u32 oob_parse_l2(OOB_CTX ctx, struct oob_pkt *pkt)
{
	__u8 b[4];
	__u32 off = 12;
	__u16 proto;
	int i;

	pkt->len = oob_frame_len(ctx);
	if (pkt->len < 14 || oob_load(ctx, 12, b, 2))
		return OOB_R_TRUNC_ETH;
	proto = oob_get16(b);
	off = 14;
	for (i = 0; i <= OOB_VLAN_MAX_DEPTH; i++) {
		__u16 vid;

		if (proto != OOB_ETH_P_8021Q && proto != OOB_ETH_P_8021AD)
			break;
		if (i == OOB_VLAN_MAX_DEPTH)
			return OOB_R_VLAN_DEPTH;
		if (oob_load(ctx, off, b, 4))
			return OOB_R_TRUNC_VLAN;
		vid = oob_get16(b) & 0x0fff;
		if (vid == 0x0fff)
			return OOB_R_BAD_VID;
		if (pkt->ntags)
			pkt->outer_vid = pkt->vid;
		pkt->vid = vid;
		pkt->ntags++;
		proto = oob_get16(b + 2);
		off += 4;
	}
	pkt->l3proto = OOB_HTONS(proto);
	pkt->l3off = (__u16)off;
	if (proto == OOB_ETH_P_ARP || proto == OOB_ETH_P_RARP || proto == OOB_ETH_P_LLDP)
		pkt->control = 1;
	return OOB_R_NONE;
}

OOB_INLINE __u32 oob_parse_l4(OOB_CTX ctx, struct oob_pkt *pkt)
{
	__u8 b[20];
	__u32 off = pkt->l4off;

	switch (pkt->l4proto) {
	case OOB_IPPROTO_UDP:
		if (off + 8 > pkt->l3end || oob_load(ctx, off, b, 8))
			return OOB_R_TRUNC_L4;
		/* UDP length must cover its header and stay inside the datagram. */
		if (oob_get16(b + 4) < 8 || off + oob_get16(b + 4) > pkt->l3end)
			return OOB_R_BAD_L4_LEN;
		break;
	case OOB_IPPROTO_TCP:
		if (off + 20 > pkt->l3end || oob_load(ctx, off, b, 20))
			return OOB_R_TRUNC_L4;
		if ((b[12] >> 4) < 5 || off + (__u32)(b[12] >> 4) * 4 > pkt->l3end)
			return OOB_R_BAD_L4_LEN;
		break;
	case OOB_IPPROTO_ICMP:
	case OOB_IPPROTO_ICMPV6:
		if (off + 4 > pkt->l3end || oob_load(ctx, off, b, 4))
			return OOB_R_TRUNC_L4;
		pkt->icmp_type = b[0];
		/* Neighbour discovery (133-137) and MLD (130-132, 143) keep the in-band stack's
		 * neighbour and multicast state alive: never diverted. */
		if (pkt->l4proto == OOB_IPPROTO_ICMPV6 &&
		    ((b[0] >= 130 && b[0] <= 137) || b[0] == 143))
			pkt->control = 1;
		return OOB_R_NONE;
	default:
		return OOB_R_NONE;
	}
	__builtin_memcpy(&pkt->sport, b, 2);
	__builtin_memcpy(&pkt->dport, b + 2, 2);
	return OOB_R_NONE;
}

OOB_INLINE __u32 oob_parse_ip4(OOB_CTX ctx, struct oob_pkt *pkt)
{
	__u8 b[20];
	__u32 off = pkt->l3off, hlen, tot;

	if (oob_load(ctx, off, b, 20))
		return OOB_R_TRUNC_IP4;
	if ((b[0] >> 4) != 4 || (b[0] & 0xf) < 5)
		return OOB_R_BAD_IP4_HDR;
	hlen = (__u32)(b[0] & 0xf) * 4;
	tot = oob_get16(b + 2);
	if (off + hlen > pkt->len)
		return OOB_R_TRUNC_IP4;
	if (tot < hlen || off + tot > pkt->len)
		return OOB_R_BAD_IP4_LEN;
	pkt->is_ip = OOB_AF_INET;
	pkt->dscp = b[1] >> 2;
	pkt->l4proto = b[9];
	__builtin_memcpy(&pkt->src[0], b + 12, 4);
	__builtin_memcpy(&pkt->dst[0], b + 16, 4);
	pkt->l4off = (__u16)(off + hlen);
	pkt->l3end = (__u16)(off + tot);
	/* MF or a non-zero offset: a fragment. Its ports are unknown or absent, so port rules
	 * cannot match it; only a rule that names fragments does. */
	if (oob_get16(b + 6) & 0x3fff) {
		pkt->flags |= OOB_KF_FRAG;
		return OOB_R_NONE;
	}
	return oob_parse_l4(ctx, pkt);
}

OOB_INLINE __u32 oob_parse_ip6(OOB_CTX ctx, struct oob_pkt *pkt)
{
	__u8 b[40];
	__u32 off = pkt->l3off, cur, end;
	__u8 nh;
	int i, done = 0;

	if (oob_load(ctx, off, b, 40))
		return OOB_R_TRUNC_IP6;
	if ((b[0] >> 4) != 6)
		return OOB_R_BAD_IP6_HDR;
	end = off + 40 + oob_get16(b + 4);
	nh = b[6];
	/* Jumbograms (payload length 0 with a hop-by-hop jumbo option) are not supported. */
	if (end > pkt->len || (end == off + 40 && nh != OOB_IPPROTO_NONE))
		return OOB_R_BAD_IP6_LEN;
	pkt->is_ip = OOB_AF_INET6;
	pkt->dscp = (__u8)((((b[0] & 0xf) << 4) | (b[1] >> 4)) >> 2);
	__builtin_memcpy(pkt->src, b + 8, 16);
	__builtin_memcpy(pkt->dst, b + 24, 16);
	pkt->l3end = (__u16)end;
	cur = off + 40;

	/* Walk at most OOB_IP6_MAX_EXT extension headers: a bounded loop for the verifier, and a
	 * documented limit for users (longer chains go in-band with OOB_R_IP6_EXT_LIMIT). */
	for (i = 0; i < OOB_IP6_MAX_EXT; i++) {
		if (nh == OOB_IPPROTO_HOPOPTS || nh == OOB_IPPROTO_ROUTING ||
		    nh == OOB_IPPROTO_DSTOPTS || nh == OOB_IPPROTO_MH) {
			if (cur + 8 > end || oob_load(ctx, cur, b, 2))
				return OOB_R_TRUNC_IP6;
			nh = b[0];
			cur += ((__u32)b[1] + 1) * 8;
		} else if (nh == OOB_IPPROTO_AH) {
			if (cur + 8 > end || oob_load(ctx, cur, b, 2))
				return OOB_R_TRUNC_IP6;
			nh = b[0];
			cur += ((__u32)b[1] + 2) * 4;
		} else if (nh == OOB_IPPROTO_FRAGMENT) {
			__u16 fo;

			if (cur + 8 > end || oob_load(ctx, cur, b, 8))
				return OOB_R_TRUNC_IP6;
			nh = b[0];
			cur += 8;
			fo = oob_get16(b + 2);
			/* An atomic fragment (offset 0, no M flag) is a whole datagram. */
			if (fo & 0xfff9) {
				pkt->flags |= OOB_KF_FRAG;
				pkt->l4proto = nh;
				pkt->l4off = (__u16)cur;
				return OOB_R_NONE;
			}
		} else {
			done = 1;
			break;
		}
		if (cur > end)
			return OOB_R_BAD_IP6_LEN;
	}
	if (!done)
		return OOB_R_IP6_EXT_LIMIT;
	pkt->l4proto = nh;
	pkt->l4off = (__u16)cur;
	return oob_parse_l4(ctx, pkt);
}

/* Layer 3 and 4 of a frame whose layer 2 oob_parse_l2() accepted. */
OOB_INLINE __u32 oob_parse_l3(OOB_CTX ctx, struct oob_pkt *pkt)
{
	if (pkt->l3proto == OOB_HTONS(OOB_ETH_P_IP))
		return oob_parse_ip4(ctx, pkt);
	if (pkt->l3proto == OOB_HTONS(OOB_ETH_P_IPV6))
		return oob_parse_ip6(ctx, pkt);
	return OOB_R_NONE;
}

#endif /* OOBBPF_PARSE_H */
