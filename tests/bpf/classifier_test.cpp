// SPDX-License-Identifier: MIT
// The classifier's fixture table: every parse path, port/VLAN case and action, with at least 30
// malformed or unusual frames, run through the XDP program (BPF_PROG_TEST_RUN) and through the
// C++ back-end of the same core. For each frame the verdict, reason, rule and port are checked
// (read from the per-CPU last-verdict record: DIVERT without a socket and PASS look alike as XDP
// actions), then the per-port and per-rule counters of both against what the table implies.
#include "bpf_tables.h"
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
#include <sys/mman.h>
#include <xdp/xsk.h>

#include <map>
#include <memory>

#include "oob_xdp.skel.h"

using namespace oobbpf;
using namespace oobbpf::test;

namespace {

constexpr int kXdpDrop = 1, kXdpPass = 2, kXdpRedirect = 4;

int expected_xdp_action(uint32_t verdict) {
    return verdict == OOB_DIVERT ? kXdpRedirect : verdict == OOB_DROP ? kXdpDrop : kXdpPass;
}

struct SkelDeleter {
    void operator()(oob_xdp *s) const { oob_xdp__destroy(s); }
};

// An AF_XDP socket bound to queue 0 of a device, for the XSKMAP (copy mode, no program of
// libxdp's own: the classifier is ours).
struct Xsk {
    void *area = nullptr;
    size_t size = 0;
    xsk_umem *umem = nullptr;
    xsk_socket *sock = nullptr;
    xsk_ring_prod fill{}, tx{};
    xsk_ring_cons comp{}, rx{};
    ~Xsk() {
        if (sock)
            xsk_socket__delete(sock);
        if (umem)
            xsk_umem__delete(umem);
        if (area)
            munmap(area, size);
    }
};

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

        skel_.reset(oob_xdp__open_and_load());
        ASSERT_TRUE(skel_) << "loading the classifier failed";
        auto *m = &skel_->maps;
        fds_.config = bpf_map__fd(m->oob_config);
        fds_.devs = bpf_map__fd(m->oob_devs);
        fds_.ports = bpf_map__fd(m->oob_ports);
        fds_.vlans = bpf_map__fd(m->oob_vlans);
        fds_.rules = bpf_map__fd(m->oob_rules);
        fds_.rule_masks = bpf_map__fd(m->oob_rule_masks);
        fds_.rule_stats = bpf_map__fd(m->oob_rule_stats);
        fds_.port_stats = bpf_map__fd(m->oob_port_stats);
        fds_.last = bpf_map__fd(m->oob_last);
        fds_.xsks = bpf_map__fd(m->oob_xsks);
        bpf_ = std::make_unique<BpfTables>(fds_);
        configure(*bpf_);
        configure(soft_);
        open_xsk();
    }

    void configure(Tables &t) { configure_fixture(t, ifindex_); }

    void open_xsk() {
        xsk_.size = 4096 * 64;
        xsk_.area = mmap(nullptr, xsk_.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
        ASSERT_NE(xsk_.area, MAP_FAILED);
        ASSERT_EQ(xsk_umem__create(&xsk_.umem, xsk_.area, xsk_.size, &xsk_.fill, &xsk_.comp,
                                   nullptr),
                  0);
        xsk_socket_config cfg{};
        cfg.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS;
        cfg.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS;
        cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
        cfg.bind_flags = XDP_COPY;
        ASSERT_EQ(xsk_socket__create(&xsk_.sock, devs_[0].c_str(), 0, xsk_.umem, &xsk_.rx, &xsk_.tx,
                                     &cfg),
                  0);
        uint32_t slot = 0 * OOB_MAX_QUEUES + 0;
        int sfd = xsk_socket__fd(xsk_.sock);
        ASSERT_EQ(bpf_map_update_elem(fds_.xsks, &slot, &sfd, BPF_ANY), 0);
        soft_.set_xsk(slot, true);
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
        int rc = bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.oob_xdp), &opts);
        EXPECT_EQ(rc, 0) << c.what << ": test run failed: " << strerror(errno);
        last = bpf_->last(0);
        return static_cast<int>(opts.retval);
    }

    static inline Netns *ns_ = nullptr, *other_ = nullptr;
    static inline int home_ = -1;
    static inline std::vector<std::string> devs_;
    static inline uint32_t ifindex_[3] = {};
    std::unique_ptr<oob_xdp, SkelDeleter> skel_;
    MapFds fds_;
    std::unique_ptr<BpfTables> bpf_;
    SoftTables soft_;
    Xsk xsk_;
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
