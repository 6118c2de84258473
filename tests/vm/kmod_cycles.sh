# SPDX-License-Identifier: MIT
# Guest script: load, hand the maps, attach, unload, 100 times, under traffic of every kind the
# module sees (frames through its rx_handlers, route lookups that queue re-resolutions,
# neighbour changes, a receiver coming and going). Nothing may oops or warn (the harness checks
# the console), and nothing may leak: the maps must die with their pins once the module is gone,
# devices must unregister (a leaked reference hangs that), and slab memory must stay put.
. /test/files/kmod_lib.sh
CYCLES=${CYCLES:-100}
no_ipv6_chatter
modprobe veth
modprobe 8021q
ip netns add peer
ip link add va type veth peer name vb
ip link set vb netns peer
ip link add link va name va.42 type vlan id 42
ip addr add 10.1.0.1/24 dev va
ip addr add 10.2.0.1/24 dev va.42
ip link set va up
ip link set va.42 up
ip -n peer addr add 10.1.0.254/24 dev vb
ip -n peer link set vb up
ip route add 10.9.0.0/16 via 10.1.0.254 dev va
vt_require kmod_maps make_maps
# The entries are the daemon's: they stay in the maps across module loads.
oobbpf-kmodctl port "$PIN" va 1
oobbpf-kmodctl vlanport "$PIN" va.42 2
oobbpf-kmodctl vlanset "$PIN" va 43 3
oobbpf-kmodctl rule "$PIN" 7 10 divert udp 9000

# Background traffic, niced so that the cycles still get the (emulated) CPUs.
PEER="nsenter --net=/run/netns/peer"
traffic_frames() {
	while :; do
		$PEER oobbpf-kmodctl send vb 10.1.0.1 9000 100 >/dev/null
		$PEER oobbpf-kmodctl send vb vlan 42 10.1.0.1 9000 100 >/dev/null
		$PEER oobbpf-kmodctl send vb vlan 43 10.1.0.1 53 100 >/dev/null
		sleep 0.1
	done
}
traffic_routes() {
	i=0
	while :; do
		i=$(((i + 1) % 250))
		ip route get 10.9.$i.1 >/dev/null
		ip route get 10.9.$i.2 from 10.1.0.1 mark $i >/dev/null
		sleep 0.1
	done
}
traffic_neighs() {
	while :; do
		ip neigh replace 10.1.0.77 dev va lladdr 02:00:00:00:00:77 nud permanent
		ip neigh del 10.1.0.77 dev va
		sleep 0.1
	done
}

echo 3 >/proc/sys/vm/drop_caches
slab_before=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)
renice_bg() {
	renice -n 10 -p "$1" >/dev/null
}
traffic_frames & p1=$!
traffic_routes & p2=$!
traffic_neighs & p3=$!
for p in $p1 $p2 $p3; do renice_bg $p; done
judged_before=$(judged)
start=$(cut -d' ' -f1 /proc/uptime)

n=0
fail=0
while [ $n -lt "$CYCLES" ]; do
	n=$((n + 1))
	[ $((n % 10)) = 1 ] && echo "cycle $n at $(cut -d" " -f1 /proc/uptime) s"
	if ! { insmod "$OOBBPF_KO" route_refresh_ms=0 && oobbpf-kmodctl up "$PIN" va va.42; }; then
		fail=$n
		break
	fi
	if [ $((n % 2)) = 0 ]; then
		insmod "$TESTRX" && rmmod oobbpf_testrx || { fail=$n; break; }
	fi
	rmmod oobbpf || { fail=$n; break; }
done
end=$(cut -d' ' -f1 /proc/uptime)
kill $p1 $p2 $p3
wait 2>/dev/null
echo "cycles: $n in $(echo "$end - $start" | bc) s; frames judged meanwhile: $(($(judged) - judged_before))"
vt_check kmod_cycles_all test "$fail" = 0 -a "$n" = "$CYCLES"
vt_check kmod_cycles_traffic_judged test $(($(judged) - judged_before)) -gt $((CYCLES * 20))
vt_check_fails kmod_cycles_module_gone grep -q '^oobbpf' /proc/modules

# Leaks: a map reference keeps the maps alive after their pins go; a device reference makes
# deleting the devices hang (the harness times out); slab growth shows lost allocations.
rm -rf "$PIN"
vt_check kmod_cycles_maps_released vt_wait 10 no_oob_maps
vt_check kmod_cycles_devices_deleted timeout 30 dash -c 'ip link del va && ip netns del peer'
sleep 1
echo 3 >/proc/sys/vm/drop_caches
slab_after=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)
echo "slab: ${slab_before} kB before, ${slab_after} kB after"
vt_check kmod_cycles_slab_flat test $((slab_after - slab_before)) -lt 2048
