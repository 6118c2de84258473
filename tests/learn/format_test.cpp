// SPDX-License-Identifier: MIT
// `oobbpf route resolve` grammar and its text/JSON output (no kernel needed).
#include "error.h"
#include "learner.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/neighbour.h>

using namespace oobbpf;
using namespace oobbpf::learn;

TEST(ResolveArgs, Grammar) {
    ResolveRequest r = parse_resolve_args({"10.9.0.9"});
    EXPECT_EQ(r.family, AF_INET);
    EXPECT_FALSE(r.src);
    EXPECT_EQ(r.mark, 0U);

    r = parse_resolve_args(
        {"10.9.0.9", "from", "10.42.0.1", "mark", "0x7", "tos", "16", "oif", "eth0.42"});
    ASSERT_TRUE(r.src);
    char b[INET6_ADDRSTRLEN];
    EXPECT_STREQ(inet_ntop(AF_INET, r.src->data(), b, sizeof(b)), "10.42.0.1");
    EXPECT_EQ(r.mark, 7U);
    EXPECT_EQ(r.tos, 16);
    EXPECT_EQ(r.oif, "eth0.42");

    r = parse_resolve_args({"fd00:9::9", "from", "fd00:1::1"});
    EXPECT_EQ(r.family, AF_INET6);

    for (const std::vector<std::string> &bad : std::vector<std::vector<std::string>>{
             {},
             {"nonsense"},
             {"10.9.0.9", "mark"},
             {"10.9.0.9", "mark", "x"},
             {"10.9.0.9", "mark", "-1"},
             {"10.9.0.9", "tos", "256"},
             {"10.9.0.9", "from", "fd00::1"},
             {"10.9.0.9", "via", "10.1.0.1"},
             {"10.9.0.9", "mark", "1", "mark", "2"},
         })
        EXPECT_THROW(parse_resolve_args(bad), Error) << ::testing::PrintToString(bad);
}

TEST(ResolveOutput, TextAndJsonFromOnePlace) {
    Resolved r;
    const uint32_t dst = htonl(0x0a090009), gw = htonl(0x0a2a0002), src = htonl(0x0a2a0001);
    r.key = route_key(4026531840U, AF_INET, &dst, nullptr, 7, 0x10, 0);
    r.route.oif = 5;
    r.route.lower_ifindex = 3;
    r.route.vid = 42;
    r.route.family = AF_INET;
    r.route.flags = OOB_ROUTE_GATEWAY | OOB_ROUTE_COMPLETE;
    r.route.table = 100;
    r.route.mtu = 1500;
    std::memcpy(r.route.gw, &gw, 4);
    std::memcpy(r.route.prefsrc, &src, 4);
    r.dev = "eth0.42";
    r.lower_dev = "eth0";
    r.nh = next_hop(r.key, r.route);
    oob_neigh n{};
    const uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
    std::memcpy(n.mac, mac, 6);
    n.state = NUD_REACHABLE;
    r.neigh = n;
    EXPECT_EQ(to_text(r),
              "10.9.0.9 mark 0x7 tos 0x10 via 10.42.0.2 dev eth0.42 lower eth0 vlan 42 src "
              "10.42.0.1 mtu 1500 table 100\n"
              "    neigh 10.42.0.2 lladdr 02:00:00:00:00:01 REACHABLE\n");
    nlohmann::json j = to_json(r);
    EXPECT_EQ(j["gateway"], "10.42.0.2");
    EXPECT_EQ(j["vlan"], 42);
    EXPECT_EQ(j["from"], nullptr);
    EXPECT_EQ(j["neigh"]["state"], "REACHABLE");

    r.neigh.reset();
    r.neigh_state = NUD_FAILED;
    EXPECT_NE(to_text(r).find("neigh 10.42.0.2 unresolved (FAILED)"), std::string::npos);
    EXPECT_EQ(to_json(r)["neigh"]["lladdr"], nullptr);
}
