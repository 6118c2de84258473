# SPDX-License-Identifier: MIT
# Guest script (vm tier): where the kernel attaches BPF extensions (freplace), oobbpfd attaches
# through libxdp's dispatcher, so the classifier runs beside another XDP program on one device,
# as `xdp-loader status` shows; a restarted daemon adopts its component; `port del` and
# `oobbpfd --cleanup` take only oob_xdp away.
# Binaries: /test/bin/oobbpfd, /test/bin/oobbpf.
libxdp=/usr/lib/x86_64-linux-gnu/bpf
D=/test/bin/oobbpfd
C=/test/bin/oobbpf
modprobe veth
ip link add va type veth peer name vb
ip link set va up
ip link set vb up

# Someone else's XDP program first, through libxdp (it makes the dispatcher).
vt_require foreign_loaded xdp-loader load -m native va $libxdp/xdpfilt_alw_all.o
vt_match foreign_status 'va +xdp_dispatcher +native' xdp-loader status va

daemon_up() {
	$C -j status 2>/dev/null | grep -q '"running":true'
}

start_daemon() {
	$D --learner none >>/tmp/oobbpfd.log 2>&1 &
	vt_wait 180 daemon_up || vt_fail daemon_started "$(cat /tmp/oobbpfd.log)"
}

start_daemon
$C status
vt_match status_freplace 'freplace +yes' $C status
vt_match status_dispatcher 'attach +libxdp dispatcher' $C status

# Beside it, not instead of it: no --force needed.
vt_require port_add $C port add va
xdp-loader status va
vt_match both_components_oob '=> +[0-9]+ +oob_xdp' xdp-loader status va
vt_match both_components_filter '=> +[0-9]+ +xdpfilt_alw_all' xdp-loader status va
vt_match divert_via '"via":"libxdp-dispatcher"' $C -j divert show
vt_match ext_program '^[0-9]+: ext +name oob_xdp' bpftool prog show

# A restart (SIGKILL) adopts the component instead of adding a second one.
kill -9 $!
wait 2>/dev/null
start_daemon
cat /tmp/oobbpfd.log
vt_match adopted 'adopted va \(libxdp dispatcher' cat /tmp/oobbpfd.log
vt_match adopted_status '"adopted":true' $C -j status
n=$(xdp-loader status va | grep -c '=> .*oob_xdp')
if [ "$n" = 1 ]; then vt_pass one_component; else vt_fail one_component "$n oob_xdp components"; fi

# port del takes oob_xdp out of the dispatcher; the other program stays.
vt_require port_del $C port del va
xdp-loader status va
vt_match filter_stays '=> +[0-9]+ +xdpfilt_alw_all' xdp-loader status va
if xdp-loader status va | grep -q oob_xdp; then vt_fail oob_gone; else vt_pass oob_gone; fi

# And --cleanup, with the daemon stopped, does the same.
vt_require port_add_again $C port add va
kill $!
wait 2>/dev/null
vt_require cleanup $D --cleanup
xdp-loader status va
vt_match filter_stays_after_cleanup '=> +[0-9]+ +xdpfilt_alw_all' xdp-loader status va
if xdp-loader status va | grep -q oob_xdp; then vt_fail oob_cleaned; else vt_pass oob_cleaned; fi
if [ -e /sys/fs/bpf/oobbpf ]; then vt_fail pin_root_gone; else vt_pass pin_root_gone; fi
vt_check foreign_unload xdp-loader unload va --all
