// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The learned-route and neighbour maps in the layouts of oobbpf/abi.h, with BTF, for the kmod
 * VM tests: oobbpf-kmodctl creates them from this object (nothing is loaded) and hands them to
 * the module, and bpftool prints their entries field by field.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <oobbpf/abi.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OOB_MAX_ROUTES);
	__type(key, struct oob_route_key);
	__type(value, struct oob_route);
} oob_routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, OOB_MAX_NEIGHS);
	__type(key, struct oob_neigh_key);
	__type(value, struct oob_neigh);
} oob_neighs SEC(".maps");

char LICENSE[] SEC("license") = "Dual BSD/GPL";
