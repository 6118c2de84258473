// SPDX-License-Identifier: MIT
// A port's device deleted under traffic, with an oob socket registered on it: the daemon stays
// up, purges the device from every map (its XSKMAP entries included), the CLI says what happened,
// and the device re-created under the same name is attached again and classified as configured.
// Repeated, to catch what a single flap would not.
#include "daemon_env.h"
#include "protocol.h"
#include "traffic.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

using namespace oobbpf;
using namespace oobbpf::test;
using nlohmann::json;

namespace {

std::string dump(const DaemonEnv &env, const char *map) {
    return sh("bpftool -j map dump pinned " + env.pin_root + "/" + map).out;
}

template <typename F>
bool eventually(F f, int timeout_ms = 5000) {
    for (int i = 0; i < timeout_ms / 50; i++) {
        if (f())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return f();
}

// The daemon's configuration, as the control protocol shows it.
std::string config_of(const DaemonEnv &env) {
    return daemon::Client::connect(env.socket).call_ok("config.show").dump();
}

void recreate(const DaemonEnv &env) {
    const std::string a = env.veth.a, b = env.veth.b;
    sh_ok("ip link add " + a + " netns " + env.oob.name() + " type veth peer name " + b +
          " netns " + env.peer.name());
    env.oob.sh_ok("ip link set " + a + " up; ip addr add 10.77.0.1/24 dev " + a + "; ethtool -K " +
                  a + " tx off >/dev/null");
    env.peer.sh_ok("ip link set " + b + " up; ip addr add 10.77.0.2/24 dev " + b +
                   "; ethtool -K " + b + " tx off >/dev/null");
}

}  // namespace

TEST(Device, DeletedUnderTrafficPurgedThenRecreated) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    env.start("-v");
    const std::string a = env.veth.a;
    ASSERT_EQ(env.cli("port add " + a).status, 0);
    ASSERT_EQ(env.cli("vlan add 43 dev " + a).status, 0);
    ASSERT_EQ(env.cli("rule add dev " + a + " udp dport 7000 action divert").status, 0);
    ASSERT_EQ(env.cli("rule add udp dport 7001 action divert").status, 0);
    const std::string config_before = config_of(env);

    for (int flap = 0; flap < 3; flap++) {
        SCOPED_TRACE("flap " + std::to_string(flap));
        const int old_ifindex = env.oob.ifindex(a);
        {
            Traffic t(env, {7000, 7002});
            t.start_flows({7000, 7002}, 500);
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            ASSERT_EQ(env.cli_json("xsk show").size(), 1u);

            // The device goes while datagrams cross it.
            env.oob.sh_ok("ip link del " + a);
            EXPECT_TRUE(eventually([&] { return dump(env, "devs") == "[]\n"; })) << env.log();
            auto flows = t.stop_flows(100);
            // Up to the deletion, classified as configured.
            EXPECT_GT(flows[7000].oob, 100u);
            EXPECT_EQ(flows[7000].kernel, 0u);
            EXPECT_GT(flows[7002].kernel, 100u);
            EXPECT_EQ(flows[7002].oob, 0u);
        }
        // The daemon is up and answers; every map forgot the device.
        ASSERT_EQ(kill(env.pid(), 0), 0) << env.log();
        EXPECT_EQ(dump(env, "ports"), "[]\n");
        EXPECT_EQ(dump(env, "vlans"), "[]\n");
        EXPECT_EQ(dump(env, "xsk_regs"), "[]\n");
        EXPECT_EQ(sh("ls " + env.pin_root + "/links").out, "");
        EXPECT_TRUE(env.cli_json("xsk show").empty());
        // The CLI says so, for the port, the rule on it and in status; the configuration stays.
        json ports = env.cli_json("port show");
        ASSERT_EQ(ports.size(), 1u);
        EXPECT_EQ(ports[0]["state"], a + ": no such device");
        json rules = env.cli_json("rule show");
        ASSERT_EQ(rules.size(), 2u);
        EXPECT_EQ(rules[0]["state"], a + ": no such device");
        EXPECT_EQ(rules[1]["state"], "active");
        Out st = env.cli("status");
        EXPECT_TRUE(contains(st.out, a + ": no such device")) << st.out;
        EXPECT_EQ(config_of(env), config_before);
        // A command on the missing device: one clear line, nothing changed.
        Out del = env.cli("divert on " + a);
        EXPECT_NE(del.status, 0);
        EXPECT_TRUE(del.one_line_error()) << del.err;
        EXPECT_TRUE(contains(del.err, "no such device")) << del.err;

        // Back under the same name: attached again (a new ifindex), the rules recompiled.
        recreate(env);
        ASSERT_TRUE(eventually([&] {
            json d = env.cli_json("divert show");
            return d.size() == 1 && d[0]["dev"] == a && d[0]["ifindex"] != old_ifindex;
        })) << env.log();
        EXPECT_EQ(env.cli_json("port show")[0]["state"], "active");
        EXPECT_EQ(env.cli_json("rule show")[0]["state"], "active");
        EXPECT_NE(dump(env, "vlans"), "[]\n");
        {
            // A new oob socket on the new device gets the diverted flow, the rest stays in-band.
            Traffic t(env, {7000, 7001, 7002});
            t.start_flows({7000, 7001, 7002}, 1000);
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            auto flows = t.stop_flows();
            EXPECT_GT(flows[7000].sent, 100u);
            EXPECT_EQ(flows[7000].oob, flows[7000].sent);
            EXPECT_EQ(flows[7001].oob, flows[7001].sent);
            EXPECT_EQ(flows[7002].kernel, flows[7002].sent);
        }
    }
    EXPECT_FALSE(contains(env.log(), "applying after a device event")) << env.log();
}
