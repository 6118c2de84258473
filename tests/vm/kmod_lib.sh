# SPDX-License-Identifier: MIT
# Shared by the kmod guest scripts (sourced; busybox/dash sh). Files in /test/files:
# oob_xdp.bpf.o (the classifier's maps), kmod_maps.bpf.o (routes, neighs), oobbpf_testrx.ko.
PIN=/sys/fs/bpf/oobbpf
OBJS="/test/files/oob_xdp.bpf.o /test/files/kmod_maps.bpf.o"
TESTRX=/test/files/oobbpf_testrx.ko

# No IPv6 autoconfiguration chatter (router solicitations, MLD, DAD) on the test devices: the
# counter checks expect exactly the frames the test sends.
no_ipv6_chatter() {
	echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6
	echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
}

# The maps as the daemon would pin them, created from the BPF objects (no program loaded).
make_maps() {
	rm -rf "$PIN"
	mkdir -p "$PIN"
	oobbpf-kmodctl maps "$PIN" $OBJS >/dev/null && oobbpf-kmodctl config "$PIN"
}

ifindex() {
	cat "/sys/class/net/$1/ifindex"
}

# Sum of oob_last.seq over CPUs: frames judged, by XDP or by the module.
judged() {
	bpftool -j map dump pinned "$PIN/last" | grep -o '"seq":[0-9]*' | cut -d: -f2 |
		awk '{ s += $1 } END { print s + 0 }'
}

# Maps named oob_* that still exist (pinned, or held by someone).
oob_maps_alive() {
	bpftool map list | grep -c ' name oob_' || true
}

no_oob_maps() {
	[ "$(oob_maps_alive)" -eq 0 ]
}

# fails_with ERE CMD...: CMD fails and says why in words matching ERE (the errno's text).
fails_with() {
	_fw_pat=$1
	shift
	if "$@" >/tmp/fw.out 2>&1; then
		cat /tmp/fw.out
		echo "succeeded, expected a failure"
		return 1
	fi
	cat /tmp/fw.out
	grep -Eq -- "$_fw_pat" /tmp/fw.out
}
