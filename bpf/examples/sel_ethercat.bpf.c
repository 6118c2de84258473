// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Example selector: divert EtherCAT (IEC 61158), the fieldbus EVL users run over plain Ethernet.
 *
 * EtherCAT frames carry ethertype 0x88A4 right after the MAC addresses or after VLAN tags (the
 * parser has already walked the tags: pkt->l3proto is the ethertype after them). EtherCAT can
 * also be tunnelled in UDP to port 0x88A4 (34980); those datagrams are diverted too.
 *
 * Only frames of type 1 (EtherCAT commands, "DLPDU") are diverted; the other types (network
 * variables, mailbox gateway) are left to the default. The EtherCAT header is 2 bytes, little
 * endian: length (11 bits), reserved (1), type (4).
 */
#include "vmlinux.h"
#include <oobbpf/selector.h>

#define ETH_P_ETHERCAT 0x88A4
#define ECAT_UDP_PORT 0x88A4
#define ECAT_TYPE_DLPDU 1

OOB_SELECTOR(sel_ethercat)(struct xdp_md *ctx, const struct oob_pkt *pkt)
{
	__u8 hdr[2];
	__u32 off;

	if (pkt->l3proto == OOB_HTONS(ETH_P_ETHERCAT))
		off = pkt->l3off;
	else if (pkt->l4proto == OOB_IPPROTO_UDP && !(pkt->flags & OOB_KF_FRAG) &&
		 pkt->dport == OOB_HTONS(ECAT_UDP_PORT))
		off = (__u32)pkt->l4off + 8;
	else
		return OOB_SKIP;

	/* A frame too short to hold the EtherCAT header is nobody's business but the stack's. */
	if (oob_load(ctx, off, hdr, sizeof(hdr)))
		return OOB_SKIP;
	if ((hdr[1] >> 4) != ECAT_TYPE_DLPDU)
		return OOB_SKIP;
	return OOB_DIVERT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
