// SPDX-License-Identifier: MIT
// The C++ back-end of the classifier core: the same header-only core (include/oobbpf/classify.h)
// that runs in XDP and in the kernel module, here over plain containers and a byte buffer.
// Used by the daemon's tests and by differential testing against the XDP program.
#pragma once

#include "tables.h"

#include <cstring>
#include <functional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace oobbpf {

// Hash and equality over the bytes of an ABI key (they have explicit padding, no holes).
template <class T>
struct BytesHash {
    size_t operator()(const T &t) const {
        return std::hash<std::string_view>()(
            std::string_view(reinterpret_cast<const char *>(&t), sizeof(T)));
    }
};
template <class T>
struct BytesEq {
    bool operator()(const T &a, const T &b) const { return std::memcmp(&a, &b, sizeof(T)) == 0; }
};
template <class K, class V>
using AbiMap = std::unordered_map<K, V, BytesHash<K>, BytesEq<K>>;

// What the classifier did with one frame.
struct Judgement {
    uint32_t verdict = OOB_PASS;  // final, after the action (DIVERT without socket is PASS)
    uint32_t reason = OOB_R_NONE;
    uint32_t rule_id = 0;
    uint32_t port_id = 0;
    int xdp_action = 2;  // XDP_PASS
};

class SoftTables : public Tables {
public:
    SoftTables();
    void set_config(const oob_config &c) override { config_ = c; }
    oob_config config() const override { return config_; }
    void put_dev(uint32_t ifindex, const oob_dev &d) override { devs_[ifindex] = d; }
    void del_dev(uint32_t ifindex) override { devs_.erase(ifindex); }
    void put_port(const oob_port_key &k, const oob_port &p) override { ports_[k] = p; }
    void del_port(const oob_port_key &k) override { ports_.erase(k); }
    void put_vlan(const oob_vlan_key &k, const oob_vlan &v) override { vlans_[k] = v; }
    void del_vlan(const oob_vlan_key &k) override { vlans_.erase(k); }
    void put_rule(const oob_rule_key &k, const oob_rule_val &v) override { rules_[k] = v; }
    void del_rule(const oob_rule_key &k) override { rules_.erase(k); }
    std::vector<oob_rule_key> rule_keys() const override;
    void set_masks(uint32_t gen, const oob_rule_masks &m) override { masks_[gen & 1] = m; }
    oob_port_stats port_stats(uint32_t port_id) const override;
    oob_rule_stats rule_stats(uint32_t rule_id) const override;

    // XSKMAP occupancy: slot = device slot * OOB_MAX_QUEUES + queue.
    void set_xsk(uint32_t slot, bool present);

    // Judge one frame as the XDP program would (custom selectors aside: a device with a selector
    // gets the default verdict here), count it, and return what happened.
    Judgement classify(const uint8_t *frame, size_t len, uint32_t ifindex, uint32_t rx_queue);
    const oob_last &last() const { return last_; }

    // Adapters for the core (public so the core's free functions can reach them).
    const oob_dev *find_dev(uint32_t i) const;
    const oob_port *find_port(const oob_port_key &k) const;
    const oob_vlan *find_vlan(const oob_vlan_key &k) const;
    const oob_rule_val *find_rule(const oob_rule_key &k) const;
    const oob_rule_masks *masks(uint32_t gen) const { return &masks_[gen & 1]; }
    const oob_config *config_ptr() const { return &config_; }

private:
    oob_config config_{};
    std::unordered_map<uint32_t, oob_dev> devs_;
    AbiMap<oob_port_key, oob_port> ports_;
    AbiMap<oob_vlan_key, oob_vlan> vlans_;
    AbiMap<oob_rule_key, oob_rule_val> rules_;
    oob_rule_masks masks_[2]{};
    std::vector<oob_port_stats> port_stats_;
    std::vector<oob_rule_stats> rule_stats_;
    std::unordered_set<uint32_t> xsks_;
    oob_last last_{};
};

}  // namespace oobbpf
