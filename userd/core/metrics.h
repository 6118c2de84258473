// SPDX-License-Identifier: MIT
// Counters in the Prometheus text exposition format (for node_exporter's textfile collector or
// an HTTP endpoint). Metric and label names are stable, like the verdict and reason names.
#pragma once

#include <oobbpf/abi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace oobbpf {

const char *verdict_label(uint32_t v);  // "pass", "divert", "drop", "skip"
const char *reason_label(uint32_t r);   // "rule", "no-xsk", ... (as `oobbpf stats` prints them)

struct PortCounters {
    uint32_t port_id = 0;
    std::string port;  // device name ("" for frames of no port)
    oob_port_stats stats{};
};
struct RuleCounters {
    uint32_t rule_id = 0;
    std::string rule;  // the rule in CLI form
    oob_rule_stats stats{};
};

// oobbpf_frames_total{port,verdict}, oobbpf_bytes_total{port,verdict},
// oobbpf_reason_total{port,reason}, oobbpf_rule_frames_total{rule_id,rule},
// oobbpf_rule_bytes_total{rule_id,rule}. Zero series of reasons are left out.
std::string prometheus_text(const std::vector<PortCounters> &ports,
                            const std::vector<RuleCounters> &rules);

// Writes text to path atomically (temp file, fsync, rename), as the textfile collector expects.
void write_file_atomic(const std::string &path, const std::string &text);

}  // namespace oobbpf
