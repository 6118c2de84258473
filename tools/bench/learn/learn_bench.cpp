// SPDX-License-Identifier: MIT
// Route learning benchmarks, each with its baseline in the same run, interleaved:
//
//  1. In-band cost of learning: a UDP sender in a namespace sends to many destinations behind
//     an oob port (unconnected sendto(), and connect()+send() on one socket), rounds alternating
//     between the learner stopped (no tracepoint program attached) and running with the tp_btf
//     back-end (its entries already learned: the steady state of a running system). Target:
//     on/off <= 1.05.
//  2. oob lookup cost: the learned entries looked up in the lock-free cache (route_cache.h, what
//     the oob send path does) versus a bpf() map lookup in the pinned routes map, rounds
//     alternating. Target: cache/syscall <= 0.2.
//
// Needs root (namespaces, BPF). Creates and removes two namespaces and a pin root.
// Times are the sender thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which a shared machine
// disturbs far less than wall time; --aa runs the same blocks with the netlink back-end in the
// "on" rounds (nothing attached), so its ratios show the harness' own noise.
//   learn_bench [--dests N] [--ops N] [--rounds N] [--lookups N] [--cpu N] [--aa] [--trace]
//               [--json]
#include "learner.h"
#include "route_cache.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <fcntl.h>
#include <nlohmann/json.hpp>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace oobbpf::learn;
using Clock = std::chrono::steady_clock;

// CPU time of the calling thread, in ns: what the sender itself spends (in the kernel too, the
// tracepoint programs included), not time lost to other processes on a shared machine.
double cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

namespace {

struct Options {
    int dests = 1024;
    int ops = 200000;
    int rounds = 10;  // off-on-on-off blocks; lookup rounds
    int lookups = 2000000;
    int cpu = -1;
    bool json = false;
    bool aa = false;     // A/A control: "on" rounds run the netlink back-end (no program)
    bool trace = false;  // every round on stderr
};

int run(const std::string &cmd) {
    int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void run_ok(const std::string &cmd) {
    if (run(cmd) != 0) {
        std::cerr << "learn_bench: failed: " << cmd << "\n";
        throw std::runtime_error(cmd);
    }
}

// Two namespaces joined by a veth pair; the host side is the oob port. 10.9.0.0/16 sits behind
// the peer, which blackholes it (no ICMP comes back to disturb the sender).
struct Env {
    std::string host, peer, dev, pdev, idev, ipdev, root;
    int home = -1;

    Env() {
        const std::string id = std::to_string(getpid());
        host = "oobbh" + id;
        peer = "oobbp" + id;
        dev = "obh" + id;
        pdev = "obp" + id;
        idev = "obi" + id;
        ipdev = "obj" + id;
        root = "/sys/fs/bpf/oobb" + id;
        run_ok("ip netns add " + host + " && ip netns add " + peer);
        const std::string h = "nsenter --net=/run/netns/" + host + " -- ";
        const std::string p = "nsenter --net=/run/netns/" + peer + " -- ";
        run_ok("ip link add " + dev + " netns " + host + " type veth peer name " + pdev +
               " netns " + peer);
        run_ok(h + "sh -c 'ip link set lo up && ip link set " + dev +
               " up && ip addr add 10.1.0.1/24 dev " + dev +
               " && ip route add 10.9.0.0/16 via 10.1.0.2 dev " + dev + "'");
        run_ok(p + "sh -c 'ip link set lo up && ip link set " + pdev +
               " up && ip addr add 10.1.0.2/24 dev " + pdev +
               " && ip route add blackhole 10.9.0.0/16'");
        // In-band only: 10.10.0.0/16 behind a device that is no oob port.
        run_ok("ip link add " + idev + " netns " + host + " type veth peer name " + ipdev +
               " netns " + peer);
        run_ok(h + "sh -c 'ip link set " + idev + " up && ip addr add 10.2.0.1/24 dev " + idev +
               " && ip route add 10.10.0.0/16 via 10.2.0.2 dev " + idev + "'");
        run_ok(p + "sh -c 'ip link set " + ipdev + " up && ip addr add 10.2.0.2/24 dev " + ipdev +
               " && ip route add blackhole 10.10.0.0/16'");
        std::filesystem::create_directories(root);
    }
    ~Env() {
        leave();
        std::error_code ec;
        std::filesystem::remove_all(root, ec);
        run("ip netns del " + host + " 2>/dev/null; ip netns del " + peer + " 2>/dev/null");
    }
    void enter() {
        home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        int fd = open(("/run/netns/" + host).c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) != 0)
            throw std::runtime_error("setns " + host);
        close(fd);
    }
    void leave() {
        if (home >= 0) {
            setns(home, CLONE_NEWNET);
            close(home);
            home = -1;
        }
    }
    uint32_t ifindex() const {
        FILE *f = popen(("nsenter --net=/run/netns/" + host + " -- ip -o link show dev " + dev +
                         " | cut -d: -f1")
                            .c_str(),
                        "r");
        unsigned v = 0;
        if (f) {
            if (fscanf(f, "%u", &v) != 1)
                v = 0;
            pclose(f);
        }
        return v;
    }
};

// n destinations in 10.<net>.0.0/16.
std::vector<sockaddr_in> destinations(int n, uint32_t net) {
    std::vector<sockaddr_in> v(static_cast<size_t>(n));
    for (int i = 0; i < n; i++) {
        v[size_t(i)].sin_family = AF_INET;
        v[size_t(i)].sin_port = htons(9);
        v[size_t(i)].sin_addr.s_addr = htonl((10U << 24) | (net << 16) | uint32_t(1 + i % 65000));
    }
    return v;
}

// Accumulated run time and count of a loaded program, by name, from the kernel's own
// accounting (BPF_ENABLE_STATS must be on while it ran): {ns, runs}.
std::pair<double, uint64_t> prog_cost(const char *name) {
    __u32 id = 0;
    while (bpf_prog_get_next_id(id, &id) == 0) {
        int fd = bpf_prog_get_fd_by_id(id);
        if (fd < 0)
            continue;
        bpf_prog_info info{};
        __u32 len = sizeof(info);
        if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && std::string(info.name) == name &&
            info.run_cnt) {
            close(fd);
            return {double(info.run_time_ns), info.run_cnt};
        }
        close(fd);
    }
    return {0, 0};
}

// CPU ns per sendto() over the destinations, round-robin.
double sendto_round(const std::vector<sockaddr_in> &d, int ops) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    char byte = 0;
    const double t0 = cpu_ns();
    for (int i = 0; i < ops; i++) {
        const auto &a = d[size_t(i) % d.size()];
        sendto(fd, &byte, 1, 0, reinterpret_cast<const sockaddr *>(&a), sizeof(a));
    }
    const double ns = cpu_ns() - t0;
    close(fd);
    return ns / ops;
}

// CPU ns per connect()+send() of one socket moved over the destinations.
double connect_round(const std::vector<sockaddr_in> &d, int ops) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    char byte = 0;
    const double t0 = cpu_ns();
    for (int i = 0; i < ops; i++) {
        const auto &a = d[size_t(i) % d.size()];
        connect(fd, reinterpret_cast<const sockaddr *>(&a), sizeof(a));
        send(fd, &byte, 1, 0);
    }
    const double ns = cpu_ns() - t0;
    close(fd);
    return ns / ops;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty()
               ? 0
               : (v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2);
}

Options parse(int argc, char **argv) {
    Options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto val = [&]() -> int {
            if (i + 1 >= argc) {
                std::cerr << "learn_bench: " << a << " needs a value\n";
                std::exit(2);
            }
            return std::atoi(argv[++i]);
        };
        if (a == "--dests")
            o.dests = val();
        else if (a == "--ops")
            o.ops = val();
        else if (a == "--rounds")
            o.rounds = val();
        else if (a == "--lookups")
            o.lookups = val();
        else if (a == "--cpu")
            o.cpu = val();
        else if (a == "--json")
            o.json = true;
        else if (a == "--aa")
            o.aa = true;
        else if (a == "--trace")
            o.trace = true;
        else {
            std::cerr << "usage: learn_bench [--dests N] [--ops N] [--rounds N] [--lookups N] "
                         "[--cpu N] [--aa] [--trace] [--json]\n";
            std::exit(2);
        }
    }
    return o;
}

}  // namespace

int main(int argc, char **argv) {
    Options o = parse(argc, argv);
    if (geteuid() != 0) {
        std::cerr << "learn_bench: needs root\n";
        return 77;
    }
    if (o.cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(o.cpu, &set);
        sched_setaffinity(0, sizeof(set), &set);
    }
    try {
        Env env;
        Config cfg;
        cfg.pin_root = env.root;
        cfg.backend = "tp_btf";
        const uint32_t ifindex = env.ifindex();
        cfg.ports = {{ifindex, ifindex, 0}};
        cfg.netns = "/run/netns/" + env.host;
        const auto dests = destinations(o.dests, 9);
        const auto inband = destinations(o.dests, 10);

        env.enter();
        // Warm-up: the gateways' neighbours, and the first learning of every flow.
        sendto_round(dests, o.dests);
        sendto_round(inband, o.dests);
        uint64_t learn_ns = 0;
        size_t learned = 0;
        {
            Learner l(cfg);
            l.start();
            const auto t0 = Clock::now();
            sendto_round(dests, o.dests);
            connect_round(dests, o.dests);
            const size_t want = size_t(o.dests) * 2;  // (dst, no source) and (dst, 10.1.0.1)
            while (l.routes().size() < want && Clock::now() - t0 < std::chrono::seconds(20))
                std::this_thread::sleep_for(std::chrono::milliseconds(1));
            learn_ns = uint64_t(
                std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
            learned = l.routes().size();
        }

        // 1. in-band cost. Blocks of four rounds, off on on off, so that drift hits both modes
        // alike; the ratio of each block, and the median over blocks.
        struct Series {
            std::vector<double> off, on, ratio;
        };
        Series port_s, port_c, band_s;
        for (int b = 0; b < o.rounds; b++) {
            double sum[3][2] = {};
            for (int r = 0; r < 4; r++) {
                const bool on = r == 1 || r == 2;
                std::unique_ptr<Learner> l;
                if (on) {
                    Config c = cfg;
                    if (o.aa)
                        c.backend = "netlink";  // no tracepoint program: the harness' own noise
                    l = std::make_unique<Learner>(c);
                    l->start();
                }
                // Let the deferred work of the toggle (map frees, RCU callbacks) pass: the
                // steady state is what is measured, in both modes alike.
                std::this_thread::sleep_for(std::chrono::milliseconds(300));
                const double v[3] = {sendto_round(dests, o.ops), connect_round(dests, o.ops / 2),
                                     sendto_round(inband, o.ops)};
                Series *ser[3] = {&port_s, &port_c, &band_s};
                for (int k = 0; k < 3; k++) {
                    (on ? ser[k]->on : ser[k]->off).push_back(v[k]);
                    sum[k][on] += v[k];
                }
                if (o.trace)
                    std::fprintf(stderr, "block %d %s sendto %.1f connect %.1f in-band %.1f\n", b,
                                 on ? "on " : "off", v[0], v[1], v[2]);
            }
            port_s.ratio.push_back(sum[0][1] / sum[0][0]);
            port_c.ratio.push_back(sum[1][1] / sum[1][0]);
            band_s.ratio.push_back(sum[2][1] / sum[2][0]);
        }

        // The programs' own cost per route lookup, from the kernel's accounting (a separate
        // pass: the accounting itself costs two clock reads per run).
        double prog_ns[3] = {}, prog_runs[3] = {};
        {
            Learner l(cfg);
            l.start();
            int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
            for (int k = 0; k < 3; k++) {
                auto [ns0, n0] = prog_cost("learn_fib4");
                if (k == 0)
                    sendto_round(dests, o.ops);
                else if (k == 1)
                    connect_round(dests, o.ops / 2);
                else
                    sendto_round(inband, o.ops);
                auto [ns1, n1] = prog_cost("learn_fib4");
                prog_runs[k] = double(n1 - n0);
                prog_ns[k] = prog_runs[k] ? (ns1 - ns0) / prog_runs[k] : 0;
            }
            if (stats_fd >= 0)
                close(stats_fd);
        }

        // 2. lookups: cache vs bpf() syscall, interleaved
        Learner l(cfg);
        l.start();
        std::vector<oob_route_key> keys;
        for (const auto &[k, r] : l.routes())
            keys.push_back(k);
        std::mt19937 rng(42);
        std::vector<uint32_t> order(size_t(o.lookups));
        for (auto &x : order)
            x = uint32_t(rng() % keys.size());
        CacheReader cache = CacheReader::open(env.root);
        const int routes_fd = bpf_obj_get((env.root + "/" + OOB_PIN_ROUTES).c_str());
        std::vector<double> cache_ns, sys_ns, cache_nh_ns;
        uint64_t misses = 0;
        for (int r = 0; r < o.rounds; r++) {
            oob_route out{};
            oob_neigh nb{};
            auto t0 = Clock::now();
            for (uint32_t i : order)
                misses += cache.route(keys[i], &out) != Lookup::hit;
            cache_ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
                               double(order.size()));
            t0 = Clock::now();
            for (uint32_t i : order)
                misses += bpf_map_lookup_elem(routes_fd, &keys[i], &out) != 0;
            sys_ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
                             double(order.size()));
            t0 = Clock::now();
            for (uint32_t i : order) {
                misses += cache.route(keys[i], &out) != Lookup::hit;
                misses += cache.neigh(next_hop(keys[i], out), &nb) != Lookup::hit;
            }
            cache_nh_ns.push_back(
                std::chrono::duration<double, std::nano>(Clock::now() - t0).count() /
                double(order.size()));
        }
        close(routes_fd);

        // Invalidation: one route change makes the learner re-ask the kernel for every known
        // flow; the time that pass takes, plus the settle time, bounds how long a stale entry
        // can be seen.
        const uint64_t reval0 = l.stats().revalidations;
        const auto tchange = Clock::now();
        run_ok("nsenter --net=/run/netns/" + env.host + " -- ip route add 10.99.0.0/24 via " +
               "10.1.0.2");
        while (l.stats().revalidations == reval0 &&
               Clock::now() - tchange < std::chrono::seconds(10))
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        const double change_ms =
            std::chrono::duration<double, std::milli>(Clock::now() - tchange).count();
        const Stats after = l.stats();

        // resolve() of an already learned flow (a CLI `route resolve` round trip without the
        // socket): RTM_GETROUTE plus the neighbour check.
        ResolveRequest rq;
        rq.family = AF_INET;
        inet_pton(AF_INET, "10.9.0.1", rq.dst.data());
        std::vector<double> resolve_us;
        for (int i = 0; i < 200; i++) {
            const auto t0 = Clock::now();
            l.resolve(rq);
            resolve_us.push_back(
                std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
        }
        l.stop();
        env.leave();

        const double lc = median(cache_ns), ls = median(sys_ns);
        auto series = [](const Series &x) {
            return nlohmann::json{
                {"off_ns", median(x.off)}, {"on_ns", median(x.on)}, {"ratio", median(x.ratio)}};
        };
        nlohmann::json j = {
            {"dests", o.dests},
            {"ops", o.ops},
            {"blocks", o.rounds},
            {"learned", learned},
            {"learn_all_ms", double(learn_ns) / 1e6},
            {"port_sendto", series(port_s)},
            {"port_connect_send", series(port_c)},
            {"inband_sendto", series(band_s)},
            {"prog_ns_per_run",
             {{"port_sendto", prog_ns[0]},
              {"port_connect_send", prog_ns[1]},
              {"inband_sendto", prog_ns[2]}}},
            {"lookup_ns", {{"cache", lc}, {"bpf_syscall", ls}, {"ratio", lc / ls}}},
            {"lookup_route_neigh_cache_ns", median(cache_nh_ns)},
            {"lookup_misses", misses},
            {"resolve_us_median", median(resolve_us)},
            {"revalidation",
             {{"flows", after.routes + after.watched},
              {"pass_ms", double(after.last_revalidation_ns) / 1e6},
              {"change_to_done_ms", change_ms}}},
        };
        if (o.json) {
            std::cout << j.dump(2) << "\n";
        } else {
            auto line = [](const char *what, const Series &x) {
                std::printf("  %-28s off %8.1f ns  on %8.1f ns  ratio %.3f\n", what, median(x.off),
                            median(x.on), median(x.ratio));
            };
            std::printf("learning %zu flows (%d destinations): %.1f ms until all learned\n",
                        learned, o.dests, double(learn_ns) / 1e6);
            std::printf(
                "in-band cost, tp_btf learner off vs on, median of %d off-on-on-off "
                "blocks (target <= 1.05):\n",
                o.rounds);
            line("sendto, via the oob port", port_s);
            line("connect+send, via the port", port_c);
            line("sendto, in-band device", band_s);
            std::printf(
                "  learn_fib4 run time per run (kernel accounting, a run per route "
                "lookup in either namespace):\n    port sendto %.1f ns (%.0f runs), "
                "connect+send %.1f ns (%.0f), in-band sendto %.1f ns (%.0f)\n",
                prog_ns[0], prog_runs[0], prog_ns[1], prog_runs[1], prog_ns[2], prog_runs[2]);
            std::printf("oob lookup, %zu keys, median of %d rounds (target <= 0.2):\n", keys.size(),
                        o.rounds);
            std::printf("  route cache %6.1f ns  bpf() %6.1f ns  ratio %.3f\n", lc, ls, lc / ls);
            std::printf("  route + neighbour from the cache %6.1f ns; misses %llu\n",
                        median(cache_nh_ns), static_cast<unsigned long long>(misses));
            std::printf("resolve() of a learned flow: median %.1f us\n", median(resolve_us));
            std::printf(
                "revalidation of %zu flows after a route change: pass %.1f ms, change "
                "to done %.1f ms\n",
                after.routes + after.watched, double(after.last_revalidation_ns) / 1e6, change_ms);
        }
    } catch (const std::exception &e) {
        std::cerr << "learn_bench: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
