// SPDX-License-Identifier: MIT
#include "metrics.h"

#include "error.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

namespace oobbpf {

namespace {

// Label values are quoted; backslash, quote and newline escaped.
std::string esc(const std::string &s) {
    std::string o;
    for (char c : s) {
        if (c == '\\' || c == '"')
            o += '\\';
        if (c == '\n') {
            o += "\\n";
            continue;
        }
        o += c;
    }
    return o;
}

}  // namespace

const char *verdict_label(uint32_t v) {
    static const char *const n[OOB_VERDICT_MAX] = {"pass", "divert", "drop", "skip"};
    return v < OOB_VERDICT_MAX ? n[v] : "unknown";
}

const char *reason_label(uint32_t r) {
    static const char *const names[OOB_REASON_MAX] = {
        "none",        "no-dev",      "no-port",     "vlan-not-oob",  "control",
        "trunc-eth",   "trunc-vlan",  "vlan-depth",  "trunc-ip4",     "bad-ip4-hdr",
        "bad-ip4-len", "trunc-ip6",   "bad-ip6-len", "ip6-ext-limit", "trunc-l4",
        "bad-l4-len",  "fragment",    "not-ip",      "vlan-member",   "rule",
        "selector",    "default",     "no-xsk",      "bad-vid",       "selector-err",
        "bad-ip6-hdr",
    };
    return r < OOB_REASON_MAX && names[r] ? names[r] : "unknown";
}

std::string prometheus_text(const std::vector<PortCounters> &ports,
                            const std::vector<RuleCounters> &rules) {
    std::string o;
    char line[512];
    o += "# HELP oobbpf_frames_total Frames judged by the classifier, by port and final verdict.\n";
    o += "# TYPE oobbpf_frames_total counter\n";
    for (const auto &p : ports)
        for (uint32_t v = 0; v < OOB_VERDICT_MAX; v++) {
            snprintf(line, sizeof(line), "oobbpf_frames_total{port=\"%s\",verdict=\"%s\"} %llu\n",
                     esc(p.port).c_str(), verdict_label(v),
                     static_cast<unsigned long long>(p.stats.verdict_packets[v]));
            o += line;
        }
    o += "# HELP oobbpf_bytes_total Bytes judged by the classifier, by port and final verdict.\n";
    o += "# TYPE oobbpf_bytes_total counter\n";
    for (const auto &p : ports)
        for (uint32_t v = 0; v < OOB_VERDICT_MAX; v++) {
            snprintf(line, sizeof(line), "oobbpf_bytes_total{port=\"%s\",verdict=\"%s\"} %llu\n",
                     esc(p.port).c_str(), verdict_label(v),
                     static_cast<unsigned long long>(p.stats.verdict_bytes[v]));
            o += line;
        }
    o += "# HELP oobbpf_reason_total Frames by the reason of their verdict.\n";
    o += "# TYPE oobbpf_reason_total counter\n";
    for (const auto &p : ports)
        for (uint32_t r = 0; r < OOB_REASON_MAX; r++) {
            if (!p.stats.reason[r])
                continue;
            snprintf(line, sizeof(line), "oobbpf_reason_total{port=\"%s\",reason=\"%s\"} %llu\n",
                     esc(p.port).c_str(), reason_label(r),
                     static_cast<unsigned long long>(p.stats.reason[r]));
            o += line;
        }
    o += "# HELP oobbpf_rule_frames_total Frames a flow rule decided.\n";
    o += "# TYPE oobbpf_rule_frames_total counter\n";
    for (const auto &r : rules) {
        snprintf(line, sizeof(line), "oobbpf_rule_frames_total{rule_id=\"%u\",rule=\"%s\"} %llu\n",
                 r.rule_id, esc(r.rule).c_str(), static_cast<unsigned long long>(r.stats.packets));
        o += line;
    }
    o += "# HELP oobbpf_rule_bytes_total Bytes a flow rule decided.\n";
    o += "# TYPE oobbpf_rule_bytes_total counter\n";
    for (const auto &r : rules) {
        snprintf(line, sizeof(line), "oobbpf_rule_bytes_total{rule_id=\"%u\",rule=\"%s\"} %llu\n",
                 r.rule_id, esc(r.rule).c_str(), static_cast<unsigned long long>(r.stats.bytes));
        o += line;
    }
    return o;
}

void write_file_atomic(const std::string &path, const std::string &text) {
    const std::string tmp = path + ".tmp";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        throw sys_error("create " + tmp, errno);
    size_t off = 0;
    while (off < text.size()) {
        ssize_t n = write(fd, text.data() + off, text.size() - off);
        if (n < 0) {
            int e = errno;
            close(fd);
            throw sys_error("write " + tmp, e);
        }
        off += static_cast<size_t>(n);
    }
    if (fsync(fd) != 0) {
        int e = errno;
        close(fd);
        throw sys_error("fsync " + tmp, e);
    }
    close(fd);
    if (rename(tmp.c_str(), path.c_str()) != 0)
        throw sys_error("rename " + tmp + " to " + path, errno);
}

}  // namespace oobbpf
