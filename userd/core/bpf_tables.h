// SPDX-License-Identifier: MIT
// Tables backed by the classifier's BPF maps (by fd: from a skeleton or from pins).
#pragma once

#include "fd.h"
#include "tables.h"

#include <bpf/bpf.h>

#include <string>
#include <utility>

struct bpf_object;

namespace oobbpf {

// The classifier's maps, by fd. Not owning: the fds belong to a skeleton or a PinnedMaps.
struct MapFds {
    int config = -1, devs = -1, ports = -1, vlans = -1, rules = -1, rule_masks = -1,
        rule_stats = -1, port_stats = -1, last = -1, xsks = -1, xsk_regs = -1, selectors = -1;
};

class BpfTables : public Tables {
public:
    explicit BpfTables(const MapFds &fds) : fds_(fds) {}
    void set_config(const oob_config &c) override;
    oob_config config() const override;
    void put_dev(uint32_t ifindex, const oob_dev &d) override;
    void del_dev(uint32_t ifindex) override;
    void put_port(const oob_port_key &k, const oob_port &p) override;
    void del_port(const oob_port_key &k) override;
    void put_vlan(const oob_vlan_key &k, const oob_vlan &v) override;
    void del_vlan(const oob_vlan_key &k) override;
    void put_rule(const oob_rule_key &k, const oob_rule_val &v) override;
    void del_rule(const oob_rule_key &k) override;
    std::vector<oob_rule_key> rule_keys() const override;
    void set_masks(uint32_t gen, const oob_rule_masks &m) override;
    void quiesce() override;
    oob_port_stats port_stats(uint32_t port_id) const override;
    oob_rule_stats rule_stats(uint32_t rule_id) const override;

    // The last-verdict record of the given CPU.
    oob_last last(unsigned cpu) const;
    const MapFds &fds() const { return fds_; }

private:
    MapFds fds_;
};

// Every (key, value) of a hash or array map, by fd (entries that vanish mid-walk are skipped).
template <class K, class V>
std::vector<std::pair<K, V>> dump_map(int fd) {
    std::vector<std::pair<K, V>> out;
    K k{}, next{};
    const void *prev = nullptr;
    while (bpf_map_get_next_key(fd, prev, &next) == 0) {
        V v{};
        if (bpf_map_lookup_elem(fd, &next, &v) == 0)
            out.emplace_back(next, v);
        k = next;
        prev = &k;
    }
    return out;
}

// Number of possible CPUs (the per-CPU value count of per-CPU maps).
unsigned possible_cpus();

// Waits for an RCU grace period: every XDP program run that started before has finished.
void rcu_grace_period();

}  // namespace oobbpf
