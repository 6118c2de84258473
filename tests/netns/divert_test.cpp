// SPDX-License-Identifier: MIT
// Real traffic over veth: frames a rule diverts arrive on an AF_XDP socket, while ping, ARP and
// TCP on the same device keep working in-band, and counters say what happened.
#include "datapath.h"
#include "netns.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <thread>

using namespace oobbpf;
using namespace oobbpf::test;

namespace {

RuleSetImage divert_udp_dport(uint16_t port, uint32_t rule_id) {
    RuleSetImage img;
    oob_rule_key m{}, k{};
    m.flags = OOB_KF_FRAG;
    m.l4proto = 0xff;
    m.dport = 0xffff;
    k.l4proto = 17;
    k.dport = htons(port);
    img.masks.count = 1;
    img.masks.mask[0] = m;
    img.masks.best_prio[0] = 10;
    img.entries.push_back({k, oob_rule_val{rule_id, 10, OOB_DIVERT, 0}});
    return img;
}

bool carries_udp_dport(const Bytes &f, uint16_t port) {
    return f.size() >= 42 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 17 &&
           (f[36] << 8 | f[37]) == port;
}

}  // namespace

TEST(Divert, DivertedToAfXdpWhileInBandTrafficFlows) {
    OOBBPF_REQUIRE_PRIVILEGE();
    Netns oob, peer;
    Veth v = make_veth(oob, peer, "10.78.0.1/24", "10.78.0.2/24");
    const int ifindex = oob.ifindex(v.a);

    EnterNetns in(oob.name());
    Datapath dp;
    dp.tables().put_dev(static_cast<uint32_t>(ifindex),
                        oob_dev{OOB_DEV_DIVERT | OOB_DEV_PORT, 0, 1, 0});
    install_rules(dp.tables(), divert_udp_dport(7000, 1));
    dp.attach(ifindex);
    XskSocket xsk(v.a, 0);
    xsk.register_in(dp.fds(), 0);

    // In-band: ARP resolution and ping.
    peer.sh("ip neigh flush dev " + v.b);
    EXPECT_EQ(peer.sh("ping -c3 -i0.2 -W2 10.78.0.1").status, 0) << "ping broke";
    EXPECT_NE(peer.sh_ok("ip neigh show dev " + v.b).find("10.78.0.1"), std::string::npos);
    // In-band: TCP to a listener on the oob side.
    oob.sh("socat -T5 TCP-LISTEN:8080,reuseaddr OPEN:/dev/null >/dev/null 2>&1 &");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(peer.sh("echo hello | socat -T3 - TCP:10.78.0.1:8080").status, 0) << "TCP broke";

    // Out-of-band: 20 datagrams to the diverted port reach the socket, none reach the stack.
    oob.sh("socat -u UDP-RECV:7000 CREATE:/tmp/oobbpf-divert-" + v.a + " >/dev/null 2>&1 &");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    peer.sh_ok("for i in $(seq 20); do echo oob$i | socat -u - UDP:10.78.0.1:7000; done");
    auto frames = xsk.receive(1000, 64);
    size_t diverted = 0;
    for (const auto &f : frames)
        diverted += carries_udp_dport(f, 7000);
    EXPECT_EQ(diverted, 20u);
    EXPECT_EQ(sh("cat /tmp/oobbpf-divert-" + v.a + " 2>/dev/null").out, "")
        << "a diverted datagram reached the in-band socket";
    sh("rm -f /tmp/oobbpf-divert-" + v.a);

    // Counters agree: 20 diverted by rule 1 on port 1; ARP counted as control traffic.
    oob_port_stats ps = dp.tables().port_stats(1);
    EXPECT_EQ(ps.verdict_packets[OOB_DIVERT], 20u);
    EXPECT_EQ(ps.reason[OOB_R_RULE], 20u);
    EXPECT_GE(ps.reason[OOB_R_CONTROL], 1u);
    EXPECT_GE(ps.verdict_packets[OOB_PASS], 6u);  // pings, ARP, TCP
    EXPECT_EQ(dp.tables().rule_stats(1).packets, 20u);
}

TEST(Divert, NoSocketMeansInBandNeverLost) {
    OOBBPF_REQUIRE_PRIVILEGE();
    Netns oob, peer;
    Veth v = make_veth(oob, peer, "10.79.0.1/24", "10.79.0.2/24");
    const int ifindex = oob.ifindex(v.a);
    EnterNetns in(oob.name());
    Datapath dp;
    dp.tables().put_dev(static_cast<uint32_t>(ifindex),
                        oob_dev{OOB_DEV_DIVERT | OOB_DEV_PORT, 0, 1, 0});
    install_rules(dp.tables(), divert_udp_dport(7000, 1));
    dp.attach(ifindex);

    std::string out = "/tmp/oobbpf-nosock-" + v.a;
    oob.sh("socat -u UDP-RECV:7000 CREATE:" + out + " >/dev/null 2>&1 &");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    peer.sh_ok("for i in 1 2 3 4 5; do echo x | socat -u - UDP:10.79.0.1:7000; done");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(sh("wc -l < " + out).out, "5\n") << "datagrams lost instead of passed in-band";
    sh("rm -f " + out);
    oob_port_stats ps = dp.tables().port_stats(1);
    EXPECT_EQ(ps.reason[OOB_R_NO_XSK], 5u);
    EXPECT_EQ(ps.verdict_packets[OOB_DIVERT], 0u);
}
