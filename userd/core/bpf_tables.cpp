// SPDX-License-Identifier: MIT
#include "bpf_tables.h"

#include "error.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

namespace oobbpf {

namespace {

void update(int fd, const void *k, const void *v, const char *what) {
    if (bpf_map_update_elem(fd, k, v, BPF_ANY) < 0)
        throw sys_error(std::string("update map ") + what, errno);
}

void remove(int fd, const void *k, const char *what) {
    if (bpf_map_delete_elem(fd, k) < 0 && errno != ENOENT)
        throw sys_error(std::string("delete from map ") + what, errno);
}

template <class V>
std::vector<V> lookup_percpu(int fd, uint32_t key, const char *what) {
    std::vector<V> vals(possible_cpus());
    if (bpf_map_lookup_elem(fd, &key, vals.data()) < 0)
        throw sys_error(std::string("lookup in map ") + what, errno);
    return vals;
}

}  // namespace

unsigned possible_cpus() {
    static const unsigned n = [] {
        int r = libbpf_num_possible_cpus();
        return r > 0 ? static_cast<unsigned>(r) : 1U;
    }();
    return n;
}

void rcu_grace_period() {
    // MEMBARRIER_CMD_GLOBAL is implemented with synchronize_rcu(), and XDP programs run inside
    // RCU read-side sections: when it returns, no program run that started before is left.
    // It is refused on nohz_full kernels; there, a generous sleep stands in for it.
    if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0)
        return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

void BpfTables::set_config(const oob_config &c) {
    uint32_t zero = 0;
    update(fds_.config, &zero, &c, "oob_config");
}

oob_config BpfTables::config() const {
    uint32_t zero = 0;
    oob_config c{};
    if (bpf_map_lookup_elem(fds_.config, &zero, &c) < 0)
        throw sys_error("lookup in map oob_config", errno);
    return c;
}

void BpfTables::put_dev(uint32_t ifindex, const oob_dev &d) {
    update(fds_.devs, &ifindex, &d, "oob_devs");
}
void BpfTables::del_dev(uint32_t ifindex) { remove(fds_.devs, &ifindex, "oob_devs"); }
void BpfTables::put_port(const oob_port_key &k, const oob_port &p) {
    update(fds_.ports, &k, &p, "oob_ports");
}
void BpfTables::del_port(const oob_port_key &k) { remove(fds_.ports, &k, "oob_ports"); }
void BpfTables::put_vlan(const oob_vlan_key &k, const oob_vlan &v) {
    update(fds_.vlans, &k, &v, "oob_vlans");
}
void BpfTables::del_vlan(const oob_vlan_key &k) { remove(fds_.vlans, &k, "oob_vlans"); }
void BpfTables::put_rule(const oob_rule_key &k, const oob_rule_val &v) {
    update(fds_.rules, &k, &v, "oob_rules");
}
void BpfTables::del_rule(const oob_rule_key &k) { remove(fds_.rules, &k, "oob_rules"); }

std::vector<oob_rule_key> BpfTables::rule_keys() const {
    std::vector<oob_rule_key> keys;
    oob_rule_key k{}, next{};
    const void *prev = nullptr;
    while (bpf_map_get_next_key(fds_.rules, prev, &next) == 0) {
        keys.push_back(next);
        k = next;
        prev = &k;
    }
    return keys;
}

void BpfTables::set_masks(uint32_t gen, const oob_rule_masks &m) {
    gen &= 1;
    update(fds_.rule_masks, &gen, &m, "oob_rule_masks");
}

void BpfTables::quiesce() { rcu_grace_period(); }

oob_port_stats BpfTables::port_stats(uint32_t port_id) const {
    oob_port_stats sum{};
    for (const auto &s : lookup_percpu<oob_port_stats>(fds_.port_stats, port_id, "oob_port_stats")) {
        for (int i = 0; i < OOB_VERDICT_MAX; i++) {
            sum.verdict_packets[i] += s.verdict_packets[i];
            sum.verdict_bytes[i] += s.verdict_bytes[i];
        }
        for (int i = 0; i < OOB_REASON_MAX; i++)
            sum.reason[i] += s.reason[i];
    }
    return sum;
}

oob_rule_stats BpfTables::rule_stats(uint32_t rule_id) const {
    oob_rule_stats sum{};
    for (const auto &s : lookup_percpu<oob_rule_stats>(fds_.rule_stats, rule_id, "oob_rule_stats")) {
        sum.packets += s.packets;
        sum.bytes += s.bytes;
    }
    return sum;
}

oob_last BpfTables::last(unsigned cpu) const {
    auto v = lookup_percpu<oob_last>(fds_.last, 0, "oob_last");
    return cpu < v.size() ? v[cpu] : oob_last{};
}

}  // namespace oobbpf
