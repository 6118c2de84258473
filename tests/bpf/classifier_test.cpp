// SPDX-License-Identifier: MIT
// The classifier's fixture table: every parse path, port/VLAN case and action, with at least 30
// malformed or unusual frames, run through the XDP program (BPF_PROG_TEST_RUN) and through the
// C++ back-end of the same core. For each frame the verdict, reason, rule and port are checked
// (read from the per-CPU last-verdict record: DIVERT without a socket and PASS look alike as XDP
// actions), then the per-port and per-rule counters of both against what the table implies.
#include "bpf_tables.h"
#include "datapath.h"
#include "netns.h"
#include "packet.h"
#include "soft.h"
#include "fixture_table.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <sched.h>

#include <map>
#include <memory>


using namespace oobbpf;
using namespace oobbpf::test;

namespace {

constexpr int kXdpDrop = 1, kXdpPass = 2, kXdpRedirect = 4;

int expected_xdp_action(uint32_t verdict) {
    return verdict == OOB_DIVERT ? kXdpRedirect : verdict == OOB_DROP ? kXdpDrop : kXdpPass;
}

class ClassifierFixture : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!privileged())
            return;
        // The whole process moves into a throwaway namespace: BPF_PROG_TEST_RUN resolves the
        // ingress ifindex there, so the devices must exist.
        ns_ = new Netns();
        other_ = new Netns();
        for (int i = 0; i < 3; i++) {
            std::string a = unique_name("ot"), b = unique_name("ot");
            sh_ok("ip link add " + a + " netns " + ns_->name() +
                  " numrxqueues 4 numtxqueues 4 type veth peer name " + b + " netns " +
                  other_->name());
            ns_->sh_ok("ip link set " + a + " up");
            devs_.push_back(a);
            ifindex_[i] = static_cast<uint32_t>(ns_->ifindex(a));
        }
        home_ = open("/proc/self/ns/net", O_RDONLY);
        int fd = open(("/run/netns/" + ns_->name()).c_str(), O_RDONLY);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(setns(fd, CLONE_NEWNET), 0);
        close(fd);
    }
    static void TearDownTestSuite() {
        if (home_ >= 0) {
            setns(home_, CLONE_NEWNET);
            close(home_);
            home_ = -1;
        }
        delete ns_;
        delete other_;
        ns_ = other_ = nullptr;
    }

    void SetUp() override {
        OOBBPF_REQUIRE_PRIVILEGE();
        // Test runs execute on the CPU that asks: stay on CPU 0 and read its last record.
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(0, &set);
        ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0);

        dp_ = std::make_unique<Datapath>();
        configure_fixture(dp_->tables(), ifindex_);
        configure_fixture(soft_, ifindex_);
        // A real AF_XDP socket on A's queue 0, so DIVERT there is a real redirect.
        xsk_ = std::make_unique<XskSocket>(devs_[0], 0);
        xsk_->register_in(dp_->fds(), 0);
        soft_.set_xsk(0 * OOB_MAX_QUEUES + 0, true);
        bpf_ = &dp_->tables();
    }

    // One frame through BPF_PROG_TEST_RUN; returns the XDP action, fills the last record.
    int run_bpf(const Case &c, oob_last &last) {
        xdp_md ctx{};
        ctx.data_end = static_cast<uint32_t>(c.frame.size());
        ctx.ingress_ifindex = ifindex_[c.dev];
        ctx.rx_queue_index = c.queue;
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = c.frame.data(),
                    .data_size_in = static_cast<uint32_t>(c.frame.size()), .ctx_in = &ctx,
                    .ctx_size_in = sizeof(ctx));
        int rc = bpf_prog_test_run_opts(dp_->prog_fd(), &opts);
        EXPECT_EQ(rc, 0) << c.what << ": test run failed: " << strerror(errno);
        last = bpf_->last(0);
        return static_cast<int>(opts.retval);
    }

    static inline Netns *ns_ = nullptr, *other_ = nullptr;
    static inline int home_ = -1;
    static inline std::vector<std::string> devs_;
    static inline uint32_t ifindex_[3] = {};
    std::unique_ptr<Datapath> dp_;
    BpfTables *bpf_ = nullptr;
    SoftTables soft_;
    std::unique_ptr<XskSocket> xsk_;
};

TEST_F(ClassifierFixture, TableHasEnoughUnusualFrames) {
    size_t unusual = 0;
    for (const auto &c : fixture_cases())
        if (c.reason != OOB_R_RULE && c.reason != OOB_R_DEFAULT)
            unusual++;
    EXPECT_GE(unusual, 30u);
}

TEST_F(ClassifierFixture, EveryCaseSameInXdpAndCpp) {
    std::map<uint32_t, oob_port_stats> want_ports;
    std::map<uint32_t, oob_rule_stats> want_rules;
    uint64_t seq = bpf_->last(0).seq;

    for (const auto &c : fixture_cases()) {
        SCOPED_TRACE(c.what);
        oob_last last{};
        int act = run_bpf(c, last);
        EXPECT_EQ(last.seq, ++seq) << "the XDP program did not judge the frame";
        EXPECT_EQ(act, expected_xdp_action(c.verdict));
        EXPECT_EQ(last.verdict, c.verdict);
        EXPECT_EQ(last.reason, c.reason);
        EXPECT_EQ(last.rule_id, c.rule_id);
        EXPECT_EQ(last.port_id, c.port_id);
        EXPECT_EQ(last.len, c.frame.size());

        Judgement j = soft_.classify(c.frame.data(), c.frame.size(), ifindex_[c.dev], c.queue);
        EXPECT_EQ(j.xdp_action, expected_xdp_action(c.verdict));
        EXPECT_EQ(j.verdict, c.verdict);
        EXPECT_EQ(j.reason, c.reason);
        EXPECT_EQ(j.rule_id, c.rule_id);
        EXPECT_EQ(j.port_id, c.port_id);

        auto &p = want_ports[c.port_id];
        p.verdict_packets[c.verdict]++;
        p.verdict_bytes[c.verdict] += c.frame.size();
        p.reason[c.reason]++;
        if (c.rule_id) {
            want_rules[c.rule_id].packets++;
            want_rules[c.rule_id].bytes += c.frame.size();
        }
    }

    for (uint32_t port = 0; port < 8; port++) {
        SCOPED_TRACE("port " + std::to_string(port));
        oob_port_stats want = want_ports.count(port) ? want_ports[port] : oob_port_stats{};
        oob_port_stats got_bpf = bpf_->port_stats(port), got_soft = soft_.port_stats(port);
        EXPECT_EQ(memcmp(&want, &got_bpf, sizeof(want)), 0) << "XDP port counters differ";
        EXPECT_EQ(memcmp(&want, &got_soft, sizeof(want)), 0) << "C++ port counters differ";
    }
    for (uint32_t rule = 1; rule <= 5; rule++) {
        SCOPED_TRACE("rule " + std::to_string(rule));
        oob_rule_stats want = want_rules[rule];
        EXPECT_EQ(bpf_->rule_stats(rule).packets, want.packets);
        EXPECT_EQ(bpf_->rule_stats(rule).bytes, want.bytes);
        EXPECT_EQ(soft_.rule_stats(rule).packets, want.packets);
    }
}

// Replacing the rule set flips generations: the old set's entries are gone afterwards and the
// new one decides.
TEST_F(ClassifierFixture, RuleSetReplacementTakesEffect) {
    Case c{"udp 7000", 0, 0, udp4("10.0.0.1", "10.0.0.2", 1, 7000), 0, 0, 0, 0};
    oob_last last{};
    run_bpf(c, last);
    EXPECT_EQ(last.rule_id, 1u);
    install_rules(*bpf_, RuleSetImage{});
    run_bpf(c, last);
    EXPECT_EQ(last.rule_id, 0u);
    EXPECT_EQ(last.reason, static_cast<uint32_t>(OOB_R_DEFAULT));
    EXPECT_TRUE(bpf_->rule_keys().empty());
    install_rules(*bpf_, fixture_rules());
    run_bpf(c, last);
    EXPECT_EQ(last.rule_id, 1u);
    EXPECT_EQ(bpf_->rule_keys().size(), fixture_rules().entries.size());
}

}  // namespace
