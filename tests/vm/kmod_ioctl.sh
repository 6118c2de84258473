# SPDX-License-Identifier: MIT
# Guest script: /dev/oobbpf and its ioctls. The module takes the daemon's pinned maps, checks
# each against its role, refuses every malformed request without changing what it holds, keeps
# one map set per network namespace, holds its own references (maps outlive their pins while
# handed) and drops them all on unload.
. /test/files/kmod_lib.sh

vt_require kmod_insmod insmod "$OOBBPF_KO"
vt_check kmod_dev_node test -c /dev/oobbpf
vt_match kmod_dev_root_only '^crw------- ' ls -l /dev/oobbpf
vt_require kmod_maps_created make_maps
vt_match kmod_info_no_maps 'maps=0x0 ' oobbpf-kmodctl info
vt_match kmod_info_route_hook 'tracepoint=1 tracepoint6=1 dovetail=0' oobbpf-kmodctl info

vt_require kmod_hand oobbpf-kmodctl hand "$PIN"
vt_match kmod_info_all_maps 'maps=0x7ff ' oobbpf-kmodctl info
# Sizes, versions, non-map fds (/dev/null, a pipe, a regular file, the device itself), wrong map
# types (an array for a hash and back, per-CPU for plain), key/value sizes, entries, required
# roles, ioctl numbers; every ioctl and read() refused without CAP_NET_ADMIN and for uid 65534
# on a descriptor root opened. Each case prints `ok NAME` or `FAIL NAME`.
oobbpf-kmodctl negative "$PIN"
vt_check kmod_negative oobbpf-kmodctl negative "$PIN"
# The same from the outside: a process started without CAP_NET_ADMIN (dropped from the bounding
# and inheritable sets, as a service manager would), and an unprivileged user (the node is 0600).
vt_check kmod_no_cap_net_admin fails_with 'Operation not permitted' \
	setpriv --bounding-set=-net_admin --inh-caps=-net_admin oobbpf-kmodctl info
vt_check kmod_no_cap_hand fails_with 'Operation not permitted' \
	setpriv --bounding-set=-net_admin --inh-caps=-net_admin oobbpf-kmodctl clear
vt_check kmod_unprivileged_user fails_with 'Permission denied' \
	setpriv --reuid=65534 --regid=65534 --clear-groups oobbpf-kmodctl info
vt_match kmod_refusals_changed_nothing 'maps=0x7ff ' oobbpf-kmodctl info

# Optional maps may be left out; required ones may not (the negative cases covered that).
vt_check kmod_hand_required_only oobbpf-kmodctl hand "$PIN" -config -rule_stats -port_stats \
	-last -routes -neighs
vt_match kmod_info_required_only 'maps=0x3e ' oobbpf-kmodctl info
vt_check kmod_clear oobbpf-kmodctl clear
vt_match kmod_info_cleared 'maps=0x0 ' oobbpf-kmodctl info

# One map set per namespace: nsenter keeps the mount namespace, so the pins are reachable.
ip netns add ns2
vt_check kmod_hand_root oobbpf-kmodctl hand "$PIN"
vt_match kmod_netns_own_set 'maps=0x0 ' nsenter --net=/run/netns/ns2 oobbpf-kmodctl info
vt_check kmod_netns_hand nsenter --net=/run/netns/ns2 oobbpf-kmodctl hand "$PIN" -routes
vt_match kmod_netns_set 'maps=0x5ff ' nsenter --net=/run/netns/ns2 oobbpf-kmodctl info
vt_match kmod_root_set_unchanged 'maps=0x7ff ' oobbpf-kmodctl info
# A namespace that goes away drops its set (pernet exit).
ip netns del ns2

# The module's references keep the maps alive without pins, and go with the module.
alive=$(oob_maps_alive)
rm -rf "$PIN"
vt_check kmod_maps_held_without_pins test "$(oob_maps_alive)" -eq 11
vt_mark
vt_check kmod_rmmod rmmod oobbpf
vt_match kmod_unloaded 'oobbpf: unloaded' vt_dmesg
vt_check kmod_maps_released vt_wait 10 no_oob_maps
echo "oob maps: $alive while pinned and handed, $(oob_maps_alive) after unpin and rmmod"
