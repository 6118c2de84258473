// SPDX-License-Identifier: MIT
// The daemon's life and the devices': restarts (SIGKILL under traffic), devices that go and come
// back, foreign XDP programs, generic mode, cleanup, persistence, namespace-derived paths.
#include "daemon_env.h"
#include "datapath.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>

using namespace oobbpf;
using namespace oobbpf::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

#define EXPECT_CLI_OK(env, args)                                                    \
    do {                                                                            \
        Out o_ = (env).cli(args);                                                   \
        EXPECT_EQ(o_.status, 0) << "oobbpf " << (args) << "\n" << o_.out << o_.err; \
    } while (0)

// The XDP program id on a device of a namespace, 0 when none.
uint32_t xdp_prog_id(const std::string &netns, const std::string &dev) {
    EnterNetns in(netns);
    uint32_t id = 0;
    int ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    if (ifindex && bpf_xdp_query(ifindex, 0, &q) == 0)
        id = q.prog_id;
    return id;
}

// A foreign XDP program (returns XDP_PASS), attached through netlink like `ip link set xdp`.
int attach_foreign_xdp(const std::string &netns, const std::string &dev) {
    EnterNetns in(netns);
    const bpf_insn insns[] = {{BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS},
                              {BPF_JMP | BPF_EXIT, 0, 0, 0, 0}};
    int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "foreign_xdp", "GPL", insns, 2, nullptr);
    EXPECT_GE(fd, 0);
    int ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
    EXPECT_EQ(bpf_xdp_attach(ifindex, fd, XDP_FLAGS_DRV_MODE, nullptr), 0);
    return fd;
}

}  // namespace

TEST(Lifecycle, SigkillUnderTrafficThenRestartDiversionNeverStops) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    env.start();
    const std::string a = env.veth.a;
    EXPECT_CLI_OK(env, "port add " + a);
    EXPECT_CLI_OK(env, "vlan add 42");
    EXPECT_CLI_OK(env, "vlan add 43 dev " + a);
    EXPECT_CLI_OK(env, "rule add udp dport 7000 action divert");
    EXPECT_CLI_OK(env, "rule add udp dport 7001 prio 10 action drop");
    const uint32_t prog = xdp_prog_id(env.oob.name(), a);
    ASSERT_NE(prog, 0u);
    const json status_before = env.cli_json("status");

    UdpFlow flow(env.peer.name(), "10.77.0.1", 7000, 1000);
    // Watch the device's XDP program all along: it must never be missing or change.
    std::atomic<bool> watching{true};
    std::atomic<int> samples{0}, gaps{0};
    std::thread watcher([&] {
        while (watching) {
            if (xdp_prog_id(env.oob.name(), a) != prog)
                gaps++;
            samples++;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const std::string before = env.snapshot();
    uint64_t c0 = port_reason(env.cli_json("stats"), a, "no-xsk");
    ASSERT_GT(c0, 0u);

    env.stop(SIGKILL);
    // Counters keep increasing while the daemon is down.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    uint64_t c1 = port_reason(env.cli_json("stats"), a, "no-xsk");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    uint64_t c2 = port_reason(env.cli_json("stats"), a, "no-xsk");
    EXPECT_GT(c1, c0);
    EXPECT_GT(c2, c1);

    env.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    uint64_t c3 = port_reason(env.cli_json("stats"), a, "no-xsk");
    EXPECT_GT(c3, c2);
    watching = false;
    watcher.join();
    EXPECT_GT(samples.load(), 100);
    EXPECT_EQ(gaps.load(), 0) << "the device ran without oob_xdp (or another program) at times";

    // State identical: configuration, maps, the same link and program (adopted, not reloaded).
    EXPECT_EQ(env.snapshot(), before);
    json status_after = env.cli_json("status");
    ASSERT_EQ(status_after["devices"].size(), 1u);
    EXPECT_TRUE(status_after["devices"][0]["adopted"].get<bool>());
    EXPECT_EQ(status_after["devices"][0]["link_id"], status_before["devices"][0]["link_id"]);
    EXPECT_EQ(status_after["devices"][0]["prog_id"], prog);
    EXPECT_TRUE(contains(env.log(), "adopted the running classifier")) << env.log();

    // Every frame sent was judged: none got lost on the way (diverted with no socket -> in-band).
    const uint64_t sent = flow.sent();
    (void)sent;
    EXPECT_CLI_OK(env, "rule show");
}

TEST(Lifecycle, DeviceGoneIsPurgedAndComesBackAttached) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    env.start("-v");
    const std::string a = env.veth.a, b = env.veth.b;
    EXPECT_CLI_OK(env, "port add " + a);
    EXPECT_CLI_OK(env, "vlan add 43 dev " + a);
    EXPECT_CLI_OK(env, "rule add dev " + a + " udp dport 7000 action divert");
    const int old_ifindex = env.oob.ifindex(a);

    // The device goes: every map forgets it, its link pin goes, the configuration stays.
    env.oob.sh_ok("ip link del " + a);
    bool purged = false;
    for (int i = 0; i < 50 && !purged; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        purged = sh("bpftool -j map dump pinned " + env.pin_root + "/devs").out == "[]\n";
    }
    EXPECT_TRUE(purged) << env.log();
    EXPECT_EQ(sh("bpftool -j map dump pinned " + env.pin_root + "/ports").out, "[]\n");
    EXPECT_EQ(sh("bpftool -j map dump pinned " + env.pin_root + "/vlans").out, "[]\n");
    EXPECT_EQ(sh("ls " + env.pin_root + "/links").out, "");
    json ports = env.cli_json("port show");
    ASSERT_EQ(ports.size(), 1u);
    EXPECT_EQ(ports[0]["state"], a + ": no such device");
    EXPECT_EQ(env.cli_json("rule show")[0]["state"], a + ": no such device");
    EXPECT_TRUE(contains(env.cli("status").out, a + ": no such device"));

    // It comes back under the same name (a new ifindex): attached again, rules recompiled.
    sh_ok("ip link add " + a + " netns " + env.oob.name() + " type veth peer name " + b +
          " netns " + env.peer.name());
    env.oob.sh_ok("ip link set " + a + " up; ip addr add 10.77.0.1/24 dev " + a + "; ethtool -K " +
                  a + " tx off >/dev/null");
    env.peer.sh_ok("ip link set " + b + " up; ip addr add 10.77.0.2/24 dev " + b + "; ethtool -K " +
                   b + " tx off >/dev/null");
    bool back = false;
    for (int i = 0; i < 50 && !back; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        json d = env.cli_json("divert show");
        back = d.size() == 1 && d[0]["dev"] == a && d[0]["ifindex"] != old_ifindex;
    }
    ASSERT_TRUE(back) << env.log();
    EXPECT_NE(xdp_prog_id(env.oob.name(), a), 0u);
    EXPECT_EQ(env.cli_json("port show")[0]["state"], "active");
    EXPECT_EQ(env.cli_json("rule show")[0]["state"], "active");
    send_udp(env.peer.name(), "10.77.0.1", 7000, 10);
    json s = env.cli_json("stats");
    EXPECT_EQ(port_reason(s, a, "no-xsk"), 10u) << s.dump(2);
    EXPECT_EQ(rule_packets(s, 1), 10u);
}

TEST(Lifecycle, ForeignXdpProgramIsNeverReplacedWithoutForce) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    env.start();
    const std::string a = env.veth.a;
    int foreign = attach_foreign_xdp(env.oob.name(), a);
    const uint32_t foreign_id = xdp_prog_id(env.oob.name(), a);
    ASSERT_NE(foreign_id, 0u);
    const std::string before = env.snapshot();

    for (const std::string &args :
         std::vector<std::string>{"port add " + a, "divert on " + a, "vlan add 42 dev " + a}) {
        Out o = env.cli(args);
        EXPECT_NE(o.status, 0) << args;
        EXPECT_TRUE(o.one_line_error()) << o.err;
        EXPECT_TRUE(contains(o.err, "already runs XDP program 'foreign_xdp'")) << o.err;
        EXPECT_TRUE(contains(o.err, "--force")) << o.err;
        EXPECT_EQ(xdp_prog_id(env.oob.name(), a), foreign_id);
    }
    EXPECT_EQ(env.snapshot(), before);

    Out forced = env.cli("port add --force " + a);
    EXPECT_EQ(forced.status, 0) << forced.err;
    EXPECT_TRUE(contains(forced.err, "warning: " + a + ": replaced XDP program 'foreign_xdp'"))
        << forced.err;
    EXPECT_NE(xdp_prog_id(env.oob.name(), a), foreign_id);
    EXPECT_EQ(env.cli_json("divert show")[0]["dev"], a);
    close(foreign);
}

TEST(Lifecycle, NativeFallsBackToGenericOutLoud) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    env.start();
    // A bridge has no native XDP.
    env.oob.sh_ok("ip link add obr0 type bridge; ip link set obr0 up");
    Out on = env.cli("divert on obr0");
    ASSERT_EQ(on.status, 0) << on.err;
    EXPECT_TRUE(contains(on.err, "warning: obr0: native XDP unavailable")) << on.err;
    EXPECT_TRUE(contains(on.err, "using generic mode")) << on.err;
    json d = env.cli_json("divert show obr0");
    EXPECT_EQ(d[0]["mode"], "generic");
    json st = env.cli_json("status");
    bool found = false;
    for (const auto &e : st["devices"])
        if (e["dev"] == "obr0") {
            found = true;
            EXPECT_EQ(e["mode"], "generic");
        }
    EXPECT_TRUE(found);
    EXPECT_CLI_OK(env, "divert off obr0");
    // Asking for native where there is none is an error, and nothing changes.
    Out nat = env.cli("divert on obr0 mode native");
    EXPECT_NE(nat.status, 0);
    EXPECT_TRUE(nat.one_line_error()) << nat.err;
    EXPECT_TRUE(contains(nat.err, "native XDP on obr0")) << nat.err;
    EXPECT_TRUE(env.cli_json("divert show").empty());
}

TEST(Lifecycle, CleanupRemovesAllItOwnsAndNothingElse) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    env.start();
    const std::string a = env.veth.a;
    EXPECT_CLI_OK(env, "port add " + a);
    EXPECT_CLI_OK(env, "rule add udp dport 7000 action divert");
    // Someone else's things: an XDP program on the peer device and a pin in our pin root.
    int foreign = attach_foreign_xdp(env.peer.name(), env.veth.b);
    const uint32_t foreign_id = xdp_prog_id(env.peer.name(), env.veth.b);
    int map = bpf_map_create(BPF_MAP_TYPE_ARRAY, "foreign", 4, 4, 1, nullptr);
    ASSERT_GE(map, 0);
    ASSERT_EQ(bpf_obj_pin(map, (env.pin_root + "/foreign").c_str()), 0);

    // Not while the daemon runs.
    Out busy = env.cleanup();
    EXPECT_NE(busy.status, 0);
    EXPECT_TRUE(contains(busy.err, "oobbpfd is running")) << busy.err;
    EXPECT_NE(xdp_prog_id(env.oob.name(), a), 0u);

    env.stop(SIGTERM);
    // Diversion survives a clean stop too.
    EXPECT_NE(xdp_prog_id(env.oob.name(), a), 0u);
    Out c = env.cleanup();
    EXPECT_EQ(c.status, 0) << c.err;
    EXPECT_TRUE(contains(c.out, "detached from " + a)) << c.out;
    EXPECT_TRUE(contains(c.out, "kept the configuration")) << c.out;
    EXPECT_EQ(xdp_prog_id(env.oob.name(), a), 0u);
    // Ours are gone; the foreign pin, the root that holds it and the peer's program stay.
    std::vector<std::string> left;
    for (const auto &e : fs::directory_iterator(env.pin_root))
        left.push_back(e.path().filename().string());
    EXPECT_EQ(left, std::vector<std::string>{"foreign"});
    EXPECT_EQ(xdp_prog_id(env.peer.name(), env.veth.b), foreign_id);
    EXPECT_FALSE(fs::exists(env.socket));
    EXPECT_TRUE(fs::exists(env.state_dir + "/config.json"));

    // The kept configuration comes back with the next start, onto fresh maps.
    env.start();
    EXPECT_EQ(env.cli_json("port show")[0]["dev"], a);
    EXPECT_NE(xdp_prog_id(env.oob.name(), a), 0u);
    send_udp(env.peer.name(), "10.77.0.1", 7000, 10);
    EXPECT_EQ(rule_packets(env.cli_json("stats"), 1), 10u);
    env.stop(SIGTERM);
    Out p = env.cleanup("--purge");
    EXPECT_EQ(p.status, 0) << p.err;
    EXPECT_FALSE(fs::exists(env.state_dir + "/config.json"));
    unlink((env.pin_root + "/foreign").c_str());
    close(map);
    close(foreign);
}

TEST(Lifecycle, ConfigurationSavedAtomicallyAndReappliedAtStart) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    env.start();
    const std::string a = env.veth.a;
    EXPECT_CLI_OK(env, "port add " + a);
    EXPECT_CLI_OK(env, "divert on " + a + " mode generic");
    EXPECT_CLI_OK(env, "vlan add 42");
    EXPECT_CLI_OK(env, "rule add udp dport 7000 action divert");
    std::ifstream in(env.state_dir + "/config.json");
    json saved = json::parse(in);
    EXPECT_EQ(saved["version"], 1);
    EXPECT_EQ(saved["ports"][a]["id"], 1);
    EXPECT_EQ(saved["devices"][a]["mode"], "generic");
    EXPECT_EQ(saved["vlans"][0]["vid"], 42);
    EXPECT_EQ(saved["rules"][0]["dport"], 7000);
    // Only the file itself: no temporary left beside it.
    int files = 0;
    for (const auto &e : fs::directory_iterator(env.state_dir)) {
        (void)e;
        files++;
    }
    EXPECT_EQ(files, 1);
    struct stat st {};
    ASSERT_EQ(stat(env.state_dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);

    // A restart from nothing pinned (after cleanup) rebuilds the same state from the file.
    const std::string before = env.snapshot(false);
    env.stop(SIGTERM);
    ASSERT_EQ(env.cleanup().status, 0);
    ASSERT_EQ(xdp_prog_id(env.oob.name(), a), 0u);
    env.start();
    json d = env.cli_json("divert show");
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0]["mode"], "generic");
    EXPECT_EQ(env.cli_json("port show")[0]["port_id"], 1);
    EXPECT_EQ(env.cli_json("vlan show")[0]["vid"], 42);
    EXPECT_EQ(env.cli_json("rule show")[0]["id"], 1);
    // Same ids, same slots, same configuration, same maps (a new program and link, of course).
    EXPECT_EQ(env.snapshot(false), before);
}

// A saved configuration that cannot be read: one error line naming the file, a non-zero exit,
// and nothing loaded, pinned or attached; the file is left as it was for the administrator.
TEST(Lifecycle, UnreadableConfigurationStopsTheStartBeforeAnything) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    fs::create_directories(env.state_dir);
    for (const std::string bad : {"{not json", R"({"version":"1"})", R"({"version":2})",
                                  R"({"version":1,"ports":[]})",
                                  R"({"version":1,"ports":{"x":{"id":-1}}})"}) {
        SCOPED_TRACE(bad);
        {
            std::ofstream f(env.state_dir + "/config.json");
            f << bad;
        }
        Out o = env.run_daemon();
        EXPECT_EQ(o.status, 1) << o.err;
        EXPECT_TRUE(o.out.empty()) << o.out;
        EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
        EXPECT_TRUE(contains(o.err, env.state_dir + "/config.json")) << o.err;
        std::vector<std::string> pinned;
        if (fs::exists(env.pin_root))
            for (const auto &e : fs::directory_iterator(env.pin_root))
                pinned.push_back(e.path().filename().string());
        EXPECT_TRUE(pinned.empty()) << "pinned: " << pinned.front();
        EXPECT_EQ(xdp_prog_id(env.oob.name(), env.veth.a), 0u);
        EXPECT_FALSE(fs::exists(env.socket));
        std::ifstream in(env.state_dir + "/config.json");
        std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        EXPECT_EQ(kept, bad);
    }
}

TEST(Lifecycle, PathsDerivedFromTheNamespaceFoundByTheCli) {
    OOBBPF_REQUIRE_PRIVILEGE();
    Netns ns;
    ns.sh_ok("ip link set lo up");
    struct stat st {};
    ASSERT_EQ(stat(("/run/netns/" + ns.name()).c_str(), &st), 0);
    const std::string ino = std::to_string(st.st_ino);
    const std::string root = "/sys/fs/bpf/oobbpf-ns" + ino;
    const std::string sock = "/run/oobbpf/oobbpfd-ns" + ino + ".sock";
    const std::string state = "/var/lib/oobbpf/ns" + ino;
    ASSERT_FALSE(fs::exists(root));
    const std::string in = "nsenter --net=/run/netns/" + ns.name() + " -- ";
    pid_t pid = fork();
    if (pid == 0) {
        std::string cmd = "exec " + in + OOBBPFD_BIN + " >/dev/null 2>&1";
        execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
        _exit(127);
    }
    bool up = false;
    for (int i = 0; i < 600 && !up; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        up = run(in + OOBBPF_BIN + " status").status == 0 && fs::exists(sock);
    }
    EXPECT_TRUE(up);
    Out s = run(in + OOBBPF_BIN + " -j status");
    ASSERT_EQ(s.status, 0) << s.err;
    json j = json::parse(s.out);
    EXPECT_TRUE(j["daemon"]["running"].get<bool>());
    EXPECT_EQ(j["daemon"]["pin_root"], root);
    EXPECT_EQ(j["daemon"]["socket"], sock);
    EXPECT_EQ(j["daemon"]["state_dir"], state);
    EXPECT_EQ(j["daemon"]["netns"], st.st_ino);
    EXPECT_TRUE(fs::exists(root + "/devs"));
    // The environment points the CLI elsewhere: nothing answers there.
    Out other = run("OOBBPF_SOCKET=/nonexistent.sock " + in + OOBBPF_BIN + " port add lo");
    EXPECT_TRUE(contains(other.err, "oobbpfd is not running (no daemon at /nonexistent.sock)"))
        << other.err;
    kill(pid, SIGTERM);
    int wst;
    waitpid(pid, &wst, 0);
    Out c = run(in + OOBBPFD_BIN + " --cleanup --purge");
    EXPECT_EQ(c.status, 0) << c.err;
    EXPECT_FALSE(fs::exists(root));
    EXPECT_FALSE(fs::exists(sock));
    EXPECT_FALSE(fs::exists(state));
    rmdir("/run/oobbpf");  // when this test made it (another daemon's socket keeps it)
}

TEST(Lifecycle, VlanPortDivertsOnItsLowerDevice) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    const std::string a = env.veth.a, va = a + ".42";
    Out mk = run(env.oob.prefix() + "ip link add link " + a + " name " + va + " type vlan id 42");
    if (mk.status != 0)
        GTEST_SKIP() << "this kernel has no 802.1Q devices (8021q): " << mk.err;
    env.oob.sh_ok("ip link set " + va + " up; ip addr add 10.78.0.1/24 dev " + va);
    env.peer.sh_ok("ip link add link " + env.veth.b + " name " + env.veth.b +
                   ".42 type vlan id 42; ip link set " + env.veth.b + ".42 up; ip addr add " +
                   "10.78.0.2/24 dev " + env.veth.b + ".42; ethtool -K " + env.veth.b +
                   " txvlan off >/dev/null");
    env.start();
    EXPECT_CLI_OK(env, "port add " + va);
    json p = env.cli_json("port show " + va)[0];
    EXPECT_EQ(p["kind"], "vlan");
    EXPECT_EQ(p["lower"], a);
    EXPECT_EQ(p["vid"], 42);
    json d = env.cli_json("divert show");
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0]["dev"], a);  // diversion on the lower device
    EXPECT_EQ(d[0]["flags"], "divert");
    EXPECT_CLI_OK(env, "rule add dev " + va + " udp dport 7000 action divert");
    send_udp(env.peer.name(), "10.78.0.1", 7000, 10);
    EXPECT_EQ(port_reason(env.cli_json("stats"), va, "no-xsk"), 10u);
    // Diversion cannot be turned off under a VLAN port.
    Out off = env.cli("divert off " + a);
    EXPECT_NE(off.status, 0);
    EXPECT_TRUE(contains(off.err, "port " + va)) << off.err;
}

TEST(Lifecycle, ControlSocketAdmitsRootAndTheConfiguredGroupOnly) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    ASSERT_EQ(chmod(env.dir.c_str(), 0755), 0);  // let others reach the socket file at all
    const std::string cli = "nsenter --net=/run/netns/" + env.oob.name() +
                            " -- setpriv --reuid=65534 --regid=65534 --clear-groups " + OOBBPF_BIN +
                            " --socket " + env.socket + " --pin-root " + env.pin_root + " ";
    // Default: root only. The socket file itself keeps others out.
    env.start();
    Out denied = run(cli + "port add " + env.veth.a);
    EXPECT_NE(denied.status, 0);
    EXPECT_TRUE(denied.one_line_error()) << denied.err;
    EXPECT_TRUE(contains(denied.err, "permission denied")) << denied.err;
    EXPECT_TRUE(env.cli_json("port show").empty());
    // Even through a socket file opened to all, the daemon checks who is asking (SO_PEERCRED).
    ASSERT_EQ(chmod(env.socket.c_str(), 0666), 0);
    Out refused = run(cli + "port add " + env.veth.a);
    EXPECT_NE(refused.status, 0);
    EXPECT_TRUE(refused.one_line_error()) << refused.err;
    EXPECT_TRUE(contains(refused.err, "permission denied: oobbpfd admits root")) << refused.err;
    EXPECT_TRUE(env.cli_json("port show").empty());
    env.stop();

    // With --group nogroup, its members get in (SO_PEERCRED / SO_PEERGROUPS checked).
    env.start("--group nogroup");
    Out ok = run(cli + "port add " + env.veth.a);
    EXPECT_EQ(ok.status, 0) << ok.err;
    EXPECT_EQ(env.cli_json("port show")[0]["dev"], env.veth.a);
    // Others still not: the peer check answers before anything is read.
    Out other = run("nsenter --net=/run/netns/" + env.oob.name() +
                    " -- setpriv --reuid=65534 --regid=100 --clear-groups " + OOBBPF_BIN +
                    " --socket " + env.socket + " port del " + env.veth.a);
    EXPECT_NE(other.status, 0);
    EXPECT_TRUE(other.one_line_error()) << other.err;
    EXPECT_TRUE(contains(other.err, "permission denied")) << other.err;
    EXPECT_EQ(env.cli_json("port show").size(), 1u);
}
