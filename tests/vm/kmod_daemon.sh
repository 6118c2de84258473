# SPDX-License-Identifier: MIT
# Guest script: oobbpfd's kmod learner back-end against its tp_btf back-end, on one script of
# routing decisions. Without the module, `--learner auto` runs tp_btf; with oobbpf.ko loaded it
# runs kmod (the module's fib_table_lookup / fib6_table_lookup probes report the decided flows
# through /dev/oobbpf), and says so in `oobbpf status` and its log. Both runs drive the same
# decisions (ip route get with marks, sources, tos, oif; ping; IPv4 and IPv6; policy routing to a
# VLAN port), the same changes (routes replaced, a neighbour changed, a port device deleted),
# and must leave the same entries in the pinned routes and neighs maps, read with the CLI and
# with bpftool.
# Binaries: /test/bin/oobbpfd, /test/bin/oobbpf, /test/bin/oobbpf-kmodctl.
. /test/files/kmod_lib.sh
D=/test/bin/oobbpfd
C=/test/bin/oobbpf
modprobe veth
modprobe 8021q
modprobe dummy numdummies=0
# No router solicitations on the test devices (their multicast neighbours come and go).
echo 0 >/proc/sys/net/ipv6/conf/default/router_solicitations

ip netns add peer
ip link add va type veth peer name vb
ip link set vb netns peer
ip link add link va name va.42 type vlan id 42
ip link add dum1 type dummy
ip addr add 10.1.0.1/24 dev va
ip addr add fd00:1::1/64 dev va nodad
ip addr add 10.2.0.1/24 dev va.42
ip addr add fd00:2::1/64 dev va.42 nodad
ip addr add 10.3.0.1/24 dev dum1
ip addr add fd00:3::1/64 dev dum1 nodad
for d in va va.42 dum1; do ip link set "$d" up; done
ip -n peer addr add 10.1.0.254/24 dev vb
ip -n peer addr add fd00:1::254/64 dev vb nodad
ip -n peer link set vb up
ip -n peer link set lo up
VB_MAC=$(ip -n peer -br link show vb | awk '{ print $3 }')
ip route add 10.9.0.0/16 via 10.1.0.254 dev va
ip -6 route add 2001:db8:9::/48 via fd00:1::254 dev va
ip route add 10.8.0.0/16 dev dum1
ip rule add fwmark 7 table 100
ip -6 rule add fwmark 7 table 100
ip route add 10.9.0.0/16 dev va.42 table 100
ip -6 route add 2001:db8:9::/48 dev va.42 table 100

daemon_up() {
	$C -j status 2>/dev/null | grep -q '"running":true'
}

# One port device per run, deleted by the run (its entries must go with it).
make_vc() {
	ip link add vc type veth peer name vd
	ip link set vd netns peer
	ip addr add 10.7.0.1/24 dev vc
	ip link set vc up
	ip -n peer link set vd up
	ip route add 10.77.0.0/16 via 10.7.0.254 dev vc
}

route_has() {
	$C route show | grep -q -- "$1"
}

# The routes and neighbours as the CLI shows them, without their ages, sorted. Neighbours
# without what IPv6 makes on its own schedule, whichever learner runs: multicast (NOARP) and
# link-local (fe80::/10: the peer's own neighbour discovery) entries.
cli_routes() {
	$C route show | sed 's/ age [0-9]*s//' | sort
}
cli_neighs() {
	$C neigh show | grep -v -e NOARP -e '^fe80:' | sort
}
# bpftool's dump (field names from the maps' BTF), one entry per line, without timestamps and
# write counters, sorted; neighbours without NOARP (state 64) and link-local entries (first
# address word 0x80fe in host order: 33022).
bpf_entries() {
	bpftool map dump pinned "$PIN/$1" | tr -d ' \t\n' |
		sed -E -e 's/\},\{"key"/}\n{"key"/g' -e 's/^\[//' -e 's/\]$//' \
			-e 's/"(learned_ns|updated_ns|seq)":[0-9]+/"\1":_/g' |
		grep -v -e '"state":64' -e '"addr":\[33022,' | sort
}

# scenario BACKEND: start oobbpfd, check its choice, drive the decisions and the changes, and
# keep what the maps hold in /tmp/BACKEND.*.
scenario() {
	b=$1
	echo "kmod_daemon: $b run starts at $(cut -d' ' -f1 /proc/uptime) s"
	make_vc
	$D >"/tmp/oobbpfd.$b.log" 2>&1 &
	dpid=$!
	vt_wait 120 daemon_up || vt_fail "kmod_daemon_${b}_started" "$(cat /tmp/oobbpfd.$b.log)"
	echo "kmod_daemon: $b daemon up at $(cut -d' ' -f1 /proc/uptime) s"
	$C status
	vt_match "kmod_daemon_${b}_chosen" "^learner +$b\$" $C status
	vt_match "kmod_daemon_${b}_logged" "route learner: $b" cat "/tmp/oobbpfd.$b.log"
	for p in va va.42 vc; do
		$C port show "$p" >/dev/null 2>&1 || vt_check "kmod_daemon_${b}_port_$p" $C port add "$p"
	done
	ip neigh replace 10.1.0.254 dev va lladdr "$VB_MAC" nud permanent
	ip -6 neigh replace fd00:1::254 dev va lladdr "$VB_MAC" nud permanent
	ip neigh replace 10.2.0.9 dev va.42 lladdr 02:00:00:00:00:09 nud permanent

	# Decisions: IPv4.
	ip route get 10.9.1.1 >/dev/null
	ip route get 10.9.1.1 mark 7 >/dev/null
	ip route get 10.9.1.1 tos 0x10 >/dev/null
	ip route get 10.9.1.1 oif va >/dev/null
	ip route get 10.1.0.7 from 10.1.0.1 >/dev/null
	ip route get 10.77.0.5 >/dev/null
	ip route get 10.8.0.9 >/dev/null # dum1 is no oob port
	ping -c 1 -W 1 10.9.2.2 >/dev/null 2>&1
	# IPv6.
	ip -6 route get 2001:db8:9::1 >/dev/null
	ip -6 route get 2001:db8:9::1 mark 7 >/dev/null
	ip -6 route get fd00:1::7 from fd00:1::1 >/dev/null
	ping -6 -c 1 -W 1 2001:db8:9::2 >/dev/null 2>&1
	vt_check "kmod_daemon_${b}_learned" vt_wait 10 sh -c \
		"$C route show | grep -q '^10.9.1.1 dev va ' &&
		 $C route show | grep -q '^10.9.1.1 mark 7 dev va.42 ' &&
		 $C route show | grep -q '^10.9.1.1 tos 16 ' &&
		 $C route show | grep -q '^10.9.1.1 oif va ' &&
		 $C route show | grep -q '^10.1.0.7 from 10.1.0.1 ' &&
		 $C route show | grep -q '^10.77.0.5 ' &&
		 $C route show | grep -q '^10.9.2.2 ' &&
		 $C route show | grep -q '^2001:db8:9::1 dev va ' &&
		 $C route show | grep -q '^2001:db8:9::1 mark 7 dev va.42 ' &&
		 $C route show | grep -q '^fd00:1::7 from fd00:1::1 ' &&
		 $C route show | grep -q '^2001:db8:9::2 '"
	sleep 1 # anything late (it must not be there) has come by now
	$C route show
	vt_check_fails "kmod_daemon_${b}_not_a_port" route_has '^10.8.0.9 '
	cli_routes >"/tmp/$b.routes1"
	cli_neighs >"/tmp/$b.neighs1"

	# Changes: the learner revalidates (gateways), mirrors (neighbours), purges (device gone).
	# The new gateways are known neighbours: no ARP/ND solicitations (and their own route
	# lookups) on a schedule of their own.
	ip neigh replace 10.1.0.253 dev va lladdr 02:00:00:00:00:fd nud permanent
	ip -6 neigh replace fd00:1::253 dev va lladdr 02:00:00:00:00:fd nud permanent
	ip route replace 10.9.0.0/16 via 10.1.0.253 dev va
	ip -6 route replace 2001:db8:9::/48 via fd00:1::253 dev va
	ip neigh replace 10.1.0.254 dev va lladdr 02:00:00:00:00:fe nud permanent
	ip link del vc
	vt_check "kmod_daemon_${b}_changed" vt_wait 10 sh -c \
		"$C route show | grep -q '^10.9.1.1 dev va via 10.1.0.253 ' &&
		 $C route show | grep -q '^2001:db8:9::1 dev va via fd00:1::253 ' &&
		 ! $C route show | grep -q '^10.77.0.5 ' &&
		 $C neigh show | grep -q '^10.1.0.254 dev va lladdr 02:00:00:00:00:fe '"
	ip route get 10.9.3.3 >/dev/null # decided after the change
	vt_check "kmod_daemon_${b}_after_change" vt_wait 10 route_has '^10.9.3.3 dev va via 10.1.0.253 '
	sleep 1
	$C route show
	$C neigh show
	cli_routes >"/tmp/$b.routes2"
	cli_neighs >"/tmp/$b.neighs2"
	bpf_entries routes >"/tmp/$b.bpf_routes"
	bpf_entries neighs >"/tmp/$b.bpf_neighs"
	$C -j status >"/tmp/$b.status"

	echo "kmod_daemon: $b run done at $(cut -d' ' -f1 /proc/uptime) s"
	# Back to the state the next run starts from; the learner's maps go, its ports stay.
	kill "$dpid"
	wait "$dpid"
	ip route replace 10.9.0.0/16 via 10.1.0.254 dev va
	ip -6 route replace 2001:db8:9::/48 via fd00:1::254 dev va
	ip neigh del 10.1.0.253 dev va
	ip -6 neigh del fd00:1::253 dev va
	rm -f "$PIN/routes" "$PIN/neighs" "$PIN/route_cache" "$PIN/neigh_cache" "$PIN/cache_state"
}

# ---- tp_btf: no module loaded ----------------------------------------------------------------
vt_check kmod_daemon_no_module sh -c '! test -e /dev/oobbpf'
scenario tp_btf

# ---- kmod: the module loaded, the same script -------------------------------------------------
vt_require kmod_insmod insmod "$OOBBPF_KO"
scenario kmod
vt_match kmod_daemon_kmod_status '"learner":\{"backend":"kmod"' cat /tmp/kmod.status
# Every entry came from a decision the back-end reported (nothing asked `route resolve`).
vt_match kmod_daemon_kmod_decisions '"decisions":[1-9]' cat /tmp/kmod.status
# The module saw the decisions (and dropped none); the daemon wrote the entries (observe mode).
oobbpf-kmodctl info
vt_match kmod_daemon_observe 'maps=0x7ff ' oobbpf-kmodctl info
vt_match kmod_daemon_module_wrote_nothing \
	'routes_learned=0 routes_failed=0 learn_dropped=0 neighs_updated=0 neighs_removed=0 purged=0 ' \
	oobbpf-kmodctl info

# ---- the same entries --------------------------------------------------------------------------
for f in routes1 neighs1 routes2 neighs2 bpf_routes bpf_neighs; do
	echo "== $f (tp_btf | kmod)"
	diff "/tmp/tp_btf.$f" "/tmp/kmod.$f" && cat "/tmp/kmod.$f"
	vt_check "kmod_daemon_same_$f" cmp "/tmp/tp_btf.$f" "/tmp/kmod.$f"
done
vt_match kmod_daemon_ipv6_entries '^2001:db8:9::1 mark 7 dev va.42 lower va vlan 42 src fd00:2::1 mtu 1500 table 100$' cat /tmp/kmod.routes1
vt_match kmod_daemon_bpftool_ipv6 '"family":10' cat /tmp/kmod.bpf_routes
vt_match kmod_daemon_bpftool_neigh '"mac":\[2,0,0,0,0,254\]' cat /tmp/kmod.bpf_neighs
vt_check kmod_daemon_entries_counted test "$(wc -l </tmp/kmod.routes2)" -ge 10

vt_mark
vt_check kmod_rmmod rmmod oobbpf
vt_match kmod_unloaded 'oobbpf: unloaded' vt_dmesg
