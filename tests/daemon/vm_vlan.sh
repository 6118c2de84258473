# SPDX-License-Identifier: MIT
# Guest script (vm tier): VLAN ports and VLAN sets end to end, where the kernel has 802.1Q
# devices (the build host may not). A VLAN device made an oob port turns diversion on on its lower
# device; its tagged frames count on its port; an oob VLAN diverts IP frames by membership; the
# VLAN device going away is purged, and coming back is attached again.
# Binaries: /test/bin/oobbpfd, /test/bin/oobbpf.
D=/test/bin/oobbpfd
C=/test/bin/oobbpf
modprobe veth
modprobe 8021q
ip netns add peer
ip link add va type veth peer name vb netns peer
ip link set va up
ip -n peer link set vb up
# The peer puts tags in the frames (no VLAN offload) and finishes its checksums.
ip netns exec peer ethtool -K vb txvlan off tx off >/dev/null
ethtool -K va tx off >/dev/null

vlan_dev() {  # NETNS-PREFIX LOWER VID ADDR
	$1 ip link add link "$2" name "$2.$3" type vlan id "$3"
	$1 ip link set "$2.$3" up
	$1 ip addr add "$4" dev "$2.$3"
}
vlan_dev "" va 42 10.42.0.1/24
vlan_dev "ip netns exec peer" vb 42 10.42.0.2/24
vlan_dev "ip netns exec peer" vb 43 10.43.0.2/24

daemon_up() {
	$C -j status 2>/dev/null | grep -q '"running":true'
}
$D --learner none >/tmp/oobbpfd.log 2>&1 &
vt_wait 180 daemon_up || vt_fail daemon_started "$(cat /tmp/oobbpfd.log)"

vt_require port_add $C port add va.42
$C port show
$C divert show
vt_match port_is_vlan '"kind":"vlan","lower":"va".*"vid":42' $C -j port show va.42
vt_match lower_diverts '"dev":"va","flags":"divert"' $C -j divert show
vt_match ports_map_key '"vid": 42' bpftool map dump pinned /sys/fs/bpf/oobbpf/ports
vt_check_fails divert_off_refused $C divert off va

# Tagged frames of the VLAN port land on its port (a rule on the port device counts them).
vt_require rule_add $C rule add dev va.42 icmp prio 10 action pass
ip netns exec peer ping -c 5 -i 0.2 -W 2 10.42.0.1
vt_match rule_counts '"packets":([5-9]|[1-9][0-9]+)' $C -j rule show 1
$C stats
vt_match port_counts '"dev":"va.42".*"reasons":\{[^}]*"rule":([5-9]|[1-9][0-9]+)' $C -j stats

# An oob VLAN (global set): IP frames tagged 43 divert by membership; with no socket, in-band.
vt_require vlan_add $C vlan add 43
ip netns exec peer ip neigh add 10.43.0.1 lladdr "$(cat /sys/class/net/va/address)" dev vb.43
ip netns exec peer ping -c 3 -i 0.2 -W 1 10.43.0.1
$C stats
vt_match member_counts '"dev":"vlan 43".*"no-xsk":3' $C -j stats

# The VLAN device goes: purged from every map, the lower device stops diverting; it comes back:
# attached again.
ip link del va.42
vt_wait 5 sh -c "$C -j divert show | grep -qv '\"dev\":\"va\",\"flags\":\"divert\"'" || true
vt_match port_absent 'va.42: no such device' $C port show
vt_match ports_map_purged '^\[\]$' bpftool -j map dump pinned /sys/fs/bpf/oobbpf/ports
vlan_dev "" va 42 10.42.0.1/24
vt_wait 5 sh -c "$C -j port show va.42 | grep -q '\"state\":\"active\"'"
vt_match port_back '"state":"active"' $C -j port show va.42
vt_match ports_map_back '"vid": 42' bpftool map dump pinned /sys/fs/bpf/oobbpf/ports
ip netns exec peer ping -c 3 -i 0.2 -W 2 10.42.0.1
vt_match rule_counts_again '"packets":([8-9]|[1-9][0-9]+)' $C -j rule show 1
kill $!
wait 2>/dev/null
vt_check cleanup $D --cleanup --purge
