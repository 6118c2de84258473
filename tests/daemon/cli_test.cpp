// SPDX-License-Identifier: MIT
// Every CLI command end to end against a real oobbpfd on veth, and bad input for each of them.
#include "daemon_env.h"
#include "datapath.h"
#include "protocol.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>

using namespace oobbpf;
using namespace oobbpf::test;
using nlohmann::json;

namespace {

#define EXPECT_CLI_OK(env, args)                                                    \
    do {                                                                            \
        Out o_ = (env).cli(args);                                                   \
        EXPECT_EQ(o_.status, 0) << "oobbpf " << (args) << "\n" << o_.out << o_.err; \
    } while (0)

}  // namespace

TEST(Cli, EveryCommandEndToEnd) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    env.start();
    const std::string a = env.veth.a;

    // status: the daemon, the features it found, versions.
    Out st = env.cli("status");
    ASSERT_EQ(st.status, 0) << st.err;
    EXPECT_TRUE(contains(st.out, "oobbpfd     running")) << st.out;
    EXPECT_TRUE(contains(st.out, "freplace")) << st.out;
    EXPECT_TRUE(contains(st.out, "tp_btf")) << st.out;
    EXPECT_TRUE(contains(st.out, "ABI " + std::to_string(OOB_ABI_VERSION))) << st.out;
    json sj = env.cli_json("status");
    EXPECT_TRUE(sj["daemon"]["running"].get<bool>());
    EXPECT_EQ(sj["daemon"]["pin_root"], env.pin_root);
    EXPECT_TRUE(sj["features"]["xdp"]["ok"].get<bool>());
    EXPECT_TRUE(sj["learner"].contains("backend"));

    // port add / show / del.
    Out add = env.cli("port add " + a);
    ASSERT_EQ(add.status, 0) << add.err;
    EXPECT_TRUE(contains(add.out, a)) << add.out;
    json ports = env.cli_json("port show");
    ASSERT_EQ(ports.size(), 1u);
    EXPECT_EQ(ports[0]["dev"], a);
    EXPECT_EQ(ports[0]["kind"], "device");
    EXPECT_EQ(ports[0]["state"], "active");
    json one = env.cli_json("port show " + a);
    EXPECT_EQ(one, ports);
    EXPECT_TRUE(contains(env.cli("port show").out, a));

    // The port turned diversion on: a pinned link holds oob_xdp on the device.
    json dv = env.cli_json("divert show");
    ASSERT_EQ(dv.size(), 1u);
    EXPECT_EQ(dv[0]["dev"], a);
    EXPECT_EQ(dv[0]["mode"], "native");
    EXPECT_EQ(dv[0]["via"], "bpf_link");
    EXPECT_EQ(dv[0]["flags"], "divert,port");
    EXPECT_TRUE(contains(env.oob.sh_ok("ip -d link show " + a), "name oob_xdp"));
    EXPECT_EQ(sh("ls " + env.pin_root + "/links").out, a + "\n");

    // divert on/off with modes, on a device that is no port.
    // (The peer side has no daemon; a second veth pair would be overkill: use the same device
    // after its port goes.)
    EXPECT_CLI_OK(env, "port del " + a);
    EXPECT_TRUE(env.cli_json("port show").empty());
    EXPECT_TRUE(env.cli_json("divert show").empty());
    EXPECT_FALSE(contains(env.oob.sh_ok("ip -d link show " + a), "oob_xdp"));
    Out on = env.cli("divert on " + a + " mode generic");
    ASSERT_EQ(on.status, 0) << on.err;
    dv = env.cli_json("divert show " + a);
    EXPECT_EQ(dv[0]["mode"], "generic");
    EXPECT_EQ(dv[0]["flags"], "divert");
    EXPECT_TRUE(contains(env.oob.sh_ok("ip -d link show " + a), "xdpgeneric"));
    EXPECT_CLI_OK(env, "divert on " + a + " mode native");
    EXPECT_EQ(env.cli_json("divert show " + a)[0]["mode"], "native");
    EXPECT_CLI_OK(env, "divert on " + a);
    EXPECT_CLI_OK(env, "divert off " + a);
    EXPECT_TRUE(env.cli_json("divert show").empty());
    EXPECT_FALSE(contains(env.oob.sh_ok("ip -d link show " + a), "oob_xdp"));

    // vlan add / show / del, global and per device.
    EXPECT_CLI_OK(env, "vlan add 42");
    EXPECT_CLI_OK(env, "vlan add 43 dev " + a);
    json vl = env.cli_json("vlan show");
    ASSERT_EQ(vl.size(), 2u);
    EXPECT_EQ(vl[0]["vid"], 42);
    EXPECT_TRUE(vl[0]["dev"].is_null());
    EXPECT_EQ(vl[1]["vid"], 43);
    EXPECT_EQ(vl[1]["dev"], a);
    EXPECT_EQ(env.cli_json("vlan show 43").size(), 1u);
    EXPECT_EQ(env.cli_json("vlan show dev " + a).size(), 1u);
    EXPECT_TRUE(contains(env.cli("vlan show").out, "global"));
    // A per-device set makes its device divert.
    EXPECT_EQ(env.cli_json("divert show " + a)[0]["why"], json::array({"vlan 43"}));
    EXPECT_CLI_OK(env, "vlan del 43 dev " + a);
    EXPECT_CLI_OK(env, "vlan del 42");
    EXPECT_TRUE(env.cli_json("vlan show").empty());

    // rule add / show / del / flush / export / import.
    EXPECT_CLI_OK(env, "port add " + a);
    Out r1 = env.cli("rule add udp dport 7000 action divert");
    ASSERT_EQ(r1.status, 0) << r1.err;
    EXPECT_EQ(r1.out, "rule 1: udp dport 7000 prio 100 action divert\n");
    EXPECT_CLI_OK(env, "rule add dev " + a + " udp dport 7001-7003 prio 10 action pass");
    EXPECT_CLI_OK(env, "rule add vlan 42 prio 20 action drop");
    json rules = env.cli_json("rule show");
    ASSERT_EQ(rules.size(), 3u);
    EXPECT_EQ(rules[0]["id"], 1);
    EXPECT_EQ(rules[1]["rule"], "dev " + a + " udp dport 7001-7003 prio 10 action pass");
    EXPECT_EQ(rules[2]["state"], "active");
    EXPECT_EQ(env.cli_json("rule show 2").size(), 1u);
    Out text = env.cli("rule show");
    EXPECT_TRUE(contains(text.out, "vlan 42 prio 20 action drop")) << text.out;

    Out exp = env.cli("rule export");
    ASSERT_EQ(exp.status, 0);
    json exported = json::parse(exp.out);
    ASSERT_EQ(exported.size(), 3u);
    const std::string file = env.dir + "/rules.json";
    std::ofstream(file) << exp.out;

    EXPECT_CLI_OK(env, "rule del 2");
    EXPECT_CLI_OK(env, "rule del vlan 42 prio 20 action drop");  // by what it says
    EXPECT_EQ(env.cli_json("rule show").size(), 1u);
    Out fl = env.cli("rule flush");
    EXPECT_EQ(fl.status, 0) << fl.err;
    EXPECT_TRUE(env.cli_json("rule show").empty());
    Out imp = env.cli("rule import " + file);
    ASSERT_EQ(imp.status, 0) << imp.err;
    EXPECT_EQ(env.cli_json("rule export"), exported);  // ids kept

    // Import of the text form: one rule per line, comments allowed; replaces the set.
    const std::string tfile = env.dir + "/rules.txt";
    std::ofstream(tfile) << "# oob flows\nudp dport 9000 action divert\n\ntcp dport 9001 prio 5 "
                            "action pass  # control\n";
    EXPECT_CLI_OK(env, "rule import " + tfile);
    rules = env.cli_json("rule show");
    ASSERT_EQ(rules.size(), 2u);
    EXPECT_EQ(rules[1]["rule"], "tcp dport 9001 prio 5 action pass");

    // stats: per port and per rule, text and JSON; -w refreshes.
    json stats = env.cli_json("stats");
    ASSERT_TRUE(stats.contains("ports"));
    ASSERT_EQ(stats["rules"].size(), 2u);
    bool listed = false;
    for (const auto &p : stats["ports"])
        listed = listed || (p["dev"] == a && p["kind"] == "device");
    EXPECT_TRUE(listed) << stats.dump();
    Out stext = env.cli("stats");
    EXPECT_TRUE(contains(stext.out, "verdict")) << stext.out;
    Out watch =
        run("timeout -s INT 2.5 nsenter --net=/run/netns/" + env.oob.name() + " -- " + OOBBPF_BIN +
            " --socket " + env.socket + " --pin-root " + env.pin_root + " -j stats -w -i 0.5");
    int lines = 0;
    std::istringstream ws(watch.out);
    for (std::string l; std::getline(ws, l);) {
        EXPECT_TRUE(json::parse(l).contains("time"));
        lines++;
    }
    EXPECT_GE(lines, 3) << watch.out;

    // The same counters for Prometheus: to a file (atomically) or stdout.
    const std::string prom = env.dir + "/oobbpf.prom";
    EXPECT_CLI_OK(env, "stats --prometheus " + prom);
    std::ifstream pin(prom);
    std::string ptext((std::istreambuf_iterator<char>(pin)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(contains(ptext, "oobbpf_frames_total{port=\"" + a + "\",verdict=\"pass\"}"))
        << ptext;
    EXPECT_TRUE(contains(ptext, "oobbpf_rule_frames_total{rule_id=\"")) << ptext;
    Out pout = env.cli("stats --prometheus -");
    EXPECT_EQ(pout.status, 0);
    EXPECT_TRUE(contains(pout.out, "# TYPE oobbpf_frames_total counter")) << pout.out;

    // xsk show (no socket registered yet).
    EXPECT_TRUE(env.cli_json("xsk show").empty());

    // route / neigh: the pinned maps of the learner, or one clear line without one.
    const bool learner = sj["learner"]["backend"] != "none";
    Out rs = env.cli("route show");
    Out ns = env.cli("neigh show");
    Out rr = env.cli("route resolve 10.77.0.2");
    if (learner) {
        EXPECT_EQ(rs.status, 0) << rs.err;
        EXPECT_EQ(ns.status, 0) << ns.err;
        EXPECT_EQ(rr.status, 0) << rr.err;
        EXPECT_TRUE(contains(rr.out, a)) << rr.out;
    } else {
        EXPECT_NE(rr.status, 0);
        EXPECT_TRUE(rr.one_line_error()) << rr.err;
        EXPECT_TRUE(contains(rr.err, "learner")) << rr.err;
    }

    // load / unload: a worked example selector when the build has one.
    const std::string sel = std::string(OOBBPF_BUILD_DIR) + "/bpf/sel_udp_range.bpf.o";
    if (access(sel.c_str(), R_OK) == 0) {
        Out ld = env.cli("load " + a + " " + sel);
        ASSERT_EQ(ld.status, 0) << ld.err << env.log();
        EXPECT_TRUE(
            contains(env.cli_json("divert show " + a)[0]["flags"].get<std::string>(), "selector"));
        EXPECT_CLI_OK(env, "unload " + a);
        EXPECT_FALSE(
            contains(env.cli_json("divert show " + a)[0]["flags"].get<std::string>(), "selector"));
    }

    // --help at every level.
    for (const char *h : {"--help", "port --help", "port add --help", "divert on --help",
                          "vlan add --help", "rule add --help", "route resolve --help",
                          "stats --help", "status --help", "load --help"}) {
        Out o = env.cli(h);
        EXPECT_EQ(o.status, 0) << h;
        EXPECT_TRUE(contains(o.out, "Usage")) << h << ": " << o.out;
    }
    EXPECT_TRUE(contains(env.cli("rule add --help").out, "action divert|pass|drop"));
}

TEST(Cli, TrafficIsCountedPerPortVerdictReasonAndRule) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    env.start();
    const std::string a = env.veth.a;
    EXPECT_CLI_OK(env, "port add " + a);
    EXPECT_CLI_OK(env, "rule add udp dport 7000 action divert");
    EXPECT_CLI_OK(env, "rule add udp dport 7002 action drop");

    // Diverted with no oob socket on the queue: counted, then passed in-band (reason no-xsk).
    send_udp(env.peer.name(), "10.77.0.1", 7000, 50);
    send_udp(env.peer.name(), "10.77.0.1", 7001, 30);  // no rule: default
    send_udp(env.peer.name(), "10.77.0.1", 7002, 20);  // dropped
    json s = env.cli_json("stats");
    EXPECT_EQ(port_reason(s, a, "no-xsk"), 50u) << s.dump(2);
    EXPECT_GE(port_reason(s, a, "default"), 30u) << s.dump(2);  // plus ARP-free extras
    EXPECT_EQ(port_verdict(s, a, "drop"), 20u) << s.dump(2);
    EXPECT_EQ(port_verdict(s, a, "divert"), 0u);
    EXPECT_EQ(rule_packets(s, 1), 50u);
    EXPECT_EQ(rule_packets(s, 2), 20u);
    EXPECT_EQ(env.cli_json("rule show 1")[0]["packets"], 50);

    // The same numbers from the pinned maps alone, with the daemon down.
    env.stop(SIGTERM);
    json d = env.cli_json("stats");
    EXPECT_EQ(port_reason(d, a, "no-xsk"), 50u);
    EXPECT_EQ(rule_packets(d, 1), 50u);
    Out text = env.cli("stats");
    EXPECT_EQ(text.status, 0);
    EXPECT_TRUE(contains(text.out, "no-xsk 50")) << text.out;
}

TEST(Cli, AfXdpSocketRegisteredThroughTheDaemonReceivesDivertedFrames) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    env.start();
    const std::string a = env.veth.a;
    EXPECT_CLI_OK(env, "port add " + a);
    EXPECT_CLI_OK(env, "rule add udp dport 7000 action divert");

    std::unique_ptr<XskSocket> xsk;
    {
        EnterNetns in(env.oob.name());
        xsk = std::make_unique<XskSocket>(a, 0);
    }
    auto cl = daemon::Client::connect(env.socket);
    std::vector<std::string> warnings;
    json reg = cl.call_ok("xsk.register", {{"dev", a}, {"queue", 0}}, &warnings, {xsk->fd()});
    EXPECT_EQ(reg["queue"], 0);
    // Where the kernel has no sock_diag for AF_XDP, the daemon says it cannot check the binding.
    const bool diag = env.cli_json("status")["features"]["xsk_diag"]["ok"].get<bool>();
    EXPECT_EQ(warnings.empty(), diag) << (warnings.empty() ? "" : warnings[0]);
    json shown = env.cli_json("xsk show");
    ASSERT_EQ(shown.size(), 1u);
    EXPECT_EQ(shown[0]["dev"], a);
    EXPECT_EQ(shown[0]["queue"], 0);
    EXPECT_EQ(shown[0]["pid"], static_cast<int>(getpid()));

    send_udp(env.peer.name(), "10.77.0.1", 7000, 20);
    auto frames = xsk->receive(2000, 64);
    EXPECT_EQ(frames.size(), 20u);
    json s = env.cli_json("stats");
    EXPECT_EQ(port_verdict(s, a, "divert"), 20u) << s.dump(2);
    EXPECT_EQ(port_reason(s, a, "no-xsk"), 0u);

    // The socket must be registered where it is bound, and it must come with the request.
    if (diag) {
        daemon::Response again = cl.call("xsk.register", {{"dev", a}, {"queue", 1}}, {xsk->fd()});
        EXPECT_FALSE(again.ok);
        EXPECT_TRUE(contains(again.error, "bound to queue 0")) << again.error;
    }
    daemon::Response none = cl.call("xsk.register", {{"dev", a}, {"queue", 0}});
    EXPECT_FALSE(none.ok);
    EXPECT_TRUE(contains(none.error, "SCM_RIGHTS")) << none.error;

    // Closing the socket ends the registration (the daemon notices within its tick).
    xsk.reset();
    bool gone = false;
    for (int i = 0; i < 40 && !gone; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        gone = env.cli_json("xsk show").empty();
    }
    EXPECT_TRUE(gone);
    send_udp(env.peer.name(), "10.77.0.1", 7000, 5);
    EXPECT_EQ(port_reason(env.cli_json("stats"), a, "no-xsk"), 5u);
}

// Each bad input: a non-zero exit, exactly one line on stderr, and nothing changed.
TEST(Cli, BadInputForEveryCommandIsOneLineAndChangesNothing) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    env.start();
    const std::string a = env.veth.a;
    EXPECT_CLI_OK(env, "port add " + a);
    EXPECT_CLI_OK(env, "vlan add 42");
    EXPECT_CLI_OK(env, "rule add udp dport 7000 action divert");
    const std::string bad_json = env.dir + "/bad.json", bad_rules = env.dir + "/bad.rules";
    std::ofstream(bad_json) << "[{\"l4proto\":\"udp\",\"dport\":7000,\"action\":\"divert\"},";
    std::ofstream(bad_rules) << "udp dport 7001 action divert\nudp dport 99999 action divert\n";
    const std::string dup_rules = env.dir + "/dup.rules";
    std::ofstream(dup_rules) << "udp dport 7001 action divert\nudp dport 7001 action divert\n";
    const std::string not_elf = env.dir + "/not-elf.o";
    std::ofstream(not_elf) << "this is not an ELF file\n";

    const std::string before = env.snapshot();
    const std::pair<std::string, std::string> cases[] = {
        // unknown devices
        {"port add nosuchdev0", "nosuchdev0: no such device"},
        {"port del nosuchdev0", "nosuchdev0 is not an oob port"},
        {"port show nosuchdev0", "nosuchdev0 is not an oob port"},
        {"divert on nosuchdev0", "nosuchdev0: no such device"},
        {"divert off nosuchdev0", "nosuchdev0: no such device"},
        {"divert show nosuchdev0", "nosuchdev0 does not divert"},
        {"vlan add 43 dev nosuchdev0", "nosuchdev0: no such device"},
        {"rule add dev nosuchdev0 udp dport 1 action divert", "nosuchdev0: no such device"},
        {"load nosuchdev0 " + not_elf, "nosuchdev0: no such device"},
        {"unload nosuchdev0", "nosuchdev0 has no selector"},
        {"route resolve 10.77.0.2 oif nosuchdev0", "nosuchdev0"},
        // bad VIDs
        {"vlan add 0", "VID 0 cannot be an oob VLAN"},
        {"vlan add 1", "VID 1 cannot be an oob VLAN"},
        {"vlan add 4095", "VID 4095 cannot be an oob VLAN"},
        {"vlan add 4096", "out of range"},
        {"vlan add -3", "out of range"},
        {"vlan add abc", "abc"},
        {"vlan del 4095", "VID 4095 cannot be an oob VLAN"},
        {"vlan del 44", "VLAN 44 is not in the global set"},
        {"vlan show 1", "VID 1 cannot be an oob VLAN"},
        {"rule add vlan 4095 action divert", "4095"},
        // duplicates and conflicts
        {"port add " + a, a + " is already an oob port"},
        {"vlan add 42", "VLAN 42 is already in the global set"},
        {"rule add udp dport 7000 action divert", "duplicate rule"},
        {"rule add udp dport 7000 action drop", "same prio"},
        {"rule import " + dup_rules, "duplicate rule"},
        // malformed rules and files
        {"rule add udp dport 7000", "action"},
        {"rule add udp dport 70000 action divert", "70000"},
        {"rule add frobnicate action divert", "frobnicate"},
        {"rule del 99", "no rule 99"},
        {"rule show 99", "no rule 99"},
        {"rule import " + bad_json, "not valid JSON"},
        {"rule import " + bad_rules, "bad.rules:2"},
        {"rule import " + env.dir + "/missing.json", "missing.json"},
        {"load " + a + " " + not_elf, "ELF"},
        {"load " + a + " " + env.dir + "/missing.o", "missing.o"},
        // grammar
        {"divert on " + a + " mode turbo", "turbo"},
        {"divert off " + a, a + " must divert for port " + a},
        {"port", "port needs a command: add, del, show"},
        {"port ad " + a, "ad"},
        {"frobnicate", "frobnicate"},
        {"stats -i 0", "0"},
        {"route resolve 10.77.0.2 tos 300", "300"},
    };
    for (const auto &[args, needle] : cases) {
        Out o = env.cli(args);
        EXPECT_NE(o.status, 0) << "oobbpf " << args << " succeeded";
        EXPECT_TRUE(o.one_line_error()) << "oobbpf " << args << " said:\n" << o.err;
        EXPECT_TRUE(contains(o.err, needle)) << "oobbpf " << args << " said: " << o.err;
        EXPECT_TRUE(o.out.empty()) << "oobbpf " << args << " printed: " << o.out;
    }
    EXPECT_EQ(env.snapshot(), before);
    // The daemon is still there and well.
    EXPECT_EQ(env.cli("status").status, 0);
}

TEST(Cli, DaemonNotRunningIsOneLineShowCommandsStillWork) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    env.start();
    const std::string a = env.veth.a;
    EXPECT_CLI_OK(env, "port add " + a);
    EXPECT_CLI_OK(env, "vlan add 42");
    EXPECT_CLI_OK(env, "rule add udp dport 7000 action divert");
    json ports = env.cli_json("port show"), vlans = env.cli_json("vlan show");
    const std::string before = env.snapshot();
    env.stop(SIGTERM);

    for (const std::string &args : std::vector<std::string>{
             "port add " + a, "port del " + a, "divert on " + a, "divert off " + a, "vlan add 43",
             "vlan del 42", "rule add udp dport 1 action divert", "rule del 1", "rule flush",
             "load " + a + " /x.o", "unload " + a, "route resolve 10.77.0.2"}) {
        Out o = env.cli(args);
        EXPECT_NE(o.status, 0) << args;
        EXPECT_TRUE(o.one_line_error()) << args << ": " << o.err;
        EXPECT_TRUE(contains(o.err, "oobbpfd is not running")) << args << ": " << o.err;
    }
    // Show commands read the pinned maps (a note on stderr, nothing on stdout but the data).
    json dports = env.cli_json("port show");
    ASSERT_EQ(dports.size(), 1u);
    EXPECT_EQ(dports[0]["dev"], a);
    EXPECT_EQ(dports[0]["port_id"], ports[0]["port_id"]);
    EXPECT_EQ(env.cli_json("vlan show")[0]["vid"], 42);
    EXPECT_EQ(env.cli_json("divert show")[0]["dev"], a);
    EXPECT_EQ(env.cli_json("rule show")[0]["rule"], "udp dport 7000 prio 100 action divert");
    Out st = env.cli("status");
    EXPECT_EQ(st.status, 0);
    EXPECT_TRUE(contains(st.out, "not running")) << st.out;
    EXPECT_TRUE(contains(st.out, a)) << st.out;
    Out ps = env.cli("port show");
    EXPECT_TRUE(contains(ps.err, "not running")) << ps.err;
    EXPECT_TRUE(contains(ps.out, a)) << ps.out;
    // And still nothing changed.
    env.start();
    EXPECT_EQ(env.snapshot(), before);
}

TEST(Cli, MalformedProtocolNeverKillsTheDaemon) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    env.start();
    const std::string before = env.snapshot();

    auto raw = [&](const std::string &bytes, bool wait_reply = true) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        strcpy(sa.sun_path, env.socket.c_str());
        EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)), 0);
        daemon::send_all(fd, bytes);
        std::string reply;
        if (wait_reply) {
            char buf[4096];
            timeval tv{5, 0};
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            while (reply.find('\n') == std::string::npos) {
                ssize_t n = read(fd, buf, sizeof(buf));
                if (n <= 0)
                    break;
                reply.append(buf, static_cast<size_t>(n));
            }
        }
        close(fd);
        return reply;
    };
    const std::pair<std::string, std::string> cases[] = {
        {"garbage\n", "malformed request"},
        {"[]\n", "expected a JSON object"},
        {"{\"v\":1}\n", "\"cmd\" missing"},
        {"{\"v\":3,\"cmd\":\"status\"}\n", "unsupported protocol version 3"},
        {"{\"v\":1,\"cmd\":\"frobnicate\"}\n", "unknown command \"frobnicate\""},
        {"{\"v\":1,\"cmd\":\"port.add\"}\n", "missing argument \"dev\""},
        {"{\"v\":1,\"cmd\":\"port.add\",\"args\":{\"dev\":7}}\n", "must be a string"},
        {"{\"v\":1,\"cmd\":\"port.add\",\"args\":{\"dev\":\"x\",\"devv\":1}}\n",
         "unknown argument \"devv\""},
        {"{\"v\":1,\"cmd\":\"vlan.add\",\"args\":{\"vid\":1e99}}\n", "must be an integer"},
        {"{\"v\":1,\"cmd\":\"rule.add\",\"args\":{\"rule\":{\"dport\":\"x\"}}}\n", ""},
        {"{\"v\":1,\"cmd\":\"rule.replace\",\"args\":{\"rules\":42}}\n", ""},
    };
    for (const auto &[bytes, needle] : cases) {
        std::string reply = raw(bytes);
        ASSERT_FALSE(reply.empty()) << "no answer to " << bytes << env.log();
        json j = json::parse(reply);
        EXPECT_FALSE(j["ok"].get<bool>()) << bytes;
        EXPECT_EQ(j["v"], 1);
        std::string err = j["error"];
        EXPECT_EQ(err.find('\n'), std::string::npos);
        EXPECT_TRUE(contains(err, needle)) << bytes << " -> " << err;
    }
    // Binary garbage with a NUL inside.
    std::string bin = raw(std::string("\xff\xfe\x00\x01\n", 5));
    ASSERT_FALSE(bin.empty());
    EXPECT_TRUE(contains(json::parse(bin)["error"].get<std::string>(), "malformed request"));
    // Half a request, then hang up; many requests in one write; a request split across writes.
    raw("{\"v\":1,\"cmd\":\"sta", false);
    std::string two = raw("{\"v\":1,\"cmd\":\"status\"}\n{\"v\":1,\"cmd\":\"status\"}\n");
    EXPECT_TRUE(json::parse(two.substr(0, two.find('\n')))["ok"].get<bool>());
    EXPECT_EQ(env.cli("status").status, 0);
    EXPECT_TRUE(env.running());
    EXPECT_EQ(env.snapshot(), before);
}
