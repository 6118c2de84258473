# SPDX-License-Identifier: MIT
# Guest script: route and neighbour learning on a stock kernel. Output route lookups towards oob
# ports (ip route get, real traffic) trigger the fib_table_lookup and fib6_table_lookup probes;
# the module asks the stack for the whole decision and writes the routes map (IPv4 and IPv6);
# ARP/ND changes land in the neighs map;
# a device that goes down or away has its entries purged. Policy routing is honoured because
# the stack decided: the entry is keyed by the flow (destination, source, mark, tos, oif).
. /test/files/kmod_lib.sh
modprobe veth
modprobe 8021q
modprobe dummy numdummies=0
ip netns add peer
ip link add va type veth peer name vb
ip link set vb netns peer
ip link add link va name va.42 type vlan id 42
ip link add dum1 type dummy
ip addr add 10.1.0.1/24 dev va
ip addr add 10.2.0.1/24 dev va.42
ip addr add 10.3.0.1/24 dev dum1
for d in va va.42 dum1; do ip link set "$d" up; done
ip -n peer addr add 10.1.0.254/24 dev vb
ip -n peer link set vb up
ip -n peer link set lo up
ip route add 10.9.0.0/16 via 10.1.0.254 dev va
ip rule add fwmark 7 table 100
ip route add 10.9.0.0/16 dev va.42 table 100
VA=$(ifindex va)
VLAN=$(ifindex va.42)

# Re-resolve a known flow after 100 ms (the default is 1 s), so the test can see a change.
vt_require kmod_insmod insmod "$OOBBPF_KO" route_refresh_ms=100
vt_require kmod_maps make_maps
vt_require kmod_hand oobbpf-kmodctl hand "$PIN"
oobbpf-kmodctl port "$PIN" va 1
oobbpf-kmodctl vlanport "$PIN" va.42 2

route_has() {
	oobbpf-kmodctl routes "$PIN" | grep -q -- "$1"
}

# A gatewayed route in the main table, learned from `ip route get`.
ip route get 10.9.1.1 >/dev/null
vt_check kmod_route_learned vt_wait 5 route_has 'dst=10.9.1.1 '
vt_match kmod_route_gateway "^dst=10.9.1.1 src=0.0.0.0 oif_key=0 mark=0 tos=0 netns=[0-9]+ -> oif=$VA lower=$VA vid=0 gw=10.1.0.254 prefsrc=10.1.0.1 mtu=1500 table=254 flags=0x3 seq=0\$" oobbpf-kmodctl routes "$PIN"

# Policy routing: the fwmark rule sends the same destination to the VLAN port, on-link.
ip route get 10.9.1.1 mark 7 >/dev/null
vt_check kmod_route_policy vt_wait 5 route_has 'dst=10.9.1.1 .* mark=7 '
vt_match kmod_route_policy_entry "^dst=10.9.1.1 src=0.0.0.0 oif_key=0 mark=7 tos=0 netns=[0-9]+ -> oif=$VLAN lower=$VA vid=42 gw=0.0.0.0 prefsrc=10.2.0.1 mtu=1500 table=100 flags=0x2 seq=0\$" oobbpf-kmodctl routes "$PIN"

# The flow's source is part of the key; on-link destinations have no gateway.
ip route get 10.1.0.7 from 10.1.0.1 >/dev/null
vt_check kmod_route_onlink_src vt_wait 5 route_has 'dst=10.1.0.7 src=10.1.0.1 '
vt_match kmod_route_onlink_entry "^dst=10.1.0.7 src=10.1.0.1 .* -> oif=$VA lower=$VA vid=0 gw=0.0.0.0 prefsrc=10.1.0.1 mtu=1500 table=254 flags=0x2 " oobbpf-kmodctl routes "$PIN"

# Real traffic learns too (the ping socket's route lookup), and no other device is learned.
ping -c 1 -W 1 10.9.2.2 >/dev/null 2>&1
ip route get 10.3.0.9 >/dev/null
vt_check kmod_route_from_traffic vt_wait 5 route_has 'dst=10.9.2.2 '
sleep 0.3
vt_check_fails kmod_route_not_a_port route_has 'dst=10.3.0.9 '
vt_match kmod_routes_count '^4$' sh -c "oobbpf-kmodctl routes $PIN | wc -l"

# The oob path sends without asking the stack, so FIB and rule changes revalidate the entries
# by themselves: a changed decision is rewritten in place (seq moves on by 2), a flow that no
# longer leads to an oob port loses its entry, unaffected entries stay as they are.
ip route replace 10.9.0.0/16 via 10.1.0.253 dev va
vt_check kmod_route_revalidated vt_wait 5 route_has 'dst=10.9.1.1 src=0.0.0.0 oif_key=0 mark=0 .* gw=10.1.0.253 .* seq=2$'
vt_match kmod_route_policy_untouched 'dst=10.9.1.1 .* mark=7 .* seq=0$' oobbpf-kmodctl routes "$PIN"
ip route del 10.9.0.0/16 via 10.1.0.253 dev va
vt_check kmod_route_revalidated_away vt_wait 5 sh -c "! oobbpf-kmodctl routes $PIN | grep -q 'dst=10.9.1.1 src=0.0.0.0 oif_key=0 mark=0 '"
ip rule del fwmark 7 table 100
vt_check kmod_rule_change_revalidated vt_wait 5 sh -c "! oobbpf-kmodctl routes $PIN | grep -q 'mark=7 '"
# Learned again on the next lookup; a lookup after route_refresh_ms confirms the entry (seq +2).
ip route add 10.9.0.0/16 via 10.1.0.254 dev va
ip route get 10.9.1.1 >/dev/null
vt_check kmod_route_relearned vt_wait 5 route_has 'dst=10.9.1.1 src=0.0.0.0 oif_key=0 mark=0 .* gw=10.1.0.254 .* seq=0$'
sleep 0.2
ip route get 10.9.1.1 >/dev/null
vt_check kmod_route_refreshed vt_wait 5 route_has 'dst=10.9.1.1 src=0.0.0.0 oif_key=0 mark=0 .* gw=10.1.0.254 .* seq=2$'

# bpftool reads the same entries (field names from the maps' BTF).
vt_match kmod_routes_bpftool '"prefsrc": \[' bpftool map dump pinned "$PIN/routes"

# IPv6, from the fib6_table_lookup probe: the same entries, with what RTM_GETROUTE reports
# (source address selection for prefsrc, the FIB entry's table), revalidated the same way.
ip addr add fd00:1::1/64 dev va nodad
ip addr add fd00:2::1/64 dev va.42 nodad
ip -n peer addr add fd00:1::254/64 dev vb nodad
ip -6 route add 2001:db8:9::/48 via fd00:1::254 dev va
ip -6 rule add fwmark 7 table 100
ip -6 route add 2001:db8:9::/48 dev va.42 table 100
ip -6 route get 2001:db8:9::1 >/dev/null
vt_check kmod_route6_learned vt_wait 5 route_has 'dst=2001:db8:9::1 '
vt_match kmod_route6_gateway "^dst=2001:db8:9::1 src=:: oif_key=0 mark=0 tos=0 netns=[0-9]+ -> oif=$VA lower=$VA vid=0 gw=fd00:1::254 prefsrc=fd00:1::1 mtu=1500 table=254 flags=0x3 seq=0\$" oobbpf-kmodctl routes "$PIN"
ip -6 route get 2001:db8:9::1 mark 7 >/dev/null
vt_check kmod_route6_policy vt_wait 5 route_has 'dst=2001:db8:9::1 .* mark=7 '
vt_match kmod_route6_policy_entry "^dst=2001:db8:9::1 src=:: oif_key=0 mark=7 tos=0 netns=[0-9]+ -> oif=$VLAN lower=$VA vid=42 gw=:: prefsrc=fd00:2::1 mtu=1500 table=100 flags=0x2 seq=0\$" oobbpf-kmodctl routes "$PIN"
ip -6 route get fd00:1::7 from fd00:1::1 >/dev/null
vt_check kmod_route6_onlink_src vt_wait 5 route_has 'dst=fd00:1::7 src=fd00:1::1 .* gw=:: prefsrc=fd00:1::1 mtu=1500 table=254 flags=0x2 '
ip -6 route replace 2001:db8:9::/48 via fd00:1::253 dev va
vt_check kmod_route6_revalidated vt_wait 5 route_has 'dst=2001:db8:9::1 src=:: oif_key=0 mark=0 .* gw=fd00:1::253 .* seq=2$'
# Without the rule, the marked flow takes the main table: rewritten; without the route: gone.
ip -6 rule del fwmark 7 table 100
vt_check kmod_route6_rule_change vt_wait 5 route_has "dst=2001:db8:9::1 src=:: oif_key=0 mark=7 tos=0 netns=[0-9]* -> oif=$VA lower=$VA vid=0 gw=fd00:1::253 .* table=254 "
ip -6 route del 2001:db8:9::/48 via fd00:1::253 dev va
vt_check kmod_route6_route_gone vt_wait 5 sh -c "! oobbpf-kmodctl routes $PIN | grep -q 'dst=2001:db8:9::1 '"
ip -6 route get 2001:db8:42::1 >/dev/null # no route: nothing learned
sleep 0.3
vt_check_fails kmod_route6_no_route route_has 'dst=2001:db8:42::1 '

# ---- neighbours -----------------------------------------------------------------------------
neigh_has() {
	oobbpf-kmodctl neighs "$PIN" | grep -q -- "$1"
}
VB_MAC=$(ip -n peer -br link show vb | awk '{ print $3 }')
ping -c 1 -W 2 10.1.0.254 >/dev/null
vt_check kmod_neigh_learned vt_wait 5 neigh_has "ifindex=$VA addr=10.1.0.254 mac=$VB_MAC state=0x2 "
ip neigh replace 10.1.0.254 dev va lladdr 02:00:00:00:00:fe nud permanent
vt_check kmod_neigh_changed vt_wait 5 neigh_has "ifindex=$VA addr=10.1.0.254 mac=02:00:00:00:00:fe state=0x80 seq=[1-9]"
ip -6 neigh add fe80::1 dev va lladdr 02:00:00:00:00:01 nud permanent
vt_check kmod_neigh_ipv6 vt_wait 5 neigh_has "ifindex=$VA addr=fe80::1 mac=02:00:00:00:00:01 state=0x80"
ip neigh add 10.2.0.9 dev va.42 lladdr 02:00:00:00:00:09 nud permanent
vt_check kmod_neigh_vlan_port vt_wait 5 neigh_has "ifindex=$VLAN addr=10.2.0.9 "
ip neigh add 10.3.0.9 dev dum1 lladdr 02:00:00:00:00:19 nud permanent
sleep 0.3
vt_check_fails kmod_neigh_not_a_port neigh_has 'addr=10.3.0.9 '
ip neigh del 10.1.0.254 dev va
vt_check kmod_neigh_removed vt_wait 5 sh -c "! oobbpf-kmodctl neighs $PIN | grep -q 'addr=10.1.0.254 '"
vt_match kmod_neighs_bpftool '"mac": \[' bpftool map dump pinned "$PIN/neighs"

# ---- observe mode: the daemon learns, the module only reports decided flows ----------------
vt_check kmod_hand_observe oobbpf-kmodctl hand "$PIN" observe
# Read up to 3 decisions, waiting 1.5 s for each: exactly 2 must come.
oobbpf-kmodctl events 3 1500 >/tmp/ev &
reader=$!
vt_wait 5 grep -q ready /tmp/ev
ip route get 10.9.3.3 >/dev/null	# new flow via va: reported
ip route get 10.9.3.3 >/dev/null	# again within a second: not reported twice
ip route get 10.9.1.1 >/dev/null	# known (has an entry): the daemon's to revalidate
ip route get 10.3.0.9 >/dev/null	# no oob port
ip route get 10.2.0.77 >/dev/null	# the VLAN port, on-link: reported
wait $reader
cat /tmp/ev
vt_match kmod_observe_events '^events=2$' cat /tmp/ev
vt_match kmod_observe_new_flow "^event dst=10.9.3.3 src=0.0.0.0 oif_key=0 mark=0 tos=0 nh=$VA table=254\$" cat /tmp/ev
vt_match kmod_observe_vlan_port "^event dst=10.2.0.77 src=0.0.0.0 oif_key=0 mark=0 tos=0 nh=$VLAN table=254\$" cat /tmp/ev
vt_check_fails kmod_observe_no_write route_has 'dst=10.9.3.3 '
# A reader that forgets a flow (its entry went away) hears of it again at once.
oobbpf-kmodctl events 2 3000 forget >/tmp/ev &
reader=$!
vt_wait 5 grep -q ready /tmp/ev
ip route get 10.9.4.4 >/dev/null
vt_wait 5 grep -q '^event dst=10.9.4.4 ' /tmp/ev
ip route get 10.9.4.4 >/dev/null
wait $reader
vt_match kmod_observe_forget '^events=2$' cat /tmp/ev
ip neigh add 10.1.0.99 dev va lladdr 02:00:00:00:00:99 nud permanent
sleep 0.3
vt_check_fails kmod_observe_no_neigh_write neigh_has 'addr=10.1.0.99 '
vt_check kmod_hand_learn_again oobbpf-kmodctl hand "$PIN"

# ---- devices --------------------------------------------------------------------------------
# Down: the VLAN port's route and neighbour go, the rest stays.
ip rule add fwmark 7 table 100
ip route get 10.9.1.1 mark 7 >/dev/null
vt_check kmod_route_policy_again vt_wait 5 route_has "oif=$VLAN "
ip link set va.42 down
vt_check kmod_purge_down_routes vt_wait 5 sh -c "! oobbpf-kmodctl routes $PIN | grep -q 'oif=$VLAN '"
vt_check kmod_purge_down_neighs vt_wait 5 sh -c "! oobbpf-kmodctl neighs $PIN | grep -q 'ifindex=$VLAN '"
vt_match kmod_purge_kept_others 'oif=[0-9]+ lower=[0-9]+ vid=0 ' oobbpf-kmodctl routes "$PIN"
# Away: everything of va goes.
ip link del va
vt_check kmod_purge_gone_routes vt_wait 5 sh -c "test -z \"\$(oobbpf-kmodctl routes $PIN)\""
vt_check kmod_purge_gone_neighs vt_wait 5 sh -c "test -z \"\$(oobbpf-kmodctl neighs $PIN)\""
oobbpf-kmodctl info
vt_match kmod_info_counters 'routes_learned=[1-9][0-9]* .*neighs_updated=[1-9][0-9]* neighs_removed=[1-9][0-9]* purged=[1-9]' oobbpf-kmodctl info

vt_mark
vt_check kmod_rmmod rmmod oobbpf
vt_match kmod_unloaded 'oobbpf: unloaded' vt_dmesg
