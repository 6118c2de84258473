// SPDX-License-Identifier: MIT
// oob-bench: the oob data path against its baselines, in one run, on one veth pair between two
// namespaces, client and server pinned to different CPUs, one request in flight:
//   (a) kernel UDP client <-> kernel UDP server, blocking         (oob-ping/oob-echo --kernel)
//   (b) the same, busy-spinning (non-blocking receive in a loop)
//   (c) sockperf ping-pong against a sockperf server, and against oob-echo --sockperf
//   (d) oob-ping <-> oob-echo through the whole stack (classifier -> XSK -> liboob -> TX),
//       busy-polling, on both ends
//   (e) a bare AF_XDP ping-pong (xsk-floor): minimal XDP program, no classifier, no liboob
//   (t) echo throughput, the server pinned to one CPU: one load generator (xsk-floor flood, a
//       window of requests in flight) against a kernel UDP echo (one datagram per system call,
//       and batched with recvmmsg/sendmmsg), oob-echo through the whole stack, and the floor's
//       echo; replies per second and ratios against the kernel echoes
// The kernel cases run with no XDP program on the devices (the stock in-band path); (c) against
// oob-echo and (d) with the classifier staged on both ends as the daemon would; (e) with the
// floor program alone.
//
//   oob-bench [--sizes 64,1472] [--count N] [--warmup N] [--sockperf-seconds S]
//             [--client-cpu C] [--server-cpu C] [--cases a,b,c,d,e,t] [--window W]
//             [--tput-seconds S] [--rounds R] [--json FILE]
// With --rounds R the latency cases run R times, interleaved; each statistic is the median over
// the rounds, each ratio the median of the rounds' ratios (this machine's speed drifts by more
// than the differences measured; a ratio within one round sees the same drift on both sides).
#include "env.h"
#include "stage.h"

#include <CLI/CLI.hpp>
#include <bpf/bpf.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>
#include <tuple>

using namespace oobbpf;
using namespace oobbpf::test;

namespace {

struct Opts {
    std::vector<size_t> sizes{64, 1472};
    uint64_t count = 20000, warmup = 2000;
    int sockperf_seconds = 3;
    int client_cpu = 0, server_cpu = 1;
    std::string json;
    std::vector<std::string> cases{"a", "b", "c", "d", "e", "t"};
    size_t window = 256;
    double tput_seconds = 2;
    int rounds = 1;
    bool want(const std::string &c) const {
        return std::find(cases.begin(), cases.end(), c) != cases.end();
    }
};

// One echo throughput measurement: replies per second with the server on one CPU.
struct Tput {
    std::string id, what;
    size_t size = 0;
    double rate = 0;
    uint64_t sent = 0, replies = 0;
    bool ok = false;
    std::string note;
};

// The tools print their result as one JSON line among other output: the last such line.
std::optional<nlohmann::json> last_json_line(const std::string &out) {
    std::optional<nlohmann::json> j;
    std::istringstream in(out);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty() && line[0] == '{')
            j = nlohmann::json::parse(line);
    return j;
}

Tput from_flood_json(const std::string &id, const std::string &what, size_t size,
                     const std::string &out) {
    Tput t{id, what, size};
    if (auto j = last_json_line(out)) {
        t.rate = (*j)["rate_pps"];
        t.sent = (*j)["sent_measured"];
        t.replies = (*j)["replies_measured"];
        t.ok = t.replies > 0;
    }
    if (!t.ok)
        t.note = out.substr(out.size() > 600 ? out.size() - 600 : 0);
    return t;
}

struct Row {
    std::string id, what;
    size_t size = 0;
    double min = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;  // microseconds
    uint64_t n = 0, lost = 0;
    bool ok = false;
    std::string note;
    nlohmann::json where;  // oob-ping's split of the round trip, when it measured one
    size_t rounds = 1;     // rounds merged into this row
};

std::string tool(const std::string &rel) {
    return build_path(rel);
}

// The server side of an oob case on its own: the classifier staged on the server's device as
// the daemon would (UDP 7000 diverted to queue 0's socket) and oob-echo busy-polling on the
// server's CPU. The echo stops before the classifier goes.
class OobEchoServer {
  public:
    OobEchoServer(const Netns &ns, const std::string &dev, const std::string &root,
                  const std::string &cpu)
        : cls_(root) {
        cls_.attach(ns, dev, 0, 1);
        cls_.divert_udp({7000});
        srv_.emplace(ns.name(), std::vector<std::string>{tool("tools/oob-echo/oob-echo"), "--dev",
                                                         dev, "--port", "7000", "--pin-root", root,
                                                         "--wait", "busy", "--cpu", cpu});
        if (!wait_registered(cls_.xsk_regs_fd(), 0))
            std::fprintf(stderr, "oob-echo did not come up: %s\n", srv_->log().c_str());
    }

  private:
    StagedClassifier cls_;
    std::optional<Spawn> srv_;
};

std::string run_in(const Netns &ns, const std::string &cmd) {
    CmdResult r = sh(ns.prefix() + cmd + " 2>&1");
    return r.out;
}

Row from_ping_json(const std::string &id, const std::string &what, size_t size,
                   const std::string &out) {
    Row r{id, what, size};
    if (auto jl = last_json_line(out)) {
        const nlohmann::json &j = *jl;
        r.n = j["count"];
        r.lost = j["lost"];
        r.min = j["min_ns"].get<double>() / 1e3;
        r.p50 = j["p50_ns"].get<double>() / 1e3;
        r.p90 = j["p90_ns"].get<double>() / 1e3;
        r.p99 = j["p99_ns"].get<double>() / 1e3;
        r.p999 = j["p999_ns"].get<double>() / 1e3;
        r.max = j["max_ns"].get<double>() / 1e3;
        if (j.contains("where"))
            r.where = j["where"];
        if (j.contains("client_rx_split"))
            for (auto &[k, v] : j["client_rx_split"].items())
                r.where["client classifier->delivery: " + k] = v;
        r.ok = r.n > 0;
    }
    if (!r.ok)
        r.note = out.substr(out.size() > 600 ? out.size() - 600 : 0);
    return r;
}

// sockperf run with --full-rtt: its percentiles are round trips, as every other row.
Row from_sockperf(const std::string &id, const std::string &what, size_t size,
                  const std::string &out) {
    Row r{id, what, size};
    auto grab = [&](const std::string &label) -> double {
        std::regex re(label + "\\s*=\\s*([0-9.]+)");
        std::smatch m;
        return std::regex_search(out, m, re) ? std::stod(m[1]) : -1;
    };
    r.min = grab("<MIN> observation");
    r.max = grab("<MAX> observation");
    r.p50 = grab("percentile 50.000");
    r.p90 = grab("percentile 90.000");
    r.p99 = grab("percentile 99.000");
    r.p999 = grab("percentile 99.900");
    std::smatch m;
    if (std::regex_search(out, m, std::regex("ReceivedMessages=([0-9]+)")))
        r.n = std::stoull(m[1]);
    r.ok = r.p50 > 0;
    if (!r.ok)
        r.note = out.substr(out.size() > 600 ? out.size() - 600 : 0);
    return r;
}

void print_rows(const std::vector<Row> &rows) {
    std::printf("\n| case | path | bytes | n | min | p50 | p90 | p99 | p99.9 | max |\n");
    std::printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (auto &r : rows) {
        if (!r.ok) {
            std::printf("| %s | %s | %zu | failed: %s |\n", r.id.c_str(), r.what.c_str(), r.size,
                        r.note.c_str());
            continue;
        }
        std::printf("| %s | %s | %zu | %lu | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
                    r.id.c_str(), r.what.c_str(), r.size, r.n, r.min, r.p50, r.p90, r.p99, r.p999,
                    r.max);
    }
    std::printf("\nround-trip times in microseconds%s\n",
                !rows.empty() && rows.front().rounds > 1 ? "; each the median over the rounds" : "");
    bool header = false;
    for (auto &r : rows) {
        if (!r.ok || !r.where.is_object())
            continue;
        if (!header) {
            std::printf("\nwhere the round trips went (oob-ping's timestamps; p50 in microseconds; "
                        "the client's send completion overlaps the rest)\n\n"
                        "| case | bytes | part | p50 | mean |\n|---|---:|---|---:|---:|\n");
            header = true;
        }
        for (auto &[part, v] : r.where.items())
            std::printf("| %s | %zu | %s | %.2f | %.2f |\n", r.id.c_str(), r.size, part.c_str(),
                        v.value("p50_ns", 0.0) / 1e3, v.value("mean_ns", 0.0) / 1e3);
    }
}

const Row *find(const std::vector<Row> &rows, const std::string &id, size_t size) {
    for (auto &r : rows)
        if (r.id == id && r.size == size && r.ok)
            return &r;
    return nullptr;
}

double median(std::vector<double> v) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// One row per case and size: each statistic the median of the rounds' (counts summed), and the
// split of the round trip part by part the same way.
std::vector<Row> merge_rounds(const std::vector<std::vector<Row>> &rounds) {
    std::vector<Row> out;
    for (auto &round : rounds)
        for (auto &r : round) {
            bool seen = false;
            for (auto &o : out)
                seen |= o.id == r.id && o.size == r.size;
            if (seen)
                continue;
            std::vector<const Row *> same;
            for (auto &rr : rounds)
                for (auto &x : rr)
                    if (x.id == r.id && x.size == r.size && x.ok)
                        same.push_back(&x);
            if (same.empty()) {
                out.push_back(r);
                continue;
            }
            Row m{r.id, r.what, r.size};
            m.ok = true;
            auto med = [&](double Row::*f) {
                std::vector<double> v;
                for (auto *x : same)
                    v.push_back(x->*f);
                return median(v);
            };
            m.min = med(&Row::min);
            m.p50 = med(&Row::p50);
            m.p90 = med(&Row::p90);
            m.p99 = med(&Row::p99);
            m.p999 = med(&Row::p999);
            m.max = med(&Row::max);
            for (auto *x : same) {
                m.n += x->n;
                m.lost += x->lost;
            }
            if (same.front()->where.is_object())
                for (auto &[part, unused] : same.front()->where.items()) {
                    std::vector<double> p50, mean;
                    for (auto *x : same)
                        if (x->where.contains(part)) {
                            p50.push_back(x->where[part].value("p50_ns", 0.0));
                            mean.push_back(x->where[part].value("mean_ns", 0.0));
                        }
                    m.where[part] = {{"p50_ns", median(p50)}, {"mean_ns", median(mean)}};
                }
            m.rounds = same.size();
            out.push_back(m);
        }
    return out;
}

// The targets, each the median over rounds of the ratio within a round (both cases of a ratio
// ran minutes apart at most, in the same round), with the rounds' range beside it.
nlohmann::json ratios(const std::vector<std::vector<Row>> &rounds, const Opts &o) {
    struct Check {
        const char *num, *den, *stat;
        double target;
    };
    const Check checks[] = {{"d", "a", "p50", 0.35},        {"d", "b", "p50", 0.6},
                            {"d", "b", "p99", 0.6},         {"d", "e", "p50", 1.15},
                            {"d", "e", "p99", 0},           {"c-oob", "c-kernel", "p50", 0},
                            {"c-oob", "c-kernel", "p99", 0}};
    nlohmann::json out = nlohmann::json::array();
    std::printf("\n| ratio | bytes | value | rounds: min - max | target |\n"
                "|---|---:|---:|---|---|\n");
    for (size_t size : o.sizes)
        for (auto &c : checks) {
            std::vector<double> vs;
            for (auto &rows : rounds) {
                const Row *n = find(rows, c.num, size), *d = find(rows, c.den, size);
                if (!n || !d)
                    continue;
                auto pick = [&](const Row *r) {
                    return std::string(c.stat) == "p50" ? r->p50 : r->p99;
                };
                vs.push_back(pick(n) / pick(d));
            }
            if (vs.empty())
                continue;
            const double v = median(vs);
            const double lo = *std::min_element(vs.begin(), vs.end());
            const double hi = *std::max_element(vs.begin(), vs.end());
            std::string target = c.target > 0 ? "<= " + std::to_string(c.target).substr(0, 4) +
                                                    (v <= c.target ? " met" : " missed")
                                              : "-";
            std::printf("| (%s)/(%s) %s | %zu | %.2f | %.2f - %.2f (%zu) | %s |\n", c.num, c.den,
                        c.stat, size, v, lo, hi, vs.size(), target.c_str());
            out.push_back({{"ratio", std::string(c.num) + "/" + c.den},
                           {"stat", c.stat},
                           {"size", size},
                           {"value", v},
                           {"rounds", vs.size()},
                           {"min", lo},
                           {"max", hi},
                           {"target", c.target}});
        }
    return out;
}

}  // namespace

int main(int argc, char **argv) {
    Opts o;
    CLI::App app{"oob path benchmark: kernel baselines, sockperf, liboob, bare AF_XDP"};
    app.add_option("--sizes", o.sizes, "UDP payload sizes")->delimiter(',');
    app.add_option("--count", o.count, "measured round trips per case and size");
    app.add_option("--warmup", o.warmup, "round trips before measuring");
    app.add_option("--sockperf-seconds", o.sockperf_seconds, "duration of each sockperf run");
    app.add_option("--client-cpu", o.client_cpu);
    app.add_option("--server-cpu", o.server_cpu);
    app.add_option("--json", o.json, "write the results here");
    app.add_option("--rounds", o.rounds,
                   "run the latency cases this many times, interleaved; medians are reported")
        ->check(CLI::Range(1, 100));
    app.add_option("--window", o.window, "requests in flight in the throughput case (t)");
    app.add_option("--tput-seconds", o.tput_seconds, "measured seconds per throughput run (t)");
    app.add_option("--cases", o.cases,
                   "which cases to run: a,b,c,d,e,t; diagnostics f (floor ping -> oob-echo) and g "
                   "(oob-ping -> floor echo)")
        ->delimiter(',');
    CLI11_PARSE(app, argc, argv);
#ifdef OOBBPF_BUILD_DIR
    setenv("OOBBPF_BUILD", OOBBPF_BUILD_DIR, 0);  // where oob-echo, oob-ping and xsk-floor are
#endif
    if (!privileged()) {
        std::fprintf(stderr, "oob-bench: needs root\n");
        return 77;
    }
    auto trim = [](std::string x) {
        while (!x.empty() && (x.back() == '\n' || x.back() == ' '))
            x.pop_back();
        return x;
    };
    const std::string load = trim(sh("cat /proc/loadavg").out);
    std::printf("oob-bench: %s CPUs, load %s\n", trim(sh("nproc").out).c_str(), load.c_str());
    std::printf("client on CPU %d, server on CPU %d; %lu round trips (+%lu warm-up) per case and "
                "round, %d round(s)\n",
                o.client_cpu, o.server_cpu, o.count, o.warmup, o.rounds);

    Netns cns, sns;
    Veth v = make_veth(cns, sns, "10.88.0.1/24", "10.88.0.2/24");
    const std::string C = std::to_string(o.client_cpu), S = std::to_string(o.server_cpu);
    const std::string srv_ip = "10.88.0.2", cli_ip = "10.88.0.1";
    const std::string mac_s = oob::mac_str(mac_of(sns, v.b));
    const std::string counts =
        " --count " + std::to_string(o.count) + " --warmup " + std::to_string(o.warmup);
    // Neighbours resolved once, before anything is measured.
    run_in(cns, "ping -c 2 -i 0.2 -W 1 " + srv_ip + " >/dev/null");

    // The latency cases, all of them once per round: rounds interleave the cases in time, so a
    // slow spell of this machine touches every case alike; medians over rounds are reported.
    std::vector<std::vector<Row>> per_round;
    for (int round = 0; round < o.rounds; round++) {
        std::vector<Row> rows;
        // (a) and (b): kernel sockets, no XDP on the devices.
        for (std::string wait : {"sleep", "busy"}) {
            const std::string id = wait == "sleep" ? "a" : "b";
            if (!o.want(id))
                continue;
            Spawn srv(sns.name(), {tool("tools/oob-echo/oob-echo"), "--kernel", "--port", "7001",
                                   "--wait", wait, "--cpu", S});
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            for (size_t size : o.sizes) {
                std::string out =
                    run_in(cns, tool("tools/oob-ping/oob-ping") + " --kernel --to " + srv_ip +
                                    " --port 7001 --local-port 9001 --wait " + wait + " --size " +
                                    std::to_string(size) + counts + " --cpu " + C + " -j");
                rows.push_back(from_ping_json(
                    id, "kernel UDP, " + std::string(wait == "sleep" ? "blocking" : "busy"), size,
                    out));
            }
        }
        // (c) sockperf against a sockperf server (kernel).
        const std::string sp_time = " -t " + std::to_string(o.sockperf_seconds);
        if (o.want("c")) {
            Spawn srv(sns.name(),
                      {"taskset", "-c", S, "sockperf", "server", "-i", srv_ip, "-p", "7002"});
            std::this_thread::sleep_for(std::chrono::milliseconds(500));
            for (size_t size : o.sizes)
                rows.push_back(from_sockperf(
                    "c-kernel", "sockperf -> sockperf server", size,
                    run_in(cns, "taskset -c " + C + " sockperf ping-pong -i " + srv_ip +
                                    " -p 7002 --full-rtt -m " + std::to_string(size) + sp_time)));
        }

        // The classifier on both ends, as the daemon would stage it: UDP 7000 diverted on the server
        // side, UDP 9000 (oob-ping's replies) on the client side.
        if (o.want("c") || o.want("d")) {
            const std::string sroot = make_pin_root(), croot = make_pin_root();
            {
                StagedClassifier scls(sroot), ccls(croot);
                scls.attach(sns, v.b, 0, 1);
                scls.divert_udp({7000});
                ccls.attach(cns, v.a, 0, 1);
                ccls.divert_udp({9000});

                // (c) sockperf against oob-echo.
                if (o.want("c")) {
                    Spawn srv(sns.name(),
                              {tool("tools/oob-echo/oob-echo"), "--dev", v.b, "--port", "7000",
                               "--pin-root", sroot, "--sockperf", "--wait", "busy", "--cpu", S});
                    if (!wait_registered(scls.xsk_regs_fd(), 0))
                        std::fprintf(stderr, "oob-echo did not come up: %s\n", srv.log().c_str());
                    for (size_t size : o.sizes)
                        rows.push_back(
                            from_sockperf("c-oob", "sockperf -> oob-echo", size,
                                          run_in(cns, "taskset -c " + C + " sockperf ping-pong -i " +
                                                          srv_ip + " -p 7000 --full-rtt -m " +
                                                          std::to_string(size) + sp_time)));
                }
                // (d) oob-ping <-> oob-echo.
                if (o.want("d")) {
                    Spawn srv(sns.name(), {tool("tools/oob-echo/oob-echo"), "--dev", v.b, "--port",
                                           "7000", "--pin-root", sroot, "--wait", "busy", "--cpu", S});
                    if (!wait_registered(scls.xsk_regs_fd(), 0))
                        std::fprintf(stderr, "oob-echo did not come up: %s\n", srv.log().c_str());
                    for (size_t size : o.sizes) {
                        std::string out =
                            run_in(cns, tool("tools/oob-ping/oob-ping") + " --dev " + v.a +
                                            " --pin-root " + croot + " --to " + srv_ip +
                                            " --port 7000 --local-port 9000 --wait busy --size " +
                                            std::to_string(size) + counts + " --cpu " + C + " -j");
                        rows.push_back(from_ping_json("d", "oob-ping -> oob-echo (liboob)", size, out));
                    }
                }
            }
            remove_pin_root(sroot);
            remove_pin_root(croot);
        }

        // (e) the floor: its own XDP program on both ends, raw rings.
        if (o.want("e")) {
            Spawn srv(sns.name(), {tool("tools/bench/oob/xsk-floor"), "echo", "--dev", v.b, "--port",
                                   "7003", "--cpu", S});
            std::this_thread::sleep_for(std::chrono::milliseconds(800));
            for (size_t size : o.sizes) {
                std::string out =
                    run_in(cns, tool("tools/bench/oob/xsk-floor") + " ping --dev " + v.a +
                                    " --port 9003 --to " + srv_ip + " --to-port 7003 --dst-mac " +
                                    mac_s + " --src " + cli_ip + " --size " + std::to_string(size) +
                                    counts + " --cpu " + C + " -j");
                rows.push_back(from_ping_json("e", "bare AF_XDP (xsk-floor)", size, out));
            }
        }

        // Diagnostics (not run by default): one end on liboob, the other the floor, to tell which
        // end the difference between (d) and (e) comes from.
        if (o.want("f")) {
            const std::string root = make_pin_root();
            {
                OobEchoServer srv(sns, v.b, root, S);
                for (size_t size : o.sizes)
                    rows.push_back(from_ping_json(
                        "f", "xsk-floor ping -> oob-echo", size,
                        run_in(cns, tool("tools/bench/oob/xsk-floor") + " ping --dev " + v.a +
                                        " --port 9003 --to " + srv_ip + " --to-port 7000 --dst-mac " +
                                        mac_s + " --src " + cli_ip + " --size " + std::to_string(size) +
                                        counts + " --cpu " + C + " -j")));
            }
            remove_pin_root(root);
        }
        if (o.want("g")) {
            const std::string root = make_pin_root();
            {
                StagedClassifier ccls(root);
                ccls.attach(cns, v.a, 0, 1);
                ccls.divert_udp({9000});
                Spawn srv(sns.name(), {tool("tools/bench/oob/xsk-floor"), "echo", "--dev", v.b,
                                       "--port", "7003", "--cpu", S});
                std::this_thread::sleep_for(std::chrono::milliseconds(800));
                for (size_t size : o.sizes)
                    rows.push_back(from_ping_json(
                        "g", "oob-ping -> xsk-floor echo", size,
                        run_in(cns, tool("tools/oob-ping/oob-ping") + " --dev " + v.a + " --pin-root " +
                                        root + " --to " + srv_ip +
                                        " --port 7003 --local-port 9000 --wait busy --size " +
                                        std::to_string(size) + counts + " --cpu " + C + " -j")));
            }
            remove_pin_root(root);
        }
        per_round.push_back(std::move(rows));
    }
    const std::vector<Row> rows = merge_rounds(per_round);

    // (t) echo throughput: the same generator (client CPU) against each echo (server CPU).
    std::vector<Tput> tput;
    if (o.want("t")) {
        auto generate = [&](const std::string &id, const std::string &what, uint16_t port,
                            size_t size) {
            const std::string out = run_in(
                cns, tool("tools/bench/oob/xsk-floor") + " flood --dev " + v.a +
                         " --port 9003 --to " + srv_ip + " --to-port " + std::to_string(port) +
                         " --dst-mac " + mac_s + " --src " + cli_ip + " --size " +
                         std::to_string(size) + " --window " + std::to_string(o.window) +
                         " --seconds " + std::to_string(o.tput_seconds) + " --cpu " + C + " -j");
            tput.push_back(from_flood_json(id, what, size, out));
        };
        {
            Spawn srv(sns.name(), {tool("tools/oob-echo/oob-echo"), "--kernel", "--port", "7001",
                                   "--wait", "busy", "--cpu", S});
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            for (size_t size : o.sizes)
                generate("t-kernel", "kernel UDP echo, recvfrom/sendto", 7001, size);
        }
        {
            Spawn srv(sns.name(), {tool("tools/bench/oob/kernel-echo"), "--port", "7004",
                                   "--batch", "64", "--wait", "busy", "--cpu", S});
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            for (size_t size : o.sizes)
                generate("t-kmmsg", "kernel UDP echo, recvmmsg/sendmmsg x64", 7004, size);
        }
        const std::string root = make_pin_root();
        {
            OobEchoServer srv(sns, v.b, root, S);
            for (size_t size : o.sizes)
                generate("t-oob", "oob-echo (classifier + liboob)", 7000, size);
        }
        remove_pin_root(root);
        {
            Spawn srv(sns.name(), {tool("tools/bench/oob/xsk-floor"), "echo", "--dev", v.b,
                                   "--port", "7003", "--cpu", S});
            std::this_thread::sleep_for(std::chrono::milliseconds(800));
            for (size_t size : o.sizes)
                generate("t-floor", "bare AF_XDP echo (xsk-floor)", 7003, size);
        }
    }

    print_rows(rows);
    nlohmann::json rj = ratios(per_round, o);
    nlohmann::json tj = nlohmann::json::array(), trj = nlohmann::json::array();
    if (!tput.empty()) {
        std::printf("\n| case | echo server (one CPU) | bytes | requests | replies | replies/s |\n"
                    "|---|---|---:|---:|---:|---:|\n");
        for (auto &t : tput) {
            if (!t.ok)
                std::printf("| %s | %s | %zu | failed: %s |\n", t.id.c_str(), t.what.c_str(),
                            t.size, t.note.c_str());
            else
                std::printf("| %s | %s | %zu | %lu | %lu | %.0f |\n", t.id.c_str(),
                            t.what.c_str(), t.size, t.sent, t.replies, t.rate);
            tj.push_back({{"case", t.id},
                          {"path", t.what},
                          {"size", t.size},
                          {"sent", t.sent},
                          {"replies", t.replies},
                          {"rate_pps", t.rate},
                          {"ok", t.ok}});
        }
        auto rate = [&](const std::string &id, size_t size) -> double {
            for (auto &t : tput)
                if (t.id == id && t.size == size && t.ok)
                    return t.rate;
            return 0;
        };
        std::printf("\n| throughput ratio | bytes | value | target |\n|---|---:|---:|---|\n");
        for (size_t size : o.sizes)
            for (auto [num, den, target] :
                 {std::tuple{"t-oob", "t-kernel", 3.0}, std::tuple{"t-oob", "t-kmmsg", 3.0},
                  std::tuple{"t-floor", "t-kmmsg", 0.0}, std::tuple{"t-oob", "t-floor", 0.0}}) {
                const double a = rate(num, size), b = rate(den, size);
                if (a <= 0 || b <= 0)
                    continue;
                const double ratio = a / b;
                std::printf("| (%s)/(%s) replies/s | %zu | %.2f | %s |\n", num, den, size, ratio,
                            target > 0 ? (ratio >= target ? ">= 3 met" : ">= 3 missed") : "-");
                trj.push_back({{"ratio", std::string(num) + "/" + den},
                               {"stat", "replies/s"},
                               {"size", size},
                               {"value", ratio},
                               {"target_min", target}});
            }
    }
    if (!o.json.empty()) {
        nlohmann::json j;
        j["load"] = load;
        j["ratios"] = rj;
        j["throughput"] = tj;
        j["throughput_ratios"] = trj;
        for (auto &r : rows)
            j["rows"].push_back({{"case", r.id},
                                 {"path", r.what},
                                 {"size", r.size},
                                 {"n", r.n},
                                 {"lost", r.lost},
                                 {"min_us", r.min},
                                 {"p50_us", r.p50},
                                 {"p90_us", r.p90},
                                 {"p99_us", r.p99},
                                 {"p999_us", r.p999},
                                 {"max_us", r.max},
                                 {"rounds", r.rounds},
                                 {"ok", r.ok}});
        std::ofstream(o.json) << j.dump(2) << std::endl;
    }
    return 0;
}
