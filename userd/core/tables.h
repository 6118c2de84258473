// SPDX-License-Identifier: MIT
// The classifier's state as a set of tables, written through one interface whether they live in
// BPF maps (BpfTables) or in the C++ back-end of the classifier core (SoftTables). Differential
// tests configure both through it; the daemon writes the BPF maps through it.
#pragma once

#include <oobbpf/abi.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace oobbpf {

// A compiled rule set of one generation: its masks and its hash entries.
struct RuleSetImage {
    oob_rule_masks masks{};
    std::vector<std::pair<oob_rule_key, oob_rule_val>> entries;
};

class Tables {
public:
    virtual ~Tables() = default;
    virtual void set_config(const oob_config &c) = 0;
    virtual oob_config config() const = 0;
    virtual void put_dev(uint32_t ifindex, const oob_dev &d) = 0;
    virtual void del_dev(uint32_t ifindex) = 0;
    virtual void put_port(const oob_port_key &k, const oob_port &p) = 0;
    virtual void del_port(const oob_port_key &k) = 0;
    virtual void put_vlan(const oob_vlan_key &k, const oob_vlan &v) = 0;
    virtual void del_vlan(const oob_vlan_key &k) = 0;
    // Rule generations: write the inactive one, then flip.
    virtual void put_rule(const oob_rule_key &k, const oob_rule_val &v) = 0;
    virtual void del_rule(const oob_rule_key &k) = 0;
    virtual std::vector<oob_rule_key> rule_keys() const = 0;
    virtual void set_masks(uint32_t gen, const oob_rule_masks &m) = 0;
    // Waits until no frame can still be judged by the old generation (BPF: an RCU grace period).
    virtual void quiesce() {}
    // Statistics summed over CPUs.
    virtual oob_port_stats port_stats(uint32_t port_id) const = 0;
    virtual oob_rule_stats rule_stats(uint32_t rule_id) const = 0;
};

// Replace the active rule set with img, atomically as seen by the data path: the image is
// written into the inactive generation, the generation flipped, and after a grace period the
// old generation's entries are removed. A frame is judged by the old set or the new one.
void install_rules(Tables &t, const RuleSetImage &img);

}  // namespace oobbpf
