// SPDX-License-Identifier: MIT
// Where a send's headers come from, and what happens when they cannot be known: route and
// neighbour misses (returned at once, or sent in-band; counted either way), soliciting the
// neighbour at setup time, and the learned maps taking precedence over netlink.
#include "env.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/neighbour.h>
#include <sys/stat.h>

#include <cstring>
#include <sstream>

namespace oobbpf::test {
namespace {

constexpr uint16_t kPort = 7000;
constexpr uint64_t kPromptNs = 50000000;  // a miss answers within 50 ms: no stall

oob::StackConfig config(const OobTopology &t, oob::MissPolicy miss) {
    oob::StackConfig cfg;
    cfg.dev = t.veth.b;
    cfg.pin_root = t.pin_root;
    cfg.miss = miss;
    return cfg;
}

oob::ChainRouteSource &chain(oob::Stack &s) {
    return dynamic_cast<oob::ChainRouteSource &>(s.routes());
}

const oob::RouteSourceStats &source_stats(oob::Stack &s, const std::string &name) {
    for (auto &st : chain(s).stats())
        if (st.name == name)
            return st;
    throw std::runtime_error("no route source " + name);
}

bool has_neigh(const Netns &ns, const std::string &ip, const std::string &dev) {
    return ns.sh("ip neigh show " + ip + " dev " + dev).out.find("lladdr") != std::string::npos;
}

TEST(LiboobMiss, RouteMissIsReturnedAtOnceAndCounted) {
    OOBBPF_REQUIRE_PRIVILEGE();
    OobTopology t({kPort});
    NetnsScope in(t.oob.name());
    const oob::Endpoint nowhere{oob::IpAddr::from("192.0.2.1"), 9};
    {
        oob::Stack stack(config(t, oob::MissPolicy::Error));
        auto sock = stack.udp(kPort);
        uint64_t t0 = oob::now_ns();
        EXPECT_EQ(sock->send_copy("x", 1, nowhere), -ENETUNREACH);
        EXPECT_LT(oob::now_ns() - t0, kPromptNs);
        EXPECT_EQ(sock->send_copy("x", 1, nowhere), -ENETUNREACH) << "the miss is remembered";
        EXPECT_EQ(sock->counters().route_misses, 2u);
        EXPECT_EQ(sock->counters().tx_errors, 2u);
        EXPECT_EQ(stack.counters().route_misses, 2u);
        EXPECT_EQ(stack.counters().tx_frames, 0u);
        EXPECT_EQ(source_stats(stack, "maps").route_misses, 1u) << "no learned maps here";
        EXPECT_EQ(source_stats(stack, "netlink").route_errors, 1u)
            << "the kernel was asked once; the second miss came from the miss cache";
    }

    // In-band, the kernel has no route either: the error comes back, counted as such.
    oob::Stack inband(config(t, oob::MissPolicy::InBand));
    auto s2 = inband.udp(kPort + 1);
    EXPECT_EQ(s2->send_copy("x", 1, nowhere), -ENETUNREACH);
    EXPECT_EQ(inband.counters().tx_inband_errors, 1u);
    EXPECT_EQ(s2->counters().tx_inband, 0u);
}

TEST(LiboobMiss, RouteThroughAnotherDeviceIsNotTheOobPath) {
    OOBBPF_REQUIRE_PRIVILEGE();
    OobTopology t({kPort});
    // A second device of the oob namespace, no oob port (a veth pair: no dummy module here).
    t.oob.sh_ok(
        "ip link add oobtx0 type veth peer name oobtx1 && ip addr add 10.99.0.1/24 dev "
        "oobtx0 && ip link set oobtx0 up && ip link set oobtx1 up");
    NetnsScope in(t.oob.name());
    const oob::Endpoint there{oob::IpAddr::from("10.99.0.5"), 9};
    {
        oob::Stack stack(config(t, oob::MissPolicy::Error));
        auto sock = stack.udp(kPort);
        EXPECT_EQ(sock->send_copy("x", 1, there), -EXDEV);
        EXPECT_EQ(sock->counters().other_dev, 1u);
    }
    oob::Stack stack(config(t, oob::MissPolicy::InBand));
    auto sock = stack.udp(kPort);
    EXPECT_EQ(sock->send_copy("x", 1, there), 0) << "the in-band stack takes it";
    EXPECT_EQ(sock->counters().tx_inband, 1u);
    EXPECT_EQ(stack.counters().tx_frames, 0u);
}

TEST(LiboobMiss, NeighbourMissThenSolicitAtSetup) {
    OOBBPF_REQUIRE_PRIVILEGE();
    OobTopology t({kPort});
    KernelUdp client(t.client.name(), OobTopology::kClientIp);
    ASSERT_FALSE(has_neigh(t.oob, OobTopology::kClientIp, t.veth.b)) << "a fresh namespace";
    NetnsScope in(t.oob.name());
    oob::Stack stack(config(t, oob::MissPolicy::Error));
    auto sock = stack.udp(kPort);
    const oob::Endpoint peer{oob::IpAddr::from(OobTopology::kClientIp), client.port()};

    uint64_t t0 = oob::now_ns();
    EXPECT_EQ(sock->send_copy("hello", 5, peer), -EHOSTUNREACH);
    EXPECT_LT(oob::now_ns() - t0, kPromptNs);
    EXPECT_EQ(sock->counters().neigh_misses, 1u);
    EXPECT_EQ(stack.counters().tx_frames, 0u);

    // Setup time: ask the in-band stack to resolve it, wait for the answer.
    EXPECT_EQ(stack.resolve(peer.addr, {}, oob::Deadline::after_ms(3000)), 0);
    EXPECT_EQ(stack.counters().solicits, 1u);
    EXPECT_TRUE(has_neigh(t.oob, OobTopology::kClientIp, t.veth.b));
    EXPECT_EQ(sock->send_copy("hello", 5, peer), 0);
    EXPECT_EQ(stack.counters().tx_frames, 1u) << "sent on the oob path";
    auto got = client.recv(1000);
    EXPECT_EQ(std::string(got.begin(), got.end()), "hello");
}

TEST(LiboobMiss, NeighbourMissGoesInBandThenOob) {
    OOBBPF_REQUIRE_PRIVILEGE();
    OobTopology t({kPort});
    KernelUdp client(t.client.name(), OobTopology::kClientIp);
    NetnsScope in(t.oob.name());
    oob::Stack stack(config(t, oob::MissPolicy::InBand));
    auto sock = stack.udp(kPort);
    const oob::Endpoint peer{oob::IpAddr::from(OobTopology::kClientIp), client.port()};

    EXPECT_EQ(sock->send_copy("first", 5, peer), 0);
    EXPECT_EQ(sock->counters().neigh_misses, 1u);
    EXPECT_EQ(sock->counters().tx_inband, 1u);
    EXPECT_EQ(stack.counters().tx_frames, 0u);
    std::string from;
    uint16_t from_port = 0;
    auto got = client.recv(2000, &from, &from_port);
    EXPECT_EQ(std::string(got.begin(), got.end()), "first") << "delivered by the in-band stack";
    EXPECT_EQ(from_port, kPort) << "from the same port: the in-band twin is bound to it";

    // The kernel resolved the neighbour while sending; the next send finds it.
    for (int i = 0; i < 200 && !has_neigh(t.oob, OobTopology::kClientIp, t.veth.b); i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    stack.forget_paths();
    EXPECT_EQ(sock->send_copy("second", 6, peer), 0);
    EXPECT_EQ(stack.counters().tx_frames, 1u) << "now on the oob path";
    EXPECT_EQ(sock->counters().tx_inband, 1u);
    got = client.recv(1000);
    EXPECT_EQ(std::string(got.begin(), got.end()), "second");
}

// The learned maps (as the learner pins them) are asked before netlink.
class MapSource : public ::testing::Test {
  protected:
    void SetUp() override {
        OOBBPF_REQUIRE_PRIVILEGE();
        t_ = std::make_unique<OobTopology>(std::vector<uint16_t>{kPort});
        maps_ = std::make_unique<LearnedMaps>(t_->pin_root, t_->oob.name());
    }
    void put_route(const char *dst, uint32_t seq) {
        maps_->put_route(dst, t_->oob_ifindex, t_->oob_ifindex, 0, OobTopology::kOobIp, seq);
    }
    void put_neigh(const char *addr, const uint8_t mac[6], uint32_t seq) {
        oob::Mac m;
        std::memcpy(m.data(), mac, 6);
        maps_->put_neigh(t_->oob_ifindex, addr, m, seq);
    }
    std::unique_ptr<OobTopology> t_;
    std::unique_ptr<LearnedMaps> maps_;
};

TEST_F(MapSource, LearnedEntriesBuildTheHeaders) {
    const uint8_t learned_mac[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
    put_route(OobTopology::kClientIp, 2);
    put_neigh(OobTopology::kClientIp, learned_mac, 2);
    const std::string pcap = "/tmp/" + unique_name("oobt") + ".pcap";
    Spawn cap(t_->client.name(), {"tcpdump", "-i", t_->veth.a, "--immediate-mode", "-U", "-w", pcap,
                                  "udp", "port", "9999"});
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    {
        NetnsScope in(t_->oob.name());
        oob::Stack stack(config(*t_, oob::MissPolicy::Error));
        auto sock = stack.udp(kPort);
        EXPECT_EQ(stack.route_source(), "maps+netlink");
        const oob::Endpoint peer{oob::IpAddr::from(OobTopology::kClientIp), 9999};
        ASSERT_EQ(sock->send_copy("learned", 7, peer), 0);
        EXPECT_EQ(source_stats(stack, "maps").route_hits, 1u);
        EXPECT_EQ(source_stats(stack, "maps").neigh_hits, 1u);
        EXPECT_EQ(source_stats(stack, "netlink").route_hits, 0u);
        EXPECT_EQ(source_stats(stack, "netlink").neigh_hits, 0u);

        // An entry being rewritten (odd seq) is not used: netlink answers instead, and the
        // in-band neighbour (resolved now) gives the real MAC.
        put_neigh(OobTopology::kClientIp, learned_mac, 3);
        stack.forget_paths();
        EXPECT_EQ(stack.resolve(peer.addr, {}, oob::Deadline::after_ms(3000)), 0);
        EXPECT_GE(source_stats(stack, "maps").neigh_misses, 1u);
        EXPECT_GE(source_stats(stack, "netlink").neigh_hits, 1u);
        ASSERT_EQ(sock->send_copy("kernel", 6, peer), 0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cap.stop();
    std::string out = sh_ok("tshark -r " + pcap + " -T fields -e eth.dst -e data.data 2>/dev/null");
    EXPECT_NE(out.find("02:aa:bb:cc:dd:ee\t6c6561726e6564"), std::string::npos)
        << "\"learned\" went to the learned MAC\n"
        << out;
    std::string mac = t_->client.sh_ok("ip -o link show " + t_->veth.a);
    std::string real = mac.substr(mac.find("link/ether ") + 11, 17);
    EXPECT_NE(out.find(real + "\t6b65726e656c"), std::string::npos)
        << "\"kernel\" went to the in-band neighbour's MAC " << real << "\n"
        << out;
    unlink(pcap.c_str());
}

}  // namespace
}  // namespace oobbpf::test
