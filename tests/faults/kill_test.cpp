// SPDX-License-Identifier: MIT
// oobbpfd SIGKILLed at random points of a rule import (a big JSON rule set) and of a selector
// replacement, under mixed traffic, then restarted.
//
// What a user may expect, and what is asserted:
//   - while the daemon is down the classifier keeps running from its pinned maps: every frame is
//     judged by the old rule set (selector) or by the new one, never by a mix of the two: probes
//     into both sets agree on one generation;
//   - after the restart the data path runs what the saved configuration says (a change whose
//     command got no answer may or may not be in it), and the CLI shows the same;
//   - a flow that every configuration diverts arrives on the oob side, datagram for datagram; a
//     flow that none diverts, ping and a TCP stream arrive in-band, nothing lost;
//   - after a clean stop the pin root holds the same pins as before the faults (nothing
//     half-made left), and `oobbpfd --cleanup` leaves no pin and no XDP program behind.
// The kill points are seeded (OOBBPF_FAULT_SEED repeats a run; the seed is printed): random
// delays into the command, and the instant the data path flips (the worst case: new state live,
// the configuration not yet saved).
#include "daemon_env.h"
#include "datapath.h"
#include "traffic.h"

#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <oobbpf/abi.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <random>
#include <set>

using namespace oobbpf;
using namespace oobbpf::test;
using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint16_t kAlwaysOob = 7000;  // diverted by every configuration
constexpr uint16_t kInband = 7002;     // diverted by none
constexpr uint16_t kTcp = 7003;
constexpr uint16_t kSelA = 7100, kSelB = 7101;
constexpr int kRules = 4000;  // per rule set
constexpr uint16_t kBaseA = 20000, kBaseB = 30000;
constexpr int kProbes = 8;  // sampled ports per rule set

unsigned fault_seed() {
    const char *s = std::getenv("OOBBPF_FAULT_SEED");
    unsigned seed = s && *s ? static_cast<unsigned>(std::strtoul(s, nullptr, 0))
                            : std::random_device{}();
    std::printf("fault seed %u (OOBBPF_FAULT_SEED=%u repeats this run)\n", seed, seed);
    std::fflush(stdout);
    return seed;
}

enum class Gen { A, B, Mixed };
const char *gen_name(Gen g) {
    return g == Gen::A ? "A" : g == Gen::B ? "B" : "a mix";
}

// A rule set: kAlwaysOob, and kRules ports from base, all diverted.
std::string rule_set(uint16_t base) {
    json a = json::array();
    a.push_back({{"l4proto", "udp"}, {"dport", kAlwaysOob}, {"action", "divert"}});
    for (int i = 0; i < kRules; i++)
        a.push_back({{"l4proto", "udp"}, {"dport", base + i}, {"action", "divert"}});
    return a.dump();
}

// The generation the probes see: A's ports diverted and B's not, or the reverse.
Gen judge(const std::map<uint16_t, Side> &seen, const std::vector<uint16_t> &a,
          const std::vector<uint16_t> &b, std::string &why) {
    auto all = [&](const std::vector<uint16_t> &ports, Side s) {
        for (uint16_t p : ports)
            if (seen.at(p) != s)
                return false;
        return true;
    };
    if (all(a, Side::Oob) && all(b, Side::Kernel))
        return Gen::A;
    if (all(b, Side::Oob) && all(a, Side::Kernel))
        return Gen::B;
    for (const auto &[p, s] : seen)
        why += std::to_string(p) + ":" + side_name(s) + " ";
    return Gen::Mixed;
}

json saved_config(const DaemonEnv &env) {
    std::ifstream in(env.state_dir + "/config.json");
    return json::parse(in);
}

// Which rule set the saved configuration holds.
Gen saved_rules(const DaemonEnv &env) {
    const json cfg = saved_config(env);
    for (const auto &r : cfg["rules"])
        if (r["dport"] != kAlwaysOob)
            return r["dport"].get<int>() >= kBaseB ? Gen::B : Gen::A;
    return Gen::Mixed;
}

Gen saved_selector(const DaemonEnv &env, const std::string &dev) {
    const json cfg = saved_config(env);
    const std::string f = cfg["selectors"][dev]["file"];
    return f.find("flt_sel_b") != std::string::npos ? Gen::B : Gen::A;
}

size_t map_entries(const std::string &pin) {
    UniqueFd fd(bpf_obj_get(pin.c_str()));
    size_t n = 0;
    oob_rule_key k{}, next{};
    const void *prev = nullptr;
    while (bpf_map_get_next_key(fd.get(), prev, &next) == 0) {
        n++;
        k = next;
        prev = &k;
    }
    return n;
}

// Every pin under root, as relative paths.
std::set<std::string> pins_under(const std::string &root) {
    std::set<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::end(it); it.increment(ec))
        out.insert(fs::relative(it->path(), root).string());
    return out;
}

// Processes inside a namespace (the daemon's children would show here after a SIGKILL).
std::string pids_in(const Netns &ns) {
    return sh("ip netns pids " + ns.name()).out;
}

uint32_t xdp_prog_on(const DaemonEnv &env) {
    std::string o = env.oob.sh("ip -d link show " + env.veth.a).out;
    auto p = o.find("prog/xdp id ");
    return p == std::string::npos ? 0 : static_cast<uint32_t>(std::stoul(o.substr(p + 12)));
}

// Waits (polling the pinned map) until f() is true, then SIGKILLs the daemon; false on timeout.
template <typename F>
bool kill_when(pid_t pid, F f, int timeout_ms = 30000) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < deadline) {
        if (f()) {
            kill(pid, SIGKILL);
            return true;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    return false;
}

// How long `oobbpf cmd` takes here, run once and timed (undo puts back what it changed): the
// random kill points fall within it. -1 when either fails.
long long cli_us(DaemonEnv &env, const std::string &cmd, const std::string &undo) {
    const auto t0 = Clock::now();
    if (env.cli(cmd).status != 0)
        return -1;
    const long long us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count();
    return env.cli(undo).status == 0 ? us : -1;
}

// The kill of one round: `oobbpf cmd` runs in the background and the daemon is SIGKILLed, at
// the flip (when flipped() first holds) or after delay_us; then it is down. The CLI's answer,
// or nothing when the flip never came (the daemon still runs).
template <typename F>
std::optional<Out> kill_during(DaemonEnv &env, const std::string &cmd, bool at_flip,
                               long long delay_us, F flipped) {
    auto cli = std::async(std::launch::async, [&] { return env.cli(cmd); });
    if (at_flip) {
        if (!kill_when(env.pid(), flipped))
            return std::nullopt;
    } else {
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
        kill(env.pid(), SIGKILL);
    }
    env.stop(SIGKILL);
    return cli.get();
}

std::string how_killed(bool at_flip, const char *flip, long long delay_us) {
    return at_flip ? std::string("killed at the ") + flip
                   : "killed after " + std::to_string(delay_us / 1000) + " ms";
}

void print_round(int round, const std::string &how, const Out &answer, Gen down, Gen saved,
                 Gen up) {
    std::printf("round %d: %s; answered %s; down: %s, saved: %s, after restart: %s\n", round,
                how.c_str(), answer.status == 0 ? "yes" : "no", gen_name(down), gen_name(saved),
                gen_name(up));
}

uint32_t rule_gen(int config_fd) {
    uint32_t zero = 0;
    oob_config c{};
    bpf_map_lookup_elem(config_fd, &zero, &c);
    return c.rule_gen;
}

uint32_t slot_prog(int sel_fd, uint32_t slot) {
    uint32_t id = 0;
    bpf_map_lookup_elem(sel_fd, &slot, &id);  // a prog array answers with the program's id
    return id;
}

std::string prog_name(uint32_t id) {
    UniqueFd fd(bpf_prog_get_fd_by_id(id));
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (!fd || bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0)
        return "";
    return info.name;
}

std::vector<uint16_t> sample(std::mt19937 &rng, uint16_t base) {
    std::set<uint16_t> s;
    std::uniform_int_distribution<int> d(0, kRules - 1);
    while (s.size() < kProbes)
        s.insert(static_cast<uint16_t>(base + d(rng)));
    return {s.begin(), s.end()};
}

struct Mixed {
    // In-band traffic beside the UDP flows: ping and a TCP stream, both through the classifier.
    Mixed(const DaemonEnv &env)
        : ping("nsenter --net=/run/netns/" + env.peer.name() + " -- ping -q -i 0.02 10.77.0.1"),
          tcp(env, kTcp, 2000) {}
    Background ping;
    TcpStream tcp;
};

void expect_nothing_lost(Traffic &t, Mixed &m) {
    auto flows = t.stop_flows();
    const auto &oob = flows[kAlwaysOob];
    const auto &inb = flows[kInband];
    std::printf("flows: %u sent %llu (oob %llu, kernel %llu, lost %llu); %u sent %llu (kernel "
                "%llu, oob %llu, lost %llu)\n",
                kAlwaysOob, (unsigned long long)oob.sent, (unsigned long long)oob.oob,
                (unsigned long long)oob.kernel, (unsigned long long)oob.lost, kInband,
                (unsigned long long)inb.sent, (unsigned long long)inb.kernel,
                (unsigned long long)inb.oob, (unsigned long long)inb.lost);
    EXPECT_GT(oob.sent, 1000u);
    EXPECT_EQ(oob.oob, oob.sent) << "diverted flow: misclassified " << oob.kernel << ", lost "
                                 << oob.lost;
    EXPECT_EQ(inb.kernel, inb.sent) << "in-band flow: misclassified " << inb.oob << ", lost "
                                    << inb.lost;
    auto [tx, rx] = ping_counts(m.ping.stop());
    std::printf("ping: %d transmitted, %d received\n", tx, rx);
    EXPECT_GT(tx, 100);
    // The last echo request may be in flight when ping is stopped.
    EXPECT_GE(rx, tx - 1);
    auto tr = m.tcp.stop();
    std::printf("tcp: %llu records sent, %llu received\n", (unsigned long long)tr.sent,
                (unsigned long long)tr.received);
    EXPECT_EQ(tr.error, "");
    EXPECT_EQ(tr.received, tr.sent);
    EXPECT_TRUE(tr.in_order);
}

// After a clean stop: the pins of before the faults, no more; after --cleanup: nothing.
void expect_clean_stop(DaemonEnv &env, const std::set<std::string> &pins_before) {
    env.stop(SIGTERM);
    EXPECT_EQ(pins_under(env.pin_root), pins_before);
    EXPECT_NE(xdp_prog_on(env), 0u) << "diversion must survive a clean stop";
    Out c = env.cleanup("--purge");
    EXPECT_EQ(c.status, 0) << c.err;
    EXPECT_FALSE(fs::exists(env.pin_root)) << "left: " << sh("find " + env.pin_root).out;
    EXPECT_EQ(xdp_prog_on(env), 0u);
    EXPECT_FALSE(fs::exists(env.socket));
    EXPECT_EQ(pids_in(env.oob), "");
}

}  // namespace

TEST(Kill, DuringRuleImportUnderTraffic) {
    OOBBPF_REQUIRE_PRIVILEGE();
    std::mt19937 rng(fault_seed());
    DaemonEnv env;
    env.start();
    const std::string a = env.veth.a;
    ASSERT_EQ(env.cli("port add " + a).status, 0);
    const std::string file_a = env.dir + "/rules-a.json", file_b = env.dir + "/rules-b.json";
    std::ofstream(file_a) << rule_set(kBaseA);
    std::ofstream(file_b) << rule_set(kBaseB);
    const auto probes_a = sample(rng, kBaseA), probes_b = sample(rng, kBaseB);
    std::vector<uint16_t> probes = probes_a;
    probes.insert(probes.end(), probes_b.begin(), probes_b.end());
    std::vector<uint16_t> ports = probes;
    ports.insert(ports.end(), {kAlwaysOob, kInband});

    Out first = env.cli("rule import " + file_a);
    ASSERT_EQ(first.status, 0) << first.err;
    Traffic t(env, ports);
    std::string why;
    ASSERT_EQ(judge(t.probe_all(probes), probes_a, probes_b, why), Gen::A) << why;
    const long long import_us = cli_us(env, "rule import " + file_b, "rule import " + file_a);
    ASSERT_GE(import_us, 0);
    std::printf("one import of %d rules: %lld ms\n", kRules + 1,
                static_cast<long long>(import_us / 1000));
    const auto pins_before = pins_under(env.pin_root);

    Mixed mixed(env);
    t.start_flows({kAlwaysOob, kInband}, 1000);
    Gen current = Gen::A;
    const int kRounds = 6;
    std::uniform_int_distribution<long long> delay(0, import_us * 6 / 5);
    for (int round = 0; round < kRounds; round++) {
        const bool at_flip = round % 3 == 2;
        const Gen target = current == Gen::A ? Gen::B : Gen::A;
        const long long d = delay(rng);
        const std::string how = how_killed(at_flip, "flip", d);
        SCOPED_TRACE("round " + std::to_string(round) + ": import of " + gen_name(target) + ", " +
                     how);
        UniqueFd config(bpf_obj_get((env.pin_root + "/" + OOB_PIN_CONFIG).c_str()));
        const uint32_t gen0 = rule_gen(config.get());
        auto killed =
            kill_during(env, "rule import " + (target == Gen::A ? file_a : file_b), at_flip, d,
                        [&] { return rule_gen(config.get()) != gen0; });
        ASSERT_TRUE(killed);
        const Out answer = *killed;

        // Down: the classifier runs one generation, whole.
        why.clear();
        const Gen down = judge(t.probe_all(probes), probes_a, probes_b, why);
        EXPECT_NE(down, Gen::Mixed) << why;
        if (answer.status == 0) {
            EXPECT_EQ(down, target) << "the import was answered, so it is in place";
        }
        const Gen saved = saved_rules(env);
        ASSERT_NE(saved, Gen::Mixed) << saved_config(env).dump().substr(0, 2000);
        if (answer.status == 0) {
            EXPECT_EQ(saved, target);
        }
        // Nothing of the daemon runs on (no child of it left behind).
        EXPECT_EQ(pids_in(env.oob), "");

        env.start();
        why.clear();
        const Gen up = judge(t.probe_all(probes), probes_a, probes_b, why);
        print_round(round, how, answer, down, saved, up);
        EXPECT_EQ(up, saved) << why;
        // What the CLI shows is what runs; the rules map holds that set and nothing else.
        json shown = env.cli_json("rule show");
        EXPECT_EQ(shown.size(), static_cast<size_t>(kRules + 1));
        size_t in_saved = 0;
        const int base = saved == Gen::A ? kBaseA : kBaseB;
        for (const auto &r : shown) {
            const int dport = r["spec"]["dport"].get<int>();
            in_saved += r["state"] == "active" &&
                        (dport == kAlwaysOob || (dport >= base && dport < base + kRules));
        }
        EXPECT_EQ(in_saved, static_cast<size_t>(kRules + 1));
        EXPECT_EQ(map_entries(env.pin_root + "/" + OOB_PIN_RULES), static_cast<size_t>(kRules + 1))
            << "entries of an unfinished generation left in the rules map";
        current = up;
    }
    expect_nothing_lost(t, mixed);
    expect_clean_stop(env, pins_before);
}

TEST(Kill, DuringSelectorReplacementUnderTraffic) {
    OOBBPF_REQUIRE_PRIVILEGE();
    std::mt19937 rng(fault_seed());
    DaemonEnv env;
    env.start();
    const std::string a = env.veth.a;
    const std::string obj_a = std::string(OOBBPF_BPF_DIR) + "/flt_sel_a.bpf.o";
    const std::string obj_b = std::string(OOBBPF_BPF_DIR) + "/flt_sel_b.bpf.o";
    ASSERT_EQ(env.cli("port add " + a).status, 0);
    ASSERT_EQ(env.cli("rule add udp dport 7000 action divert").status, 0);
    Out first = env.cli("load " + a + " " + obj_a);
    ASSERT_EQ(first.status, 0) << first.err;
    Traffic t(env, {kAlwaysOob, kInband, kSelA, kSelB});
    const std::vector<uint16_t> pa = {kSelA}, pb = {kSelB}, probes = {kSelA, kSelB};
    std::string why;
    ASSERT_EQ(judge(t.probe_all(probes), pa, pb, why), Gen::A) << why;
    const long long load_us = cli_us(env, "load " + a + " " + obj_b, "load " + a + " " + obj_a);
    ASSERT_GE(load_us, 0);
    std::printf("one selector replacement: %lld ms\n", static_cast<long long>(load_us / 1000));
    const auto pins_before = pins_under(env.pin_root);
    const uint32_t slot = [&] {
        UniqueFd devs(bpf_obj_get((env.pin_root + "/" + OOB_PIN_DEVS).c_str()));
        uint32_t ifindex = static_cast<uint32_t>(env.oob.ifindex(a));
        oob_dev d{};
        bpf_map_lookup_elem(devs.get(), &ifindex, &d);
        return d.slot;
    }();

    Mixed mixed(env);
    t.start_flows({kAlwaysOob, kInband}, 1000);
    Gen current = Gen::A;
    const int kRounds = 6;
    std::uniform_int_distribution<long long> delay(0, load_us * 6 / 5);
    for (int round = 0; round < kRounds; round++) {
        const bool at_flip = round % 3 == 2;
        const Gen target = current == Gen::A ? Gen::B : Gen::A;
        const long long d = delay(rng);
        const std::string how = how_killed(at_flip, "swap", d);
        SCOPED_TRACE("round " + std::to_string(round) + ": replacement by " + gen_name(target) +
                     ", " + how);
        UniqueFd sel(bpf_obj_get((env.pin_root + "/" + OOB_PIN_SELECTORS).c_str()));
        const uint32_t prog0 = slot_prog(sel.get(), slot);
        auto killed = kill_during(env, "load " + a + " " + (target == Gen::A ? obj_a : obj_b),
                                  at_flip, d, [&] { return slot_prog(sel.get(), slot) != prog0; });
        ASSERT_TRUE(killed);
        const Out answer = *killed;

        // Down: one selector judges, whole: its port diverted, the other's not (never neither).
        why.clear();
        const Gen down = judge(t.probe_all(probes), pa, pb, why);
        EXPECT_NE(down, Gen::Mixed) << why;
        const Gen saved = saved_selector(env, a);
        if (answer.status == 0) {
            EXPECT_EQ(down, target);
            EXPECT_EQ(saved, target);
        }
        // The loader's child (it opens the object) does not outlive the daemon for long.
        std::string left;
        for (int i = 0; i < 50 && !(left = pids_in(env.oob)).empty(); i++)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        EXPECT_EQ(left, "");

        env.start();
        why.clear();
        const Gen up = judge(t.probe_all(probes), pa, pb, why);
        print_round(round, how, answer, down, saved, up);
        EXPECT_EQ(up, saved) << why;
        // The slot runs the selector the configuration names, and the pins say the same.
        const std::string expect = saved == Gen::A ? "flt_sel_a" : "flt_sel_b";
        EXPECT_EQ(prog_name(slot_prog(sel.get(), slot)), expect);
        EXPECT_EQ(sh("bpftool -j prog show pinned " + env.pin_root + "/selector/" + a +
                     "/prog | grep -o '\"name\":\"[a-z_]*\"'")
                      .out,
                  "\"name\":\"" + expect + "\"\n");
        EXPECT_EQ(pins_under(env.pin_root), pins_before) << "pins half-made by the killed load";
        current = up;
    }
    expect_nothing_lost(t, mixed);
    expect_clean_stop(env, pins_before);
}
