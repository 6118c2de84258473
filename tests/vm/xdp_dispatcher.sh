# SPDX-License-Identifier: MIT
# Guest script: BPF trampolines work in the guest kernel (the host's kernel may lack them), so
# libxdp's multi-program dispatcher (freplace programs attached to xdp_dispatcher) can be tested
# here: two programs on one veth, shown by xdp-loader status, then unloaded.
# Files: /test/files/oob_xdp.bpf.o
libxdp=/usr/lib/x86_64-linux-gnu/bpf
modprobe veth
ip link add va type veth peer name vb
ip link set va up
ip link set vb up

vt_require xdp_loader_first xdp-loader load -m skb va $libxdp/xdpfilt_alw_all.o
# The classifier, as a dispatcher component (freplace): it is built with xdp.frags, which the
# dispatcher accepts on 6.1.
vt_require xdp_loader_second xdp-loader load -m skb va /test/files/oob_xdp.bpf.o
xdp-loader status va
vt_match xdp_dispatcher_status 'va +xdp_dispatcher +skb' xdp-loader status va
vt_match xdp_dispatcher_components '=> +[0-9]+ +oob_xdp' xdp-loader status va
vt_match xdp_freplace_progs '^[0-9]+: ext +name oob_xdp' bpftool prog show
vt_check xdp_loader_unload xdp-loader unload va --all
vt_match xdp_unloaded 'va +<No XDP program loaded!>' xdp-loader status va
