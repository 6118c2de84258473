# SPDX-License-Identifier: MIT
# Guest script: the delivery path (netif_deliver_oob() semantics) through the test-mode
# rx_handler. One set of frames (untagged, 802.1Q on a VLAN port with a VLAN device, on an oob
# VLAN without one, QinQ, on a VID that is no port, ARP) is judged three times:
#   A. by the XDP classifier on va (maps reused), the reference;
#   B. by the module's rx_handler on va and va.42 with no receiver: the per-port counters must
#      equal A's exactly (DIVERT without a taker is PASS, reason NO_XSK, in both);
#   C. with a receiver (oobbpf_testrx) that takes what is diverted, then D. one that declines.
. /test/files/kmod_lib.sh
no_ipv6_chatter
modprobe veth
modprobe 8021q
ip link add va type veth peer name vb
ip link add link va name va.42 type vlan id 42
for d in va vb va.42; do ip link set "$d" up; done

vt_require kmod_insmod insmod "$OOBBPF_KO"
vt_require kmod_maps make_maps
vt_require kmod_hand oobbpf-kmodctl hand "$PIN"
oobbpf-kmodctl port "$PIN" va 1
oobbpf-kmodctl vlanport "$PIN" va.42 2
oobbpf-kmodctl vlanset "$PIN" va 43 3
oobbpf-kmodctl rule "$PIN" 7 10 divert udp 9000
oobbpf-kmodctl rule "$PIN" 8 20 drop udp 9001
bpftool map dump pinned "$PIN/devs"

# The frames, sent from vb (AF_PACKET: tags stay in the frame data on the wire).
send_set() {
	oobbpf-kmodctl send vb 10.0.0.1 9000 5 &&		# port 1, rule 7: divert
	oobbpf-kmodctl send vb 10.0.0.1 9001 3 &&		# port 1, rule 8: drop
	oobbpf-kmodctl send vb 10.0.0.1 7 2 &&			# port 1, no rule: pass
	oobbpf-kmodctl send vb arp 10.0.0.1 0 2 &&		# port 1, ARP: in-band
	oobbpf-kmodctl send vb vlan 42 10.0.0.1 9000 4 &&	# port 2 (va.42), rule 7
	oobbpf-kmodctl send vb vlan 100.42 10.0.0.1 9000 2 &&	# QinQ, inner 42: port 2
	oobbpf-kmodctl send vb vlan 43 10.0.0.1 5555 3 &&	# port 3 by membership
	oobbpf-kmodctl send vb vlan 44 10.0.0.1 9000 2		# no port: in-band
}

# Counters of ports 0-3 and rules 7-8 (sums over CPUs), one line each.
snapshot() {
	for p in 0 1 2 3; do oobbpf-kmodctl stats "$PIN" $p; done
	for r in 7 8; do oobbpf-kmodctl rstats "$PIN" $r; done
}

# The difference of two snapshots, key by key (reasons that did not move are left out).
delta() {
	awk '
		FNR == NR {
			for (i = 2; i <= NF; i++) { split($i, kv, "="); old[$1 " " kv[1]] = kv[2] }
			next
		}
		{
			line = $1
			for (i = 2; i <= NF; i++) {
				split($i, kv, "=")
				d = kv[2] - old[$1 " " kv[1]]
				if (kv[1] ~ /^r[0-9]+$/ && d == 0)
					continue
				line = line " " kv[1] "=" d
			}
			print line
		}' "$1" "$2"
}

# Every judged frame moves oob_last.seq on its CPU: wait until all of them were seen.
settle() {
	vt_wait 5 test "$(judged)" -ge "$1"
}

# ---- A: XDP, reusing the pinned maps --------------------------------------------------------
reuse=""
for m in config devs ports vlans rules rule_masks rule_stats port_stats last xsks xsk_regs selectors; do
	reuse="$reuse map name oob_$m pinned $PIN/$m"
done
snapshot >/tmp/s0
: >/tmp/xdp
# Without the reference the module's part still runs; only the comparison fails.
if vt_check xdp_load bpftool prog load /test/files/oob_xdp.bpf.o "$PIN/prog" type xdp $reuse &&
	vt_check xdp_attach ip link set dev va xdp pinned "$PIN/prog"; then
	n0=$(judged)
	send_set
	settle $((n0 + 23))
	ip link set dev va xdp off
fi
snapshot >/tmp/s1
delta /tmp/s0 /tmp/s1 >/tmp/xdp
echo "XDP:"; cat /tmp/xdp

# ---- B: the module's rx_handler, no receiver ------------------------------------------------
vt_check kmod_attach_va oobbpf-kmodctl attach va
vt_check kmod_attach_vlan oobbpf-kmodctl attach va.42
vt_match kmod_info_rx_ports 'rx_ports=2' oobbpf-kmodctl info
n1=$(judged)
send_set
settle $((n1 + 23))
snapshot >/tmp/s2
delta /tmp/s1 /tmp/s2 >/tmp/kmod
echo "kmod, no receiver:"; cat /tmp/kmod
vt_check kmod_same_counters_as_xdp cmp /tmp/xdp /tmp/kmod
# What the counters must say (reasons: 3 VLAN_NOT_OOB, 4 CONTROL, 18 VLAN_MEMBER, 19 RULE,
# 21 DEFAULT, 22 NO_XSK). Bytes: UDP frames are 60, +4 per tag; ARP frames 42.
vt_match kmod_port1 '^port=1 pass=9 divert=0 drop=3 pass_bytes=504 divert_bytes=0 drop_bytes=180 r4=2 r19=3 r21=2 r22=5$' cat /tmp/kmod
vt_match kmod_port2 '^port=2 pass=6 divert=0 drop=0 pass_bytes=392 divert_bytes=0 drop_bytes=0 r22=6$' cat /tmp/kmod
vt_match kmod_port3 '^port=3 pass=3 divert=0 drop=0 pass_bytes=192 divert_bytes=0 drop_bytes=0 r22=3$' cat /tmp/kmod
vt_match kmod_port0 '^port=0 pass=2 divert=0 drop=0 pass_bytes=128 divert_bytes=0 drop_bytes=0 r3=2$' cat /tmp/kmod
vt_match kmod_rule7 '^rule=7 packets=11 bytes=692$' cat /tmp/kmod
vt_match kmod_rule8 '^rule=8 packets=3 bytes=180$' cat /tmp/kmod
vt_match kmod_last_seen '"reason": 3' bpftool map dump pinned "$PIN/last"

# ---- C: a receiver takes the diverted frames ------------------------------------------------
vt_require kmod_testrx_insmod insmod "$TESTRX"
vt_match kmod_info_receiver 'receiver=1' oobbpf-kmodctl info
send_set
settle $((n1 + 46))
snapshot >/tmp/s3
delta /tmp/s2 /tmp/s3 >/tmp/rx
echo "kmod, receiver takes:"; cat /tmp/rx
vt_match kmod_rx_port1 '^port=1 pass=4 divert=5 drop=3 pass_bytes=204 divert_bytes=300 drop_bytes=180 r4=2 r19=8 r21=2$' cat /tmp/rx
vt_match kmod_rx_port2 '^port=2 pass=0 divert=6 drop=0 pass_bytes=0 divert_bytes=392 drop_bytes=0 r19=6$' cat /tmp/rx
vt_match kmod_rx_port3 '^port=3 pass=0 divert=3 drop=0 pass_bytes=0 divert_bytes=192 drop_bytes=0 r18=3$' cat /tmp/rx
vt_match kmod_rx_received '^14$' cat /sys/kernel/debug/oobbpf_testrx/received
vt_match kmod_info_diverted 'rx_diverted=14' oobbpf-kmodctl info

# ---- D: the receiver declines: in-band again, as without one ---------------------------------
echo 0 >/sys/module/oobbpf_testrx/parameters/accept
send_set
settle $((n1 + 69))
snapshot >/tmp/s4
delta /tmp/s3 /tmp/s4 >/tmp/decl
vt_check kmod_declined_like_none cmp /tmp/kmod /tmp/decl
vt_match kmod_rx_declined '^14$' cat /sys/kernel/debug/oobbpf_testrx/declined
vt_check kmod_testrx_rmmod rmmod oobbpf_testrx

vt_check kmod_detach oobbpf-kmodctl detach va.42
vt_match kmod_info_rx_one 'rx_ports=1' oobbpf-kmodctl info
# A device that goes away takes its rx_handler with it.
ip link del va
vt_match kmod_info_rx_none 'rx_ports=0' oobbpf-kmodctl info
vt_mark
vt_check kmod_rmmod rmmod oobbpf
vt_match kmod_unloaded 'oobbpf: unloaded' vt_dmesg
