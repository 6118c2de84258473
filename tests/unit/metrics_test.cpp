// SPDX-License-Identifier: MIT
#include "error.h"
#include "metrics.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace oobbpf;

TEST(Metrics, PrometheusTextHasStableNamesAndEscapedLabels) {
    PortCounters p;
    p.port_id = 1;
    p.port = "eth0";
    p.stats.verdict_packets[OOB_DIVERT] = 7;
    p.stats.verdict_bytes[OOB_DIVERT] = 700;
    p.stats.reason[OOB_R_RULE] = 7;
    RuleCounters r;
    r.rule_id = 3;
    r.rule = "udp dport 7000 action \"divert\"";
    r.stats.packets = 7;
    std::string t = prometheus_text({p}, {r});
    EXPECT_NE(t.find("oobbpf_frames_total{port=\"eth0\",verdict=\"divert\"} 7\n"), std::string::npos);
    EXPECT_NE(t.find("oobbpf_bytes_total{port=\"eth0\",verdict=\"divert\"} 700\n"), std::string::npos);
    EXPECT_NE(t.find("oobbpf_reason_total{port=\"eth0\",reason=\"rule\"} 7\n"), std::string::npos);
    EXPECT_EQ(t.find("reason=\"no-xsk\""), std::string::npos) << "zero reasons are left out";
    EXPECT_NE(t.find("rule=\"udp dport 7000 action \\\"divert\\\"\"} 7"), std::string::npos);
    EXPECT_NE(t.find("# TYPE oobbpf_frames_total counter"), std::string::npos);
}

TEST(Metrics, AtomicWriteReplacesTheFile) {
    std::string path = ::testing::TempDir() + "oobbpf-metrics.prom";
    write_file_atomic(path, "a 1\n");
    write_file_atomic(path, "b 2\n");
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_EQ(ss.str(), "b 2\n");
    EXPECT_THROW(write_file_atomic("/nonexistent-dir/x.prom", "x"), Error);
}
