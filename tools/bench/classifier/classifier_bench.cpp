// SPDX-License-Identifier: MIT
// oobbpf-bench-classifier: ns/frame of the XDP classifier through BPF_PROG_TEST_RUN (repeat),
// in one run, next to its floor and its baseline:
//   pass     a bare XDP_PASS program (the cost of the test runner itself);
//   lookup   the classifier core's parser, the rule key and one hash lookup (the baseline);
//   rules N  the full classifier (device, port and VLAN lookups, rule search, counters, last
//            record) with N = 10, 1,000 and 10,000 rules over at least 8 distinct masks, with
//            prefixes and port ranges.
// Each is measured on the same frames: a frame that the first mask decides, one that only the
// last mask matches, one that no rule matches, and a tagged frame of a VLAN port. Ratios are to
// the baseline of the same frame.
//   tap off  the classifier (10 rules) as built, with no tap running, against the same classifier
//            built without its tap code (OOB_NO_TAP): calls interleaved, the median of the
//            per-call ratios is the tap's cost while off.
// Needs root (BPF_PROG_TEST_RUN); sends no traffic: test runs
// name the loopback device as their ingress device and nothing is attached.
#include "bpf_tables.h"
#include "error.h"
#include "rules.h"

#include <CLI/CLI.hpp>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <nlohmann/json.hpp>
#include <sched.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_lookup.skel.h"
#include "bench_notap.skel.h"
#include "bench_pass.skel.h"
#include "oob_xdp.skel.h"

using namespace oobbpf;
using Bytes = std::vector<uint8_t>;

namespace {

constexpr uint32_t kIfindex = 1;  // loopback: BPF_PROG_TEST_RUN resolves the ingress device
constexpr uint16_t kPortVids[] = {10, 11, 12, 13, 14, 15, 16, 17};
constexpr uint16_t kVlanVids[] = {20, 21, 22, 23, 24, 25, 26, 27};

// ---- frames (no checksums needed: the classifier does not check them) -------------------

void put16(Bytes &b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}

Bytes eth(uint16_t type, const std::vector<uint16_t> &vids) {
    Bytes b = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
    for (uint16_t v : vids) {
        put16(b, 0x8100);
        put16(b, v);
    }
    put16(b, type);
    return b;
}

Bytes udp4(const uint8_t src[4], const uint8_t dst[4], uint16_t sport, uint16_t dport,
           const std::vector<uint16_t> &vids = {}, uint8_t tos = 0) {
    Bytes b = eth(0x0800, vids);
    const uint16_t payload = 18;
    b.insert(b.end(), {0x45, tos});
    put16(b, 20 + 8 + payload);
    b.insert(b.end(), {0x12, 0x34, 0, 0, 64, 17, 0, 0});
    b.insert(b.end(), src, src + 4);
    b.insert(b.end(), dst, dst + 4);
    put16(b, sport);
    put16(b, dport);
    put16(b, 8 + payload);
    put16(b, 0);
    b.resize(b.size() + payload, 0xab);
    return b;
}

// ---- rule sets --------------------------------------------------------------------------

// Templates of rules as a deployment has them; each gives its own mask (fields, prefix lengths,
// port ranges). Rule i of a template gets distinct values.
std::string templ(int t, int i) {
    const std::string a = std::to_string(i / 256 % 256), b = std::to_string(i % 256);
    switch (t) {
        case 0:
            return "dst 10." + a + "." + b + ".0/24 udp dport 7000-7007";
        case 1:
            return "src 172.16." + a + "." + b + " tcp dport 443";
        case 2:
            return "dst fd00:" + std::to_string(i) + "::/48 udp dport 9000-9001";
        case 3:
            return "dev p." + std::to_string(kPortVids[i % 8]) + " udp dport " +
                   std::to_string(7100 + i / 8) + " sport 5000-5999";
        case 4:
            return "vlan " + std::to_string(kVlanVids[i % 8]) + " dst 192.168." + a + "." + b;
        case 5:
            return "dscp 46 udp dport " + std::to_string(20000 + i);
        case 6:
            return "src fd01:0:" + std::to_string(i) + "::/48 dst fd02::/16 udp";
        case 7:
            return "tcp sport 1024-65535 dport " + std::to_string(8000 + i);
        case 8:
            return "dst 10.128." + a + "." + b + " frag";
        default:
            return "dev p udp dport " + std::to_string(30000 + i);
    }
}
constexpr int kTemplates = 10;

std::vector<rules::Rule> rule_set(int n) {
    std::vector<rules::Rule> rs;
    const char *actions[] = {"divert", "drop", "pass"};
    for (int k = 0; k < n; k++) {
        const int t = k % kTemplates, i = k / kTemplates;
        auto r = rules::parse(
            rules::split(templ(t, i) + " prio " + std::to_string(k) + " action " + actions[k % 3]));
        r.id = static_cast<uint32_t>(k + 1);
        rs.push_back(r);
    }
    return rs;
}

std::optional<rules::PortRef> resolve(const std::string &dev) {
    if (dev == "p")
        return rules::PortRef{kIfindex, 0};
    for (uint16_t v : kPortVids)
        if (dev == "p." + std::to_string(v))
            return rules::PortRef{kIfindex, v};
    return std::nullopt;
}

// ---- the classifier's maps ----------------------------------------------------------------

template <class Skel>
MapFds fds_of(Skel *s) {
    MapFds f;
    f.config = bpf_map__fd(s->maps.oob_config);
    f.devs = bpf_map__fd(s->maps.oob_devs);
    f.ports = bpf_map__fd(s->maps.oob_ports);
    f.vlans = bpf_map__fd(s->maps.oob_vlans);
    f.rules = bpf_map__fd(s->maps.oob_rules);
    f.rule_masks = bpf_map__fd(s->maps.oob_rule_masks);
    f.rule_stats = bpf_map__fd(s->maps.oob_rule_stats);
    f.port_stats = bpf_map__fd(s->maps.oob_port_stats);
    f.last = bpf_map__fd(s->maps.oob_last);
    f.xsks = bpf_map__fd(s->maps.oob_xsks);
    f.xsk_regs = bpf_map__fd(s->maps.oob_xsk_regs);
    f.selectors = bpf_map__fd(s->maps.oob_selectors);
    return f;
}

// Ports and VLANs as the daemon would set them: the device is a port (untagged), VIDs 10-17
// are VLAN ports, VIDs 20-27 ports too (for the vlan rules), 100-107 an oob VLAN set.
void configure(BpfTables &t) {
    oob_config c{};
    c.magic = OOB_CONFIG_MAGIC;
    c.version = OOB_ABI_VERSION;
    t.set_config(c);
    t.put_dev(kIfindex, oob_dev{OOB_DEV_DIVERT | OOB_DEV_PORT, 0, 1, 0});
    uint32_t id = 2;
    for (auto set : {kPortVids, kVlanVids})
        for (int i = 0; i < 8; i++) {
            const uint16_t v = set[i];
            t.put_port(oob_port_key{kIfindex, v, 0},
                       oob_port{id, OOB_PORT_VLAN, 100 + id, kIfindex, v, 0, 0});
            id++;
        }
    for (uint16_t v = 100; v < 108; v++)
        t.put_vlan(oob_vlan_key{0, v, 0}, oob_vlan{OOB_VLAN_MEMBER, id++});
}

// ---- measuring ----------------------------------------------------------------------------

// Average ns per run of `repeat` runs of one frame.
double run_once(int prog_fd, const Bytes &f, uint32_t repeat) {
    xdp_md ctx{};
    ctx.data_end = static_cast<uint32_t>(f.size());
    ctx.ingress_ifindex = kIfindex;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.data(),
                .data_size_in = static_cast<uint32_t>(f.size()), .ctx_in = &ctx,
                .ctx_size_in = sizeof(ctx), .repeat = static_cast<int>(repeat));
    check(bpf_prog_test_run_opts(prog_fd, &opts), "BPF_PROG_TEST_RUN");
    return static_cast<double>(opts.duration);
}

struct Frame {
    std::string name;
    Bytes bytes;
};

struct Subject {
    std::string name;
    int fd;
    uint32_t masks = 0, entries = 0;
};

template <class T>
T median(std::vector<T> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char **argv) {
    CLI::App app{"ns/frame of the XDP classifier next to its floor and baseline"};
    uint32_t repeat = 200000;
    int trials = 9, cpu = -1;
    std::string json_file;
    app.add_option("--repeat", repeat, "runs per BPF_PROG_TEST_RUN call");
    app.add_option("--trials", trials, "calls per measurement; the median is reported");
    app.add_option("--cpu", cpu, "CPU to run on (default: the current one)");
    app.add_option("--json", json_file, "also write the results as JSON to this file");
    CLI11_PARSE(app, argc, argv);

    try {
        if (cpu < 0)
            cpu = sched_getcpu();
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) != 0)
            throw sys_error("pin to CPU " + std::to_string(cpu), errno);

        using XdpPtr = std::unique_ptr<oob_xdp, void (*)(oob_xdp *)>;
        std::unique_ptr<bench_pass, void (*)(bench_pass *)> pass(bench_pass__open_and_load(),
                                                                 bench_pass__destroy);
        std::unique_ptr<bench_lookup, void (*)(bench_lookup *)> lookup(
            bench_lookup__open_and_load(), bench_lookup__destroy);
        if (!pass || !lookup)
            throw sys_error("load the benchmark programs", errno);

        // The rule sets, compiled once: with the compiler's default merging, and merged only
        // as far as the limits require (every template keeps its masks).
        std::map<std::string, RuleSetImage> images;
        std::map<std::string, rules::CompileInfo> infos;
        std::vector<std::string> sets;
        for (int n : {0, 10, 1000, 10000})
            for (bool merge : {true, false}) {
                if (n == 0 && !merge)
                    continue;
                const std::string name =
                    "rules " + std::to_string(n) + (merge || n == 0 ? "" : " unmerged");
                rules::CompileOptions opts;
                opts.merge_for_speed = merge;
                rules::CompileInfo info;
                images[name] = rules::compile(rule_set(n), resolve, &info, opts);
                infos[name] = info;
                sets.push_back(name);
            }
        // The baseline's table holds as many entries as the largest rule set.
        const int lookup_map = bpf_map__fd(lookup->maps.bench_rules);
        for (const auto &[k, v] : images["rules 10000"].entries)
            check(bpf_map_update_elem(lookup_map, &k, &v, BPF_ANY), "fill the baseline's map");

        const uint8_t any[4] = {198, 51, 100, 1}, net10[4] = {10, 0, 0, 9},
                      host[4] = {192, 0, 2, 1}, vlan_dst[4] = {192, 168, 0, 0};
        const std::vector<Frame> frames = {
            // Rule 1 (prio 0), in the first mask searched: one lookup decides.
            {"first-mask", udp4(host, net10, 1234, 7003)},
            // Only `dev p udp dport 30000` (template 9): every mask is searched.
            {"last-mask", udp4(host, any, 1234, 30000)},
            // No rule: every mask is searched, none matches.
            {"no-match", udp4(host, any, 1234, 1)},
            // Tagged, VLAN port 20: `vlan 20 dst 192.168.0.0`.
            {"vlan-port", udp4(host, vlan_dst, 1234, 1, {20})},
        };

        std::vector<Subject> subjects = {
            {"xdp-pass", bpf_program__fd(pass->progs.bench_pass)},
            {"parse+lookup", bpf_program__fd(lookup->progs.bench_lookup)},
        };
        // One classifier instance (program and maps) per rule set, configured once.
        std::vector<XdpPtr> instances;
        std::vector<std::unique_ptr<BpfTables>> tables;
        std::printf("CPU %d, %u runs per call, median of %d calls\n", cpu, repeat, trials);
        for (const auto &name : sets) {
            instances.emplace_back(oob_xdp__open_and_load(), oob_xdp__destroy);
            if (!instances.back())
                throw sys_error("load the classifier", errno);
            tables.push_back(std::make_unique<BpfTables>(fds_of(instances.back().get())));
            configure(*tables.back());
            install_rules(*tables.back(), images[name]);
            const int fd = bpf_program__fd(instances.back()->progs.oob_xdp);
            subjects.push_back({name, fd, infos[name].masks, infos[name].entries});

            // Check that each frame takes the path it is meant to take.
            std::printf("%-20s %2u masks (%2u before merging), %5u entries;", name.c_str(),
                        infos[name].masks, infos[name].natural_masks, infos[name].entries);
            for (const auto &f : frames) {
                run_once(fd, f.bytes, 1);
                const oob_last l = tables.back()->last(static_cast<unsigned>(cpu));
                std::printf(" %s: rule %u;", f.name.c_str(), l.rule_id);
            }
            std::printf("\n");
        }

        // The classifier without its tap code, with the 10-rule set, for the tap-off ratio.
        std::unique_ptr<bench_notap, void (*)(bench_notap *)> notap(bench_notap__open_and_load(),
                                                                    bench_notap__destroy);
        if (!notap)
            throw sys_error("load the classifier built without its tap", errno);
        tables.push_back(std::make_unique<BpfTables>(fds_of(notap.get())));
        configure(*tables.back());
        install_rules(*tables.back(), images["rules 10"]);
        subjects.push_back({"rules 10 no-tap", bpf_program__fd(notap->progs.oob_xdp),
                            infos["rules 10"].masks, infos["rules 10"].entries});

        // Measure: trials interleaved across subjects, so that a noisy moment hits all alike.
        std::map<std::pair<std::string, std::string>, std::vector<double>> ns;
        for (int t = 0; t < trials; t++)
            for (auto &s : subjects) {
                for (const auto &f : frames)
                    ns[{s.name, f.name}].push_back(run_once(s.fd, f.bytes, repeat));
            }

        nlohmann::json out;
        utsname u{};
        uname(&u);
        out["kernel"] = u.release;
        out["cpu"] = cpu;
        out["repeat"] = repeat;
        out["trials"] = trials;
        std::printf("\n%-20s", "ns/frame (x baseline)");
        for (const auto &f : frames)
            std::printf(" %16s", f.name.c_str());
        std::printf("\n");
        for (const auto &s : subjects) {
            std::printf("%-20s", s.name.c_str());
            nlohmann::json js;
            js["name"] = s.name;
            if (s.masks) {
                js["masks"] = s.masks;
                js["entries"] = s.entries;
            }
            for (const auto &f : frames) {
                const double v = median(ns[{s.name, f.name}]);
                const double base = median(ns[{"parse+lookup", f.name}]);
                std::printf(" %7.1f (%5.2fx)", v, v / base);
                js["ns"][f.name] = v;
                js["ratio_to_baseline"][f.name] = v / base;
            }
            std::printf("\n");
            out["subjects"].push_back(js);
        }

        // Where the time goes: the classifier with no rules is the fixed cost (device, port,
        // counters, last record); a frame that no rule matches searches every mask.
        const double fixed = median(ns[{"rules 0", "no-match"}]);
        std::printf("\nfixed cost (no rules, no-match frame): %.1f ns; search per mask:", fixed);
        for (const auto &name : sets) {
            if (name == "rules 0")
                continue;
            const double per = (median(ns[{name, "no-match"}]) - fixed) / infos[name].masks;
            std::printf(" %s %.1f ns;", name.c_str(), per);
            out["per_mask_ns"][name] = per;
        }
        out["fixed_ns"] = fixed;
        std::printf("\n");

        // The tap's cost while off: the two builds called back to back, in alternating order,
        // three times as many calls as above; each pair gives one ratio.
        {
            int with_fd = -1, without_fd = -1;
            for (const auto &s : subjects) {
                if (s.name == "rules 10")
                    with_fd = s.fd;
                if (s.name == "rules 10 no-tap")
                    without_fd = s.fd;
            }
            std::map<std::string, std::vector<double>> pair_ratios;
            for (int t = 0; t < 3 * trials; t++)
                for (const auto &f : frames) {
                    double a, b;
                    if (t % 2) {
                        b = run_once(without_fd, f.bytes, repeat);
                        a = run_once(with_fd, f.bytes, repeat);
                    } else {
                        a = run_once(with_fd, f.bytes, repeat);
                        b = run_once(without_fd, f.bytes, repeat);
                    }
                    pair_ratios[f.name].push_back(a / b);
                }
            std::vector<double> ratios;
            nlohmann::json per_frame;
            std::printf(
                "\ntap off: classifier as built / tap compiled out (rules 10), %d "
                "interleaved pairs per frame:",
                3 * trials);
            for (const auto &f : frames) {
                const std::vector<double> &fr = pair_ratios[f.name];
                ratios.insert(ratios.end(), fr.begin(), fr.end());
                per_frame[f.name] = median(fr);
                std::printf(" %s %.3fx;", f.name.c_str(), median(fr));
            }
            const double r = median(ratios);
            const bool ok = r <= 1.02;
            std::printf("\n  median ratio %.3fx (target <= 1.02)  %s\n", r, ok ? "met" : "MISSED");
            out["tap_off"] = {
                {"ratio", r}, {"per_frame", per_frame}, {"target", 1.02}, {"met", ok}};
        }

        std::printf("\ntargets: classifier <= 2x baseline; 10,000 rules <= 1.2x 10 rules\n");
        bool met = true;
        for (const char *variant : {"", " unmerged"}) {
            for (const auto &f : frames) {
                const double base = median(ns[{"parse+lookup", f.name}]);
                const double r10 = median(ns[{std::string("rules 10") + variant, f.name}]);
                const double r10k = median(ns[{std::string("rules 10000") + variant, f.name}]);
                double worst = 0;
                for (int n : {10, 1000, 10000})
                    worst = std::max(
                        worst, median(ns[{"rules " + std::to_string(n) + variant, f.name}]) / base);
                const bool ok = worst <= 2.0 && r10k / r10 <= 1.2;
                met = met && ok;
                std::printf("  %-9s%-12s worst %.2fx baseline, growth 10 -> 10,000: %.2fx  %s\n",
                            *variant ? "unmerged" : "default", f.name.c_str(), worst, r10k / r10,
                            ok ? "met" : "MISSED");
                out["targets"][std::string(*variant ? "unmerged " : "default ") + f.name] = {
                    {"worst_ratio", worst}, {"growth", r10k / r10}, {"met", ok}};
            }
        }
        out["targets_met"] = met;
        if (!json_file.empty()) {
            std::ofstream(json_file) << out.dump(2) << "\n";
            std::printf("JSON: %s\n", json_file.c_str());
        }
        return 0;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "oobbpf-bench-classifier: %s\n", e.what());
        return 1;
    }
}
