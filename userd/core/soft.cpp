// SPDX-License-Identifier: MIT
#include "soft.h"

namespace {

// The frame adapters of the core: a plain buffer with bounds checks.
struct oob_buf {
    const uint8_t *data;
    uint32_t len;
};

}  // namespace

#define OOB_CTX const oob_buf *
#define OOB_ENV const oobbpf::SoftTables *

static inline int oob_load(const oob_buf *b, __u32 off, void *dst, __u32 len) {
    if (off > b->len || len > b->len - off)
        return -1;
    std::memcpy(dst, b->data + off, len);
    return 0;
}
static inline __u32 oob_frame_len(const oob_buf *b) { return b->len; }
static inline const oob_dev *oob_env_dev(OOB_ENV e, __u32 i) { return e->find_dev(i); }
static inline const oob_port *oob_env_port(OOB_ENV e, const oob_port_key *k) {
    return e->find_port(*k);
}
static inline const oob_vlan *oob_env_vlan(OOB_ENV e, const oob_vlan_key *k) {
    return e->find_vlan(*k);
}
static inline const oob_config *oob_env_config(OOB_ENV e) { return e->config_ptr(); }
static inline const oob_rule_masks *oob_env_masks(OOB_ENV e, __u32 gen) { return e->masks(gen); }
static inline const oob_rule_val *oob_env_rule(OOB_ENV e, const oob_rule_key *k) {
    return e->find_rule(*k);
}

#include <oobbpf/classify.h>

namespace oobbpf {

SoftTables::SoftTables() : port_stats_(OOB_MAX_PORTS), rule_stats_(OOB_MAX_RULES) {}

std::vector<oob_rule_key> SoftTables::rule_keys() const {
    std::vector<oob_rule_key> keys;
    keys.reserve(rules_.size());
    for (const auto &[k, v] : rules_)
        keys.push_back(k);
    return keys;
}

oob_port_stats SoftTables::port_stats(uint32_t port_id) const {
    return port_id < port_stats_.size() ? port_stats_[port_id] : oob_port_stats{};
}

oob_rule_stats SoftTables::rule_stats(uint32_t rule_id) const {
    return rule_id < rule_stats_.size() ? rule_stats_[rule_id] : oob_rule_stats{};
}

void SoftTables::set_xsk(uint32_t slot, bool present) {
    if (present)
        xsks_.insert(slot);
    else
        xsks_.erase(slot);
}

const oob_dev *SoftTables::find_dev(uint32_t i) const {
    auto it = devs_.find(i);
    return it == devs_.end() ? nullptr : &it->second;
}
const oob_port *SoftTables::find_port(const oob_port_key &k) const {
    auto it = ports_.find(k);
    return it == ports_.end() ? nullptr : &it->second;
}
const oob_vlan *SoftTables::find_vlan(const oob_vlan_key &k) const {
    auto it = vlans_.find(k);
    return it == vlans_.end() ? nullptr : &it->second;
}
const oob_rule_val *SoftTables::find_rule(const oob_rule_key &k) const {
    auto it = rules_.find(k);
    return it == rules_.end() ? nullptr : &it->second;
}

Judgement SoftTables::classify(const uint8_t *frame, size_t len, uint32_t ifindex,
                               uint32_t rx_queue) {
    oob_buf buf{frame, static_cast<uint32_t>(len)};
    oob_pkt pkt{};
    oob_result res{};

    oob_judge(this, &buf, ifindex, &pkt, &res);
    const uint32_t xsk = res.slot * OOB_MAX_QUEUES + rx_queue;
    const bool present = res.verdict == OOB_DIVERT && rx_queue < OOB_MAX_QUEUES && xsks_.count(xsk);
    oob_settle(&res, present);

    last_.verdict = res.verdict;
    last_.reason = res.reason;
    last_.rule_id = res.rule_id;
    last_.port_id = res.port_id;
    last_.ifindex = ifindex;
    last_.queue = rx_queue;
    last_.slot = res.slot;
    last_.len = pkt.len;
    last_.dev_flags = res.dev_flags;
    last_.seq++;
    oob_account(res.port_id < port_stats_.size() ? &port_stats_[res.port_id] : nullptr,
                res.rule_id && res.rule_id < rule_stats_.size() ? &rule_stats_[res.rule_id]
                                                                : nullptr,
                res.verdict, res.reason, pkt.len);

    Judgement j;
    j.verdict = res.verdict;
    j.reason = res.reason;
    j.rule_id = res.rule_id;
    j.port_id = res.port_id;
    j.xdp_action = res.verdict == OOB_DIVERT ? 4 /* XDP_REDIRECT */
                   : res.verdict == OOB_DROP ? 1 /* XDP_DROP */
                                             : 2 /* XDP_PASS */;
    return j;
}

}  // namespace oobbpf
