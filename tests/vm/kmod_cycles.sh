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

# Background traffic from a few long-running processes (a process per packet or per lookup
# would take the emulated CPUs away from the cycles): frames through the module's rx_handlers,
# output route lookups towards the oob ports (each one a tracepoint hit and a queued
# re-resolution, route_refresh_ms=0), neighbour changes on the port.
PEER="nsenter --net=/run/netns/peer"
mkfifo /tmp/routes.fifo /tmp/neighs.fifo
start_traffic() {
	$PEER oobbpf-kmodctl send vb 10.1.0.1 9000 100000000 20000 >/dev/null &
	pids="$!"
	$PEER oobbpf-kmodctl send vb vlan 42 10.1.0.1 9000 100000000 20000 >/dev/null &
	pids="$pids $!"
	$PEER oobbpf-kmodctl send vb vlan 43 10.1.0.1 53 100000000 20000 >/dev/null &
	pids="$pids $!"
	ip -force -batch /tmp/routes.fifo >/dev/null 2>&1 &
	pids="$pids $!"
	(
		i=0
		while :; do
			i=$(((i + 1) % 20))
			echo "route get 10.9.$i.1"
			echo "route get 10.9.$i.2 from 10.1.0.1 mark $i"
			sleep 0.1
		done >/tmp/routes.fifo
	) &
	pids="$pids $!"
	ip -force -batch /tmp/neighs.fifo >/dev/null 2>&1 &
	pids="$pids $!"
	(
		while :; do
			echo "neigh replace 10.1.0.77 dev va lladdr 02:00:00:00:00:77 nud permanent"
			echo "neigh del 10.1.0.77 dev va"
			sleep 0.1
		done >/tmp/neighs.fifo
	) &
	pids="$pids $!"
}

echo 3 >/proc/sys/vm/drop_caches
slab_before=$(awk '/^Slab:/ { print $2 }' /proc/meminfo)
start_traffic
judged_before=$(judged)
start=$(cut -d' ' -f1 /proc/uptime)

# One process runs the cycles (finit_module, ioctls, delete_module): under TCG a process per
# step would cost more than the module does.
vt_check kmod_cycles_all oobbpf-kmodctl cycles "$CYCLES" "$OOBBPF_KO" "$TESTRX" "$PIN" va va.42
cat /tmp/vt.out
end=$(cut -d' ' -f1 /proc/uptime)
kill $pids
wait 2>/dev/null
echo "cycles: $CYCLES in $(echo "$end - $start" | bc) s; frames judged meanwhile: $(($(judged) - judged_before))"
vt_check kmod_cycles_traffic_judged test $(($(judged) - judged_before)) -gt $((CYCLES * 2))
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
