// SPDX-License-Identifier: MIT
// Echo through the whole stack: a kernel UDP client in one namespace, the classifier on the
// other namespace's device diverting UDP to the oob port, liboob answering from user space.
#include "env.h"

#include <gtest/gtest.h>

namespace oobbpf::test {
namespace {

constexpr uint16_t kPort = 7000;

oob::StackConfig stack_config(const OobTopology &t) {
    oob::StackConfig cfg;
    cfg.dev = t.veth.b;
    cfg.queues = {0};
    cfg.pin_root = t.pin_root;
    cfg.xsk.frames = 4096;
    return cfg;
}

TEST(LiboobEcho, KernelClientGetsItsDatagramsBack) {
    OOBBPF_REQUIRE_PRIVILEGE();
    OobTopology t({kPort});
    OobEcho echo(t.oob.name(), stack_config(t), kPort);
    ASSERT_TRUE(echo.wait_ready()) << echo.error();

    KernelUdp client(t.client.name(), OobTopology::kClientIp);
    for (int i = 0; i < 100; i++) {
        std::vector<uint8_t> msg(64 + i);
        for (size_t j = 0; j < msg.size(); j++)
            msg[j] = static_cast<uint8_t>(i + j);
        ASSERT_TRUE(client.send(OobTopology::kOobIp, kPort, msg));
        std::string from;
        uint16_t from_port = 0;
        auto got = client.recv(1000, &from, &from_port);
        ASSERT_EQ(got, msg) << "round " << i;
        EXPECT_EQ(from, OobTopology::kOobIp);
        EXPECT_EQ(from_port, kPort);
    }
    echo.stop();
    EXPECT_EQ(echo.echoed(), 100u);
    auto sc = echo.stack_counters();
    EXPECT_EQ(sc.rx_delivered, 100u);
    EXPECT_EQ(sc.rx_meta, 100u) << "every diverted frame carries the classifier's stamp";
    EXPECT_EQ(sc.tx_frames, 100u);
    EXPECT_EQ(echo.socket_counters().rx_inband, 0u) << "nothing went in-band";
    oob_port_stats ps = t.cls->port_stats(1);
    EXPECT_GE(ps.verdict_packets[OOB_DIVERT], 100u);
    EXPECT_EQ(ps.reason[OOB_R_NO_XSK], 0u);
}

}  // namespace
}  // namespace oobbpf::test
