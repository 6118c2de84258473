// SPDX-License-Identifier: MIT
// Differential test of the classifier's two builds: random and mutated frames, random rule sets
// and random port/VLAN configurations, judged by the XDP program (BPF_PROG_TEST_RUN, verdict,
// reason, rule and port read from the per-CPU last-verdict record) and by the C++ back-end of
// the same core (SoftTables). Every judgement must be identical; per-port and per-rule counters
// are compared after each rule set.
//
// OOBBPF_DIFF_FRAMES overrides the number of frames (default 1,000,000), OOBBPF_DIFF_SEED the
// seed (default: fixed, so a failure reproduces).
#include "datapath.h"
#include "error.h"
#include "netns.h"
#include "packet.h"
#include "rules.h"
#include "soft.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sched.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <set>

using namespace oobbpf;
using namespace oobbpf::rules;
using namespace oobbpf::test;

namespace {

constexpr size_t kLinearMax = 4096 - 256 - 320;  // page - XDP headroom - skb_shared_info

struct Rng {
    std::mt19937_64 g;
    explicit Rng(uint64_t seed) : g(seed) {}
    uint32_t below(uint32_t n) { return static_cast<uint32_t>(g() % n); }
    bool chance(uint32_t percent) { return below(100) < percent; }
    template <class T>
    const T &of(const std::vector<T> &v) {
        return v[below(static_cast<uint32_t>(v.size()))];
    }
};

// The devices of the namespace, what each is in this round, and the matching Resolver.
struct Dev {
    std::string name;
    uint32_t ifindex = 0;
    unsigned queues = 1;
};

struct Config {
    std::map<uint32_t, oob_dev> devs;
    std::map<std::pair<uint32_t, uint16_t>, oob_port> ports;
    std::map<std::pair<uint32_t, uint16_t>, oob_vlan> vlans;
    std::map<std::string, PortRef> names;  // port device names for rules
    std::vector<uint16_t> vids;            // every VID that means something this round
};

const std::vector<uint16_t> kPortPool = {0,    1,     2,     22,    53,    67,    1023,
                                         1024, 4789,  7000,  7001,  7009,  7010,  7011,
                                         8080, 32767, 32768, 49151, 49152, 65534, 65535};
const std::vector<std::string> kAddr4 = {
    "10.0.0.1",     "10.0.0.2",   "10.1.2.3", "10.1.200.9", "10.200.0.1", "192.168.1.1",
    "192.168.1.77", "172.16.5.4", "1.2.3.4",  "253.1.1.1",  "0.0.0.0",    "255.255.255.255"};
const std::vector<std::string> kAddr6 = {"fd00::1",   "fd00::2", "fd00:1::5",   "fd00:1:0:1::7",
                                         "fd00:2::9", "fe80::1", "2001:db8::1", "2001:db8:1::1",
                                         "::1",       "fd01::1", "ff02::1",     "fd00:1::8000"};
const std::vector<std::string> kPrefix4 = {"10.0.0.0/8",    "10.1.0.0/16",    "10.1.2.0/24",
                                           "10.0.0.1",      "192.168.1.0/24", "192.168.0.0/16",
                                           "172.16.0.0/12", "0.0.0.0/0",      "10.1.128.0/17",
                                           "253.0.0.0/8",   "1.2.3.4/31"};
const std::vector<std::string> kPrefix6 = {
    "fd00::/8",      "fd00::/16", "fd00:1::/32", "fd00:1::/48",     "fd00:1::5",
    "2001:db8::/32", "fe80::/10", "::/0",        "fd00:1:0:1::/64", "fd00:1::/113"};

Config random_config(Rng &r, const std::vector<Dev> &devs) {
    Config c;
    const std::vector<uint16_t> vid_pool = {2, 5, 10, 42, 43, 100, 1000, 4094};
    uint32_t port_id = 1;
    for (size_t i = 0; i < devs.size(); i++) {
        const Dev &d = devs[i];
        const uint32_t kind = r.below(10);
        if (kind < 1)
            continue;  // no diversion record
        oob_dev od{};
        od.flags = r.chance(95) ? OOB_DEV_DIVERT : 0;
        od.slot = static_cast<uint32_t>(i);
        if (kind >= 3) {
            od.flags |= OOB_DEV_PORT;
            od.port_id = port_id++;
            c.names[d.name] = PortRef{d.ifindex, 0};
        }
        c.devs[d.ifindex] = od;
        for (uint16_t vid : vid_pool) {
            if (r.chance(45)) {
                oob_port p{};
                p.port_id = port_id++;
                p.flags = OOB_PORT_VLAN;
                p.ifindex = 1000 + p.port_id;
                p.lower_ifindex = d.ifindex;
                p.vid = vid;
                c.ports[{d.ifindex, vid}] = p;
                c.names[d.name + "." + std::to_string(vid)] = PortRef{d.ifindex, vid};
            }
            if (r.chance(15))  // a per-device set; flags 0 hides the global set's entry
                c.vlans[{d.ifindex, vid}] =
                    oob_vlan{r.chance(70) ? OOB_VLAN_MEMBER : 0U, port_id++};
        }
    }
    for (uint16_t vid : vid_pool)
        if (r.chance(20))
            c.vlans[{0, vid}] = oob_vlan{OOB_VLAN_MEMBER, port_id++};
    c.vids = vid_pool;
    return c;
}

void apply(Tables &t, const Config &old, const Config &c) {
    for (const auto &[k, v] : old.vlans)
        t.del_vlan(oob_vlan_key{k.first, k.second, 0});
    for (const auto &[k, v] : old.ports)
        t.del_port(oob_port_key{k.first, k.second, 0});
    for (const auto &[k, v] : old.devs)
        t.del_dev(k);
    for (const auto &[k, v] : c.devs)
        t.put_dev(k, v);
    for (const auto &[k, v] : c.ports)
        t.put_port(oob_port_key{k.first, k.second, 0}, v);
    for (const auto &[k, v] : c.vlans)
        t.put_vlan(oob_vlan_key{k.first, k.second, 0}, v);
}

// The network of addr/len, as text ("10.1.2.3", 16 -> "10.1.0.0/16").
std::string network(const std::string &addr, int len) {
    const bool v6 = addr.find(':') != std::string::npos;
    uint8_t b[16] = {};
    inet_pton(v6 ? AF_INET6 : AF_INET, addr.c_str(), b);
    for (int i = len; i < (v6 ? 128 : 32); i++)
        b[i / 8] &= static_cast<uint8_t>(~(0x80 >> (i % 8)));
    char out[INET6_ADDRSTRLEN];
    inet_ntop(v6 ? AF_INET6 : AF_INET, b, out, sizeof(out));
    return std::string(out) + "/" + std::to_string(len);
}

// One random rule in the CLI grammar, over the same pools as the frames. `shape` decides which
// fields the rule has (and prefix lengths, single ports or ranges): rules drawn with copies of
// one shape generator share a template, as rules of a real deployment do; `v` draws the values.
std::string random_rule(Rng &shape, Rng &v, const Config &c) {
    std::string s;
    if (!c.names.empty() && shape.chance(20)) {
        auto it = c.names.begin();
        std::advance(it, v.below(static_cast<uint32_t>(c.names.size())));
        s += "dev " + it->first + " ";
    } else if (shape.chance(15)) {
        s += "vlan " + std::to_string(v.of(c.vids)) + " ";
    }
    const uint32_t fam = shape.below(10);  // 0-3 any, 4-6 IPv4, 7-9 IPv6
    if (fam >= 4 && shape.chance(40))
        s += fam < 7 ? "ip " : "ip6 ";
    else if (fam < 4 && shape.chance(10))
        s += v.chance(50) ? "ether 0x88b5 " : "ether 0x9000 ";
    const bool non_ip = s.find("ether") != std::string::npos;
    const std::vector<int> len4 = {0, 8, 12, 16, 17, 24, 31, 32};
    const std::vector<int> len6 = {0, 8, 16, 32, 48, 64, 113, 128};
    for (const char *dir : {"src ", "dst "})
        if (fam >= 4 && shape.chance(50))
            s += dir +
                 network(fam < 7 ? v.of(kAddr4) : v.of(kAddr6),
                         fam < 7 ? shape.of(len4) : shape.of(len6)) +
                 " ";
    if (non_ip)
        return s;
    const uint32_t l4 = shape.below(10);
    bool ports = true;
    if (l4 < 3) {
        s += "udp ";
    } else if (l4 < 5) {
        s += "tcp ";
    } else if (l4 == 5) {
        s += fam >= 7 ? "icmp6 " : "icmp ";
        ports = false;
    } else if (l4 == 6) {
        uint32_t p = v.chance(50) ? 0 : v.below(256);
        if ((p == 1 && fam >= 7) || (p == 58 && fam >= 4 && fam < 7))
            p++;
        s += "proto " + std::to_string(p) + " ";
        ports = p == 6 || p == 17;
    }
    const bool frag = shape.chance(8);
    for (const char *dir : {"sport ", "dport "}) {
        if (!ports || frag || !shape.chance(dir[0] == 's' ? 20 : 40))
            continue;
        uint16_t a = v.of(kPortPool), b = v.of(kPortPool);
        if (v.chance(20))
            a = static_cast<uint16_t>(v.below(65536));
        if (a > b)
            std::swap(a, b);
        s += dir +
             (a == b || shape.chance(50) ? std::to_string(a)
                                         : std::to_string(a) + "-" + std::to_string(b)) +
             " ";
    }
    if (shape.chance(10))
        s += "dscp " + std::to_string(v.chance(50) ? 46 : v.below(64)) + " ";
    if (frag)
        s += "frag ";
    return s;
}

// n rules from a few templates.
std::vector<Rule> random_rules(Rng &r, const Config &c, size_t n) {
    std::vector<Rule> rs;
    const std::vector<std::string> actions = {"divert", "divert", "pass", "drop"};
    std::vector<uint64_t> templates(1 + r.below(8));
    for (auto &t : templates)
        t = r.g();
    while (rs.size() < n) {
        Rng shape(templates[r.below(static_cast<uint32_t>(templates.size()))]);
        std::string line = random_rule(shape, r, c) + "prio " + std::to_string(r.below(200)) +
                           " action " + r.of(actions);
        Rule rule;
        try {
            rule = parse(split(line));
        } catch (const Error &) {
            continue;  // a combination the grammar refuses (e.g. ip with an IPv6 prefix)
        }
        rule.id = static_cast<uint32_t>(rs.size() + 1);
        rs.push_back(rule);
    }
    return rs;
}

// Many rules of one shape, as a large deployment has them: per-destination UDP flows.
std::vector<Rule> bulk_rules(Rng &r, size_t n) {
    std::vector<Rule> rs;
    for (size_t i = 0; i < n; i++) {
        std::string line =
            "dst 10." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256) +
            ".0/24 udp dport " + std::to_string(7000 + r.below(12)) + " prio " +
            std::to_string(100 + r.below(1000)) + " action " + (r.chance(50) ? "divert" : "drop");
        Rule rule = parse(split(line));
        rule.id = static_cast<uint32_t>(i + 1);
        rs.push_back(rule);
    }
    return rs;
}

uint16_t frame_port(Rng &r) {
    const uint16_t p = r.of(kPortPool);
    switch (r.below(8)) {
        case 0:
            return static_cast<uint16_t>(r.below(65536));
        case 1:
            return static_cast<uint16_t>(p + 1);
        case 2:
            return static_cast<uint16_t>(p - 1);
        default:
            return p;
    }
}

Bytes payload(Rng &r, size_t max_frame) {
    const uint32_t k = r.below(100);
    size_t n;
    if (k < 60)
        n = r.below(64);
    else if (k < 85)
        n = 64 + r.below(1500);
    else if (k < 95)
        n = 1500 + r.below(static_cast<uint32_t>(kLinearMax - 1500));
    else
        n = kLinearMax + r.below(static_cast<uint32_t>(max_frame - kLinearMax));
    return Bytes(n, static_cast<uint8_t>(r.below(256)));
}

Bytes l4_bytes(Rng &r, uint8_t proto, size_t max_frame, const std::string &src,
               const std::string &dst, bool v6) {
    if (proto == 17) {
        const int lie = r.chance(4) ? static_cast<int>(r.below(40)) - 20 : 0;
        return udp(frame_port(r), frame_port(r), payload(r, max_frame), src, dst, v6, lie);
    }
    if (proto == 6) {
        uint8_t doff = 5;
        if (r.chance(20))
            doff = static_cast<uint8_t>(r.below(16));
        Bytes t = tcp(frame_port(r), frame_port(r), std::max<uint8_t>(doff, 5));
        t[12] = static_cast<uint8_t>(doff << 4);
        Bytes p = payload(r, max_frame);
        t.insert(t.end(), p.begin(), p.end());
        return t;
    }
    if (proto == 1 || proto == 58) {
        const std::vector<uint8_t> types = {0, 8, 128, 129, 130, 133, 134, 135, 136, 137, 143};
        return icmp(r.of(types), 0, r.below(64));
    }
    return payload(r, max_frame);
}

Bytes random_frame(Rng &r, const Config &c, size_t max_frame) {
    Frame f;
    const uint32_t ntags = r.chance(55) ? 0 : r.chance(70) ? 1 : r.chance(80) ? 2 : 3;
    for (uint32_t i = 0; i < ntags; i++) {
        uint16_t vid;
        const uint32_t k = r.below(10);
        if (k < 8)
            vid = r.of(c.vids);
        else if (k == 8)
            vid = r.chance(50) ? static_cast<uint16_t>(r.below(3))  // 0 priority-tagged, 1, 2
                               : uint16_t{4095};
        else
            vid = static_cast<uint16_t>(r.below(4096));
        const uint16_t tpid = ntags > 1 && i == 0 && r.chance(80) ? 0x88a8
                              : r.chance(90)                      ? 0x8100
                                                                  : 0x88a8;
        f.tags.push_back({tpid, static_cast<uint16_t>((r.below(8) << 13) | vid)});
    }
    const uint32_t kind = r.below(100);
    if (kind < 40) {
        Ip4 ip;
        ip.src = r.of(kAddr4);
        ip.dst = r.of(kAddr4);
        const uint32_t p = r.below(20);
        ip.proto = p < 10 ? 17 : p < 15 ? 6 : p < 17 ? 1 : static_cast<uint8_t>(r.below(256));
        ip.tos = static_cast<uint8_t>((r.chance(50)   ? 0
                                       : r.chance(50) ? 46
                                                      : r.below(64))
                                          << 2 |
                                      r.below(4));
        if (r.chance(15))
            ip.options = Bytes(4 * (1 + r.below(10)), 1);  // NOPs
        if (r.chance(10))
            ip.frag = static_cast<uint16_t>(r.chance(50) ? 0x2000 : r.below(0x4000));
        if (r.chance(3))
            ip.ihl_override = static_cast<int>(r.below(16));
        if (r.chance(4))
            ip.totlen_delta = static_cast<int>(r.below(80)) - 40;
        f.ethertype = 0x0800;
        f.l3 = ip.build(l4_bytes(r, ip.proto, max_frame, ip.src, ip.dst, false));
        if (r.chance(2))
            f.l3[0] = static_cast<uint8_t>(r.below(256));  // version/IHL garbage
    } else if (kind < 75) {
        Ip6 ip;
        ip.src = r.of(kAddr6);
        ip.dst = r.of(kAddr6);
        const uint32_t p = r.below(20);
        ip.next = p < 9 ? 17 : p < 13 ? 6 : p < 17 ? 58 : static_cast<uint8_t>(r.below(256));
        ip.tclass = static_cast<uint8_t>((r.chance(50) ? 0 : r.below(64)) << 2);
        const bool big = r.chance(3);
        if (r.chance(30) || big) {
            const std::vector<uint8_t> types = {0, 43, 60, 44, 51, 135, 60, 0};
            const uint32_t n = big ? 2 + r.below(2) : 1 + r.below(8);
            for (uint32_t i = 0; i < n; i++) {
                const uint8_t t = r.of(types);
                Bytes body;
                if (t == 44) {
                    const uint16_t fo =
                        r.chance(50) ? static_cast<uint16_t>(r.below(65536)) : uint16_t{0};
                    body = {static_cast<uint8_t>(fo >> 8), static_cast<uint8_t>(fo)};
                } else {
                    body = Bytes(big ? 2046 : r.below(40), 0);
                }
                ip.ext.push_back({t, body});
            }
        }
        if (r.chance(4))
            ip.plen_delta = static_cast<int>(r.below(80)) - 40;
        f.ethertype = 0x86dd;
        f.l3 = ip.build(l4_bytes(r, ip.next, max_frame, ip.src, ip.dst, true));
        if (r.chance(2))
            f.l3[0] = static_cast<uint8_t>(r.below(256));
    } else if (kind < 82) {
        Bytes a = arp_request(r.of(kAddr4), r.of(kAddr4));
        f.ethertype = 0x0806;
        f.l3.assign(a.begin() + 14, a.end());
    } else if (kind < 85) {
        f.ethertype = 0x88cc;
        f.l3 = Bytes(r.below(100), 7);
    } else if (kind < 95) {
        f.ethertype = r.chance(50) ? 0x88b5 : 0x9000;
        f.l3 = payload(r, max_frame);
    } else {
        f.ethertype = static_cast<uint16_t>(r.below(65536));
        f.l3 = payload(r, max_frame);
    }
    Bytes b = f.build();

    // Mutations: flipped header bytes, truncation, plain garbage.
    const uint32_t m = r.below(100);
    if (m < 10) {
        const uint32_t flips = 1 + r.below(4);
        for (uint32_t i = 0; i < flips; i++)
            b[r.below(static_cast<uint32_t>(std::min<size_t>(b.size(), 90)))] ^=
                static_cast<uint8_t>(1 + r.below(255));
    } else if (m < 16) {
        b.resize(14 + r.below(static_cast<uint32_t>(b.size() - 13)));
    } else if (m < 18) {
        b.resize(14 + r.below(200));
        for (auto &x : b)
            x = static_cast<uint8_t>(r.below(256));
    }
    if (b.size() > max_frame)
        b.resize(max_frame);
    if (b.size() < 14)
        b.resize(14);
    return b;
}

class DiffTest : public ::testing::Test {
  protected:
    void SetUp() override {
        OOBBPF_REQUIRE_PRIVILEGE();
        ns_ = std::make_unique<Netns>();
        for (int i = 0; i < 3; i++) {
            const std::string a = unique_name("ot"), b = unique_name("ot");
            ns_->sh_ok("ip link add " + a + " numrxqueues 4 numtxqueues 4 type veth peer name " +
                       b + " numrxqueues 2 numtxqueues 2");
            ns_->sh_ok("ip link set " + a + " up && ip link set " + b + " up");
            devs_.push_back(Dev{a, static_cast<uint32_t>(ns_->ifindex(a)), 4});
            devs_.push_back(Dev{b, static_cast<uint32_t>(ns_->ifindex(b)), 2});
        }
        devs_.push_back(Dev{"lo", 1, 1});
        enter_ = std::make_unique<EnterNetns>(ns_->name());

        // BPF_PROG_TEST_RUN runs on the asking CPU: stay on one and read its last record.
        cpu_ = static_cast<unsigned>(sched_getcpu());
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu_, &set);
        ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0);

        dp_ = std::make_unique<Datapath>();
        soft_.set_config(dp_->tables().config());

        // AF_XDP sockets on some queues: DIVERT there is a redirect, elsewhere NO_XSK.
        for (size_t i = 0; i < devs_.size(); i++)
            for (unsigned q = 0; q < devs_[i].queues; q++)
                if ((i + q) % 3 == 0 && devs_[i].name != "lo") {
                    xsks_.push_back(std::make_unique<XskSocket>(devs_[i].name, q));
                    xsks_.back()->register_in(dp_->fds(), static_cast<unsigned>(i));
                    soft_.set_xsk(static_cast<uint32_t>(i) * OOB_MAX_QUEUES + q, true);
                }
    }
    void TearDown() override {
        xsks_.clear();
        dp_.reset();
        enter_.reset();
        ns_.reset();
    }

    // One frame through the XDP program; false when the kernel refuses the run.
    bool run_bpf(const Bytes &f, uint32_t ifindex, uint32_t queue, int &action) {
        xdp_md ctx{};
        ctx.data_end = static_cast<uint32_t>(f.size());
        ctx.ingress_ifindex = ifindex;
        ctx.rx_queue_index = queue;
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = f.data(),
                    .data_size_in = static_cast<uint32_t>(f.size()), .ctx_in = &ctx,
                    .ctx_size_in = sizeof(ctx), .repeat = 1);
        if (bpf_prog_test_run_opts(dp_->prog_fd(), &opts) != 0)
            return false;
        action = static_cast<int>(opts.retval);
        return true;
    }

    // The largest frame BPF_PROG_TEST_RUN takes for this program (xdp.frags: beyond one page,
    // in fragments), found by bisection.
    size_t probe_max_frame() {
        int act;
        size_t lo = 14, hi = size_t(1) << 20;
        while (lo + 1 < hi) {
            const size_t mid = (lo + hi) / 2;
            if (run_bpf(Bytes(mid, 0), devs_[0].ifindex, 0, act))
                lo = mid;
            else
                hi = mid;
        }
        return lo;
    }

    std::unique_ptr<Netns> ns_;
    std::unique_ptr<EnterNetns> enter_;
    std::vector<Dev> devs_;
    unsigned cpu_ = 0;
    std::unique_ptr<Datapath> dp_;
    SoftTables soft_;
    std::vector<std::unique_ptr<XskSocket>> xsks_;
};

std::string hex(const Bytes &b, size_t max = 128) {
    std::string s;
    char x[4];
    for (size_t i = 0; i < b.size() && i < max; i++) {
        std::snprintf(x, sizeof(x), "%02x", b[i]);
        s += x;
    }
    return s;
}

TEST_F(DiffTest, XdpAndCppJudgeAlike) {
    const size_t max_frame = probe_max_frame();
    ASSERT_GT(max_frame, kLinearMax) << "xdp.frags test runs take frames over one page";
    int act;
    ASSERT_FALSE(run_bpf(Bytes(13, 0), devs_[0].ifindex, 0, act)) << "13 bytes refused";
    ASSERT_TRUE(run_bpf(Bytes(14, 0), devs_[0].ifindex, 0, act));
    std::printf("largest frame BPF_PROG_TEST_RUN takes: %zu bytes (linear part %zu)\n", max_frame,
                kLinearMax);

    const char *env_frames = std::getenv("OOBBPF_DIFF_FRAMES");
    const char *env_seed = std::getenv("OOBBPF_DIFF_SEED");
    const uint64_t total = env_frames ? std::strtoull(env_frames, nullptr, 10) : 1000000;
    const uint64_t seed = env_seed ? std::strtoull(env_seed, nullptr, 10) : 20240611;
    const uint64_t per_set = 25000;
    Rng r(seed);

    // The probes above were counted by the XDP program: counters are compared from here on.
    std::vector<oob_port_stats> base(128);
    for (uint32_t p = 0; p < base.size(); p++)
        base[p] = dp_->tables().port_stats(p);

    Config cfg;
    uint64_t frames = 0, rule_sets = 0, refused = 0, bytes = 0, over_page = 0;
    std::map<uint32_t, uint64_t> verdicts, reasons;
    uint64_t with_rule = 0, compile_failures = 0;
    std::set<uint32_t> rule_ids;
    const auto t0 = std::chrono::steady_clock::now();

    while (frames < total) {
        // A new configuration and rule set.
        Config next = random_config(r, devs_);
        apply(dp_->tables(), cfg, next);
        apply(soft_, cfg, next);
        cfg = next;
        Resolver resolve = [&cfg](const std::string &d) -> std::optional<PortRef> {
            auto it = cfg.names.find(d);
            return it == cfg.names.end() ? std::nullopt : std::optional<PortRef>(it->second);
        };
        std::vector<Rule> rs;
        RuleSetImage img;
        CompileInfo info;
        for (;;) {
            const uint32_t k = r.below(10);
            rs = k < 1   ? bulk_rules(r, 500 + r.below(9500))
                 : k < 3 ? random_rules(r, cfg, 100 + r.below(400))
                         : random_rules(r, cfg, 1 + r.below(150));
            try {
                img = compile(rs, resolve, &info);
                break;
            } catch (const Error &) {
                compile_failures++;  // over the structure's limits: draw another set
            }
        }
        install_rules(dp_->tables(), img);
        install_rules(soft_, img);
        rule_sets++;
        for (const auto &x : rs)
            rule_ids.insert(x.id);

        const uint64_t n = std::min(per_set, total - frames);
        for (uint64_t i = 0; i < n; i++) {
            const Bytes f = random_frame(r, cfg, max_frame);
            const Dev &d = devs_[r.below(static_cast<uint32_t>(devs_.size()))];
            const uint32_t q = r.below(d.queues);
            if (!run_bpf(f, d.ifindex, q, act)) {
                refused++;
                ASSERT_LT(refused, 10u)
                    << "test run refused a frame of " << f.size() << " bytes: " << strerror(errno);
                continue;
            }
            const oob_last b = dp_->tables().last(cpu_);
            const Judgement s = soft_.classify(f.data(), f.size(), d.ifindex, q);
            frames++;
            bytes += f.size();
            over_page += f.size() > kLinearMax;
            verdicts[s.verdict]++;
            reasons[s.reason]++;
            with_rule += s.rule_id != 0;
            if (b.verdict != s.verdict || b.reason != s.reason || b.rule_id != s.rule_id ||
                b.port_id != s.port_id || b.len != f.size() || act != s.xdp_action) {
                std::string rules;
                for (const auto &x : rs)
                    if (x.id == b.rule_id || x.id == s.rule_id)
                        rules += "\n  rule " + std::to_string(x.id) + ": " + format(x);
                FAIL() << "frame " << frames << " (" << f.size() << " bytes, ifindex " << d.ifindex
                       << " queue " << q << ", seed " << seed << ")\n  xdp: verdict " << b.verdict
                       << " reason " << b.reason << " rule " << b.rule_id << " port " << b.port_id
                       << " len " << b.len << " action " << act << "\n  c++: verdict " << s.verdict
                       << " reason " << s.reason << " rule " << s.rule_id << " port " << s.port_id
                       << " action " << s.xdp_action << rules << "\n  frame " << hex(f);
            }
        }

        // Counters, once per rule set: every port and every rule id used so far.
        for (uint32_t p = 0; p < base.size(); p++) {
            oob_port_stats a = dp_->tables().port_stats(p);
            const oob_port_stats c = soft_.port_stats(p);
            for (int v = 0; v < OOB_VERDICT_MAX; v++) {
                a.verdict_packets[v] -= base[p].verdict_packets[v];
                a.verdict_bytes[v] -= base[p].verdict_bytes[v];
            }
            for (int k = 0; k < OOB_REASON_MAX; k++)
                a.reason[k] -= base[p].reason[k];
            ASSERT_EQ(std::memcmp(&a, &c, sizeof(a)), 0)
                << "port " << p << " counters differ after rule set " << rule_sets;
        }
        for (uint32_t id : rule_ids) {
            const oob_rule_stats a = dp_->tables().rule_stats(id), c = soft_.rule_stats(id);
            ASSERT_EQ(a.packets, c.packets) << "rule " << id << " after rule set " << rule_sets;
            ASSERT_EQ(a.bytes, c.bytes) << "rule " << id << " after rule set " << rule_sets;
        }
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    std::printf(
        "%lu frames (%lu over one page, %.0f bytes on average), %lu rule sets "
        "(%lu drawn over the limits), %.1f s\n",
        static_cast<unsigned long>(frames), static_cast<unsigned long>(over_page),
        static_cast<double>(bytes) / static_cast<double>(frames),
        static_cast<unsigned long>(rule_sets), static_cast<unsigned long>(compile_failures), secs);
    std::printf("verdicts: pass %lu divert %lu drop %lu; matched a rule: %lu\nreasons:",
                static_cast<unsigned long>(verdicts[OOB_PASS]),
                static_cast<unsigned long>(verdicts[OOB_DIVERT]),
                static_cast<unsigned long>(verdicts[OOB_DROP]),
                static_cast<unsigned long>(with_rule));
    for (const auto &[k, v] : reasons)
        std::printf(" %u:%lu", k, static_cast<unsigned long>(v));
    std::printf("\n");

    EXPECT_EQ(frames, total);
    // The mix reached what it is meant to reach.
    EXPECT_GT(with_rule, frames / 20);
    EXPECT_GT(verdicts[OOB_DIVERT], frames / 100);
    EXPECT_GT(verdicts[OOB_DROP], frames / 100);
    EXPECT_GT(over_page, frames / 100);
    for (uint32_t reason :
         {OOB_R_NO_DEV,      OOB_R_NO_PORT,    OOB_R_VLAN_NOT_OOB, OOB_R_CONTROL,
          OOB_R_TRUNC_VLAN,  OOB_R_VLAN_DEPTH, OOB_R_TRUNC_IP4,    OOB_R_BAD_IP4_HDR,
          OOB_R_BAD_IP4_LEN, OOB_R_TRUNC_IP6,  OOB_R_BAD_IP6_LEN,  OOB_R_IP6_EXT_LIMIT,
          OOB_R_TRUNC_L4,    OOB_R_BAD_L4_LEN, OOB_R_FRAGMENT,     OOB_R_NOT_IP,
          OOB_R_VLAN_MEMBER, OOB_R_RULE,       OOB_R_DEFAULT,      OOB_R_NO_XSK,
          OOB_R_BAD_VID,     OOB_R_BAD_IP6_HDR})
        EXPECT_GT(reasons[reason], 0u) << "no frame ended with reason " << reason;
}

}  // namespace
