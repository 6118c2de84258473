// SPDX-License-Identifier: MIT
// Every ABI struct's size and member offsets, as the C++ compiler sees them, against the BTF the
// BPF objects carry (clang -target bpf). Built a second time with OOBBPF_LAYOUT_SKEW, which
// shifts a member in the C++ view only; that build must fail (CTest WILL_FAIL).
#include <oobbpf/abi.h>
#include <oobbpf/kmod_ioctl.h>
#include <oobbpf/learn.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "oob_xdp.skel.h"

namespace {

struct Member {
    std::string name;
    size_t offset;
};
struct Layout {
    size_t size;
    std::vector<Member> members;
};

#define M(type, m) Member{#m, offsetof(struct type, m)}
#define S(type, ...) {#type, Layout{sizeof(struct type), {__VA_ARGS__}}}

const std::map<std::string, Layout> &cxx_layouts() {
    static const std::map<std::string, Layout> l = {
        S(oob_dev, M(oob_dev, flags), M(oob_dev, slot), M(oob_dev, port_id), M(oob_dev, pad)),
        S(oob_port_key, M(oob_port_key, ifindex), M(oob_port_key, vid), M(oob_port_key, pad)),
        S(oob_port, M(oob_port, port_id), M(oob_port, flags), M(oob_port, ifindex),
          M(oob_port, lower_ifindex), M(oob_port, vid), M(oob_port, pad), M(oob_port, pad2)),
        S(oob_vlan_key, M(oob_vlan_key, ifindex), M(oob_vlan_key, vid), M(oob_vlan_key, pad)),
        S(oob_vlan, M(oob_vlan, flags), M(oob_vlan, port_id)),
        S(oob_rule_key, M(oob_rule_key, ifindex), M(oob_rule_key, vid), M(oob_rule_key, l3proto),
          M(oob_rule_key, l4proto), M(oob_rule_key, dscp), M(oob_rule_key, flags),
          M(oob_rule_key, tuple), M(oob_rule_key, sport), M(oob_rule_key, dport),
          M(oob_rule_key, src), M(oob_rule_key, dst)),
        S(oob_rule_val, M(oob_rule_val, rule_id), M(oob_rule_val, prio), M(oob_rule_val, action),
          M(oob_rule_val, pad)),
        S(oob_rule_masks, M(oob_rule_masks, count), M(oob_rule_masks, pad),
          M(oob_rule_masks, best_prio), M(oob_rule_masks, mask), M(oob_rule_masks, head_mask),
          M(oob_rule_masks, head_val)),
        S(oob_rule_stats, M(oob_rule_stats, packets), M(oob_rule_stats, bytes)),
        S(oob_port_stats, M(oob_port_stats, verdict_packets), M(oob_port_stats, verdict_bytes),
          M(oob_port_stats, reason)),
        S(oob_last, M(oob_last, verdict), M(oob_last, reason), M(oob_last, rule_id),
          M(oob_last, port_id), M(oob_last, ifindex), M(oob_last, queue), M(oob_last, slot),
          M(oob_last, len), M(oob_last, dev_flags), M(oob_last, pad), M(oob_last, seq)),
        S(oob_tap_hdr, M(oob_tap_hdr, ts_ns), M(oob_tap_hdr, ifindex), M(oob_tap_hdr, queue),
          M(oob_tap_hdr, verdict), M(oob_tap_hdr, reason), M(oob_tap_hdr, rule_id),
          M(oob_tap_hdr, port_id), M(oob_tap_hdr, len), M(oob_tap_hdr, caplen),
          M(oob_tap_hdr, dir), M(oob_tap_hdr, pad)),
        S(oob_tap_sess, M(oob_tap_sess, ifindex), M(oob_tap_sess, verdicts), M(oob_tap_sess, flags),
          M(oob_tap_sess, pad), M(oob_tap_sess, lost), M(oob_tap_sess, copied)),
        S(oob_tap_tx_meta, M(oob_tap_tx_meta, ifindex), M(oob_tap_tx_meta, queue),
          M(oob_tap_tx_meta, port_id), M(oob_tap_tx_meta, pad)),
        S(oob_config, M(oob_config, magic), M(oob_config, version), M(oob_config, rule_gen),
          M(oob_config, flags), M(oob_config, pad)),
        S(oob_xsk_reg, M(oob_xsk_reg, ifindex), M(oob_xsk_reg, queue), M(oob_xsk_reg, pid),
          M(oob_xsk_reg, flags), M(oob_xsk_reg, registered_ns)),
        S(oob_xdp_meta, M(oob_xdp_meta, classified_ns), M(oob_xdp_meta, rule_id),
          M(oob_xdp_meta, reason), M(oob_xdp_meta, port_id)),
        S(oob_route_key, M(oob_route_key, netns), M(oob_route_key, oif), M(oob_route_key, mark),
          M(oob_route_key, family), M(oob_route_key, tos), M(oob_route_key, pad),
          M(oob_route_key, dst), M(oob_route_key, src)),
        S(oob_route, M(oob_route, oif), M(oob_route, lower_ifindex), M(oob_route, vid),
          M(oob_route, family), M(oob_route, pad), M(oob_route, flags), M(oob_route, table),
          M(oob_route, mtu), M(oob_route, gw), M(oob_route, prefsrc), M(oob_route, learned_ns),
          M(oob_route, seq), M(oob_route, pad2)),
        S(oob_neigh_key, M(oob_neigh_key, ifindex), M(oob_neigh_key, family),
          M(oob_neigh_key, pad), M(oob_neigh_key, addr)),
        S(oob_neigh, M(oob_neigh, mac), M(oob_neigh, state), M(oob_neigh, updated_ns),
          M(oob_neigh, seq), M(oob_neigh, pad)),
        // learn.h
        S(oob_cache_state, M(oob_cache_state, magic), M(oob_cache_state, version),
          M(oob_cache_state, route_slots), M(oob_cache_state, neigh_slots),
          M(oob_cache_state, route_gen), M(oob_cache_state, neigh_gen),
          M(oob_cache_state, writer_pid), M(oob_cache_state, netns), M(oob_cache_state, pad)),
        S(oob_route_slot, M(oob_route_slot, seq), M(oob_route_slot, state),
          M(oob_route_slot, key), M(oob_route_slot, route)),
        S(oob_neigh_slot, M(oob_neigh_slot, seq), M(oob_neigh_slot, state),
          M(oob_neigh_slot, key), M(oob_neigh_slot, neigh), M(oob_neigh_slot, pad)),
        S(oob_learn_event, M(oob_learn_event, key), M(oob_learn_event, nh_ifindex),
          M(oob_learn_event, table), M(oob_learn_event, ts_ns)),
        // kmod_ioctl.h
        S(oobk_maps, M(oobk_maps, size), M(oobk_maps, version), M(oobk_maps, abi_version),
          M(oobk_maps, flags), M(oobk_maps, fd), M(oobk_maps, bad_role), M(oobk_maps, pad)),
        S(oobk_info, M(oobk_info, size), M(oobk_info, version), M(oobk_info, abi_version),
          M(oobk_info, flags), M(oobk_info, maps), M(oobk_info, rx_ports),
          M(oobk_info, routes_learned), M(oobk_info, routes_failed), M(oobk_info, learn_dropped),
          M(oobk_info, neighs_updated), M(oobk_info, neighs_removed), M(oobk_info, purged),
          M(oobk_info, rx_frames), M(oobk_info, rx_diverted)),
        S(oobk_port_req, M(oobk_port_req, size), M(oobk_port_req, version),
          M(oobk_port_req, ifindex), M(oobk_port_req, flags)),
    };
    return l;
}

// Compare every ABI struct found in btf; returns how many were found.
size_t compare(const btf *b, const std::string &origin) {
    size_t found = 0;
    for (const auto &[name, want] : cxx_layouts()) {
        int id = btf__find_by_name_kind(b, name.c_str(), BTF_KIND_STRUCT);
        if (id < 0)
            continue;
        found++;
        SCOPED_TRACE(origin + ": struct " + name);
        const btf_type *t = btf__type_by_id(b, static_cast<__u32>(id));
        EXPECT_EQ(t->size, want.size) << "size differs";
        const btf_member *m = btf_members(t);
        std::map<std::string, size_t> btf_members_by_name;
        for (unsigned i = 0; i < btf_vlen(t); i++)
            btf_members_by_name[btf__name_by_offset(b, m[i].name_off)] =
                btf_member_bit_offset(t, i) / 8;
        for (const auto &mem : want.members) {
            auto it = btf_members_by_name.find(mem.name);
            if (it == btf_members_by_name.end()) {
                ADD_FAILURE() << "member " << mem.name << " missing from BTF";
                continue;
            }
            EXPECT_EQ(it->second, mem.offset) << "offset of " << mem.name << " differs";
        }
        EXPECT_EQ(btf_members_by_name.size(), want.members.size())
            << "BTF has members the C++ table does not list";
    }
    return found;
}

TEST(Layout, AnchorCarriesEveryAbiStructAndAllMatch) {
    const char *build = getenv("OOBBPF_BUILD");
    ASSERT_NE(build, nullptr);
    std::string path = std::string(build) + "/bpf/abi_anchor.bpf.o";
    btf *b = btf__parse(path.c_str(), nullptr);
    ASSERT_NE(b, nullptr) << "cannot read BTF of " << path;
    EXPECT_EQ(compare(b, "abi_anchor.bpf.o"), cxx_layouts().size())
        << "the anchor lacks an ABI struct";
    btf__free(b);
}

TEST(Layout, EmbeddedClassifierMatches) {
    size_t sz = 0;
    const void *elf = oob_xdp__elf_bytes(&sz);
    bpf_object *obj = bpf_object__open_mem(elf, sz, nullptr);
    ASSERT_NE(obj, nullptr);
    // Every struct of the maps' keys and values is in the classifier's own BTF.
    EXPECT_GE(compare(bpf_object__btf(obj), "oob_xdp (embedded)"), 10u);
    bpf_object__close(obj);
}

}  // namespace
