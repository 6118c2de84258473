// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Seeds of fuzz_selector (tests/fuzz/corpus/selector/): small objects, one per stage of the
 * loader's checks, built by `ninja selector_seeds` (tests/fuzz/CMakeLists.txt) in variants:
 *   SEED_OK         a selector as the SDK makes one: ABI marker, xdp.frags, a map of its own and a
 *                   classifier map (oob_*), a subprogram in .text
 *   SEED_NO_MARKER  no oob_sdk_abi_version
 *   SEED_ABI_OLD    the marker of another ABI version
 *   SEED_NO_FRAGS   plain xdp
 *   SEED_TC         a tc program
 *   SEED_DEVMAP     XDP for devmaps
 *   SEED_TWO        two selectors (needs `section NAME`)
 *   SEED_NO_PROG    maps only
 * and x86.o beside them, an object for another machine (clang -c of any C file, stripped).
 * The real selectors (bpf/examples) are 40-50 KiB each: the classifier's parser is compiled in.
 * These keep the structure and leave out the bulk.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef SEED_NO_MARKER
#ifdef SEED_ABI_OLD
const volatile __u32 oob_sdk_abi_version = 102;
#else
const volatile __u32 oob_sdk_abi_version = 2;
#endif
#endif

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} oob_devs SEC(".maps");

static __attribute__((noinline)) int count(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&seen, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
	return bpf_map_lookup_elem(&oob_devs, &zero) ? 1 : 0;
}

#if defined(SEED_NO_FRAGS)
#define SEED_SEC "xdp"
#elif defined(SEED_TC)
#define SEED_SEC "tc"
#elif defined(SEED_DEVMAP)
#define SEED_SEC "xdp/devmap"
#else
#define SEED_SEC "xdp.frags"
#endif

#ifndef SEED_NO_PROG
SEC(SEED_SEC)
int seed_sel(void *ctx)
{
	return count() ? XDP_PASS : XDP_DROP;
}
#endif

#ifdef SEED_TWO
SEC("xdp.frags")
int seed_other(void *ctx)
{
	return XDP_PASS;
}
#endif

char LICENSE[] SEC("license") = "Dual BSD/GPL";
