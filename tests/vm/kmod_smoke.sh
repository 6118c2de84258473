# SPDX-License-Identifier: MIT
# Guest script: the module loads and unloads cleanly, and the XDP classifier passes the 6.1
# verifier, attaches to a veth and judges frames there.
# Files: /test/files/oob_xdp.bpf.o
obj=/test/files/oob_xdp.bpf.o
pin=/sys/fs/bpf/smoke

vt_mark
vt_require kmod_insmod insmod "$OOBBPF_KO"
vt_match kmod_loaded_msg 'oobbpf: loaded, ABI [0-9]+' vt_dmesg
vt_match kmod_listed '^oobbpf ' lsmod

vt_require modprobe_dummy modprobe dummy numdummies=0
vt_require modprobe_veth modprobe veth
vt_require modprobe_8021q modprobe 8021q
vt_check dummy_add ip link add dum0 type dummy
vt_check vlan_add ip link add link dum0 name dum0.42 type vlan id 42

# The guest's verifier (6.1) must accept what the host's clang built.
mkdir -p $pin
vt_require xdp_prog_load bpftool prog load "$obj" $pin/prog type xdp pinmaps $pin/maps
ip link add va type veth peer name vb
ip addr add 10.0.0.1/24 dev va
ip addr add 10.0.0.2/24 dev vb
ip link set va up
ip link set vb up
vt_require xdp_attach ip link set dev va xdp pinned $pin/prog
vt_match xdp_attached 'prog/xdp id [0-9]+ name oob_xdp' ip -d link show dev va
vt_match xdp_bpftool_net 'va\([0-9]+\) (driver|generic) id [0-9]+' bpftool net show dev va

# Frames from vb reach va's XDP program: no diversion record there, so each is counted as PASS
# with reason NO_DEV and recorded in the per-CPU oob_last.
seen() {
	bpftool -j map dump pinned $pin/maps/oob_last | grep -o '"seq":[0-9]*' | cut -d: -f2 |
		awk '{ s += $1 } END { exit !(s > 0) }'
}
ping -c 2 -W 2 10.0.0.1 >/dev/null 2>&1
vt_check xdp_judged_frames seen
vt_check xdp_detach ip link set dev va xdp off
rm -rf $pin

vt_mark
vt_check kmod_rmmod rmmod oobbpf
vt_match kmod_unloaded_msg 'oobbpf: unloaded' vt_dmesg
vt_check_fails kmod_gone grep -q '^oobbpf ' /proc/modules
