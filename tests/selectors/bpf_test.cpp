// SPDX-License-Identifier: MIT
// Selectors judged through BPF_PROG_TEST_RUN of the real classifier: the classifier tail-calls
// the selector the loader installed, exactly as on a device. Table-driven: {frame, expected XDP
// action, final verdict, reason} per example; then the loader's life cycle (replace, keep state,
// unload) and every load error, each leaving the previous selector in place.
//
// The binary runs in a network namespace of its own (unshare at start): "lo" is ifindex 1 there,
// the device the test runs pretend frames arrived on.
#include "env.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sched.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>

using namespace oobbpf;
using namespace oobbpf::selectors;
using namespace oobbpf::test;

namespace {

constexpr uint32_t kLo = 1;
constexpr uint32_t kPort = 1;      // port of untagged frames on lo
constexpr uint32_t kVlanPort = 2;  // lo.100
constexpr unsigned kCpu = 0;

struct Judged {
    int action = -1;  // XDP_*
    uint32_t verdict = 99, reason = 99, port = 99;
};

class SelectorBpf : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (!privileged())
            return;
        // Own namespace: lo is ifindex 1, dummies created here vanish with the process.
        ASSERT_EQ(unshare(CLONE_NEWNET), 0);
        sh_ok("ip link set lo up");
        // One CPU, so the per-CPU oob_last of that CPU holds the last judgement.
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(kCpu, &set);
        ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0);
    }

    void SetUp() override {
        OOBBPF_REQUIRE_PRIVILEGE();
        cls_ = std::make_unique<Classifier>();
        cls_->divert(kLo, 0, kPort);
        oob_port_key k{kLo, 100, 0};
        oob_port p{};
        p.port_id = kVlanPort;
        p.flags = OOB_PORT_VLAN;
        p.ifindex = kLo;
        p.lower_ifindex = kLo;
        p.vid = 100;
        cls_->tables().put_port(k, p);
    }

    const std::string &root() { return cls_->pin_root(); }

    Judged run(const Bytes &frame) {
        Judged j;
        xdp_md ctx{};
        ctx.data_end = static_cast<uint32_t>(frame.size());
        ctx.ingress_ifindex = kLo;
        Bytes out(frame.size() + 256);
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
                    .data_size_in = static_cast<uint32_t>(frame.size()),
                    .data_size_out = static_cast<uint32_t>(out.size()), .ctx_in = &ctx,
                    .ctx_size_in = sizeof(ctx), .repeat = 1);
        int rc = bpf_prog_test_run_opts(cls_->prog_fd(), &opts);
        EXPECT_EQ(rc, 0) << "test run: " << std::strerror(errno);
        j.action = static_cast<int>(opts.retval);
        oob_last l = cls_->tables().last(kCpu);
        j.verdict = l.verdict;
        j.reason = l.reason;
        j.port = l.port_id;
        return j;
    }

    std::unique_ptr<Classifier> cls_;
};

const char *action_name(int a) {
    switch (a) {
        case XDP_PASS:
            return "PASS";
        case XDP_DROP:
            return "DROP";
        case XDP_REDIRECT:
            return "REDIRECT";
        default:
            return "other";
    }
}

struct Case {
    const char *what;
    Bytes frame;
    int action;
    uint32_t verdict, reason, port = kPort;
};

void expect_judged(const Judged &j, const Case &c) {
    EXPECT_EQ(action_name(j.action), std::string(action_name(c.action))) << c.what;
    EXPECT_EQ(j.verdict, c.verdict) << c.what;
    EXPECT_EQ(j.reason, c.reason) << c.what;
    EXPECT_EQ(j.port, c.port) << c.what;
}
#define EXPECT_JUDGED(j, c)      \
    do {                         \
        SCOPED_TRACE((c).what);  \
        expect_judged((j), (c)); \
    } while (0)

// An EtherCAT frame: ethertype 0x88A4, header (length 11 bits, type 4 bits, little endian),
// one datagram's worth of bytes.
Bytes ethercat(uint8_t type, const std::vector<uint16_t> &vids = {}) {
    Frame f;
    for (uint16_t v : vids)
        f.tags.push_back({0x8100, v});
    f.ethertype = 0x88a4;
    uint16_t len = 44;
    f.l3 = {static_cast<uint8_t>(len & 0xff), static_cast<uint8_t>((len >> 8) | (type << 4))};
    f.l3.resize(2 + len, 0);
    return f.build();
}

Bytes ethercat_udp(uint8_t type) {
    Bytes payload = {44, static_cast<uint8_t>(type << 4)};
    payload.resize(46, 0);
    Frame f;
    Ip4 ip;
    f.l3 = ip.build(udp(34980, 34980, payload, ip.src, ip.dst));
    return f.build();
}

Bytes udp4_frag(uint16_t dport) {
    Frame f;
    Ip4 ip;
    ip.frag = 0x2000;  // MF, offset 0: the first fragment
    f.l3 = ip.build(udp(1234, dport, Bytes(16, 0), ip.src, ip.dst));
    return f.build();
}

uint64_t map_u64(const std::string &pin, uint32_t key) {
    int fd = bpf_obj_get(pin.c_str());
    EXPECT_GE(fd, 0) << pin;
    uint64_t v = 0;
    EXPECT_EQ(bpf_map_lookup_elem(fd, &key, &v), 0) << pin;
    close(fd);
    return v;
}

}  // namespace

TEST_F(SelectorBpf, UdpRange) {
    Installed in = load(root(), "lo", bpf_object_path("sel_udp_range"));
    EXPECT_EQ(in.program, "sel_udp_range");
    EXPECT_EQ(in.replaced_prog_id, 0u);
    EXPECT_TRUE(cls_->dev(kLo).flags & OOB_DEV_SELECTOR) << "the loader turns the selector on";

    // DIVERT without an oob socket on the queue: counted, passed in-band (OOB_R_NO_XSK).
    const Case defaults[] = {
        {"low end", udp4("10.0.0.1", "10.0.0.2", 1, 47000), XDP_PASS, OOB_PASS, OOB_R_NO_XSK},
        {"high end", udp4("10.0.0.1", "10.0.0.2", 1, 47999), XDP_PASS, OOB_PASS, OOB_R_NO_XSK},
        {"IPv6", udp6("fd00::1", "fd00::2", 1, 47500), XDP_PASS, OOB_PASS, OOB_R_NO_XSK},
        {"below", udp4("10.0.0.1", "10.0.0.2", 1, 46999), XDP_PASS, OOB_PASS, OOB_R_DEFAULT},
        {"above", udp4("10.0.0.1", "10.0.0.2", 1, 48000), XDP_PASS, OOB_PASS, OOB_R_DEFAULT},
        {"TCP", tcp4("10.0.0.1", "10.0.0.2", 1, 47500), XDP_PASS, OOB_PASS, OOB_R_DEFAULT},
        {"fragment", udp4_frag(47500), XDP_PASS, OOB_PASS, OOB_R_FRAGMENT},
        {"tagged, VLAN port", udp4("10.0.0.1", "10.0.0.2", 1, 47100, 16, {100}), XDP_PASS, OOB_PASS,
         OOB_R_NO_XSK, kVlanPort},
        {"ARP never reaches it", arp_request("10.0.0.1", "10.0.0.2"), XDP_PASS, OOB_PASS,
         OOB_R_CONTROL},
    };
    for (const auto &c : defaults)
        EXPECT_JUDGED(run(c.frame), c);

    // Load-time configuration through the pinned map: 10000-10015, DROP.
    ASSERT_EQ(in.map_pins, std::vector<std::string>{root() + "/selector/lo/maps/udp_range"});
    int fd = bpf_obj_get(in.map_pins[0].c_str());
    ASSERT_GE(fd, 0);
    struct {
        uint16_t lo, hi;
        uint32_t verdict;
    } range{10000, 10015, OOB_DROP};
    uint32_t zero = 0;
    ASSERT_EQ(bpf_map_update_elem(fd, &zero, &range, BPF_ANY), 0);
    close(fd);
    const Case configured[] = {
        {"in range", udp4("10.0.0.1", "10.0.0.2", 1, 10010), XDP_DROP, OOB_DROP, OOB_R_SELECTOR},
        {"old range", udp4("10.0.0.1", "10.0.0.2", 1, 47500), XDP_PASS, OOB_PASS, OOB_R_DEFAULT},
    };
    for (const auto &c : configured)
        EXPECT_JUDGED(run(c.frame), c);
    // And the counters: the drop is on port 1 with reason OOB_R_SELECTOR.
    oob_port_stats ps = cls_->tables().port_stats(kPort);
    EXPECT_EQ(ps.verdict_packets[OOB_DROP], 1u);
    EXPECT_EQ(ps.reason[OOB_R_SELECTOR], 1u);
    EXPECT_EQ(ps.reason[OOB_R_NO_XSK], 3u);
}

TEST_F(SelectorBpf, EtherCat) {
    load(root(), "lo", bpf_object_path("sel_ethercat"));
    const Case cases[] = {
        {"EtherCAT commands", ethercat(1), XDP_PASS, OOB_PASS, OOB_R_NO_XSK},
        {"EtherCAT, VLAN 100", ethercat(1, {100}), XDP_PASS, OOB_PASS, OOB_R_NO_XSK, kVlanPort},
        {"EtherCAT over UDP", ethercat_udp(1), XDP_PASS, OOB_PASS, OOB_R_NO_XSK},
        {"EtherCAT mailbox gateway", ethercat(5), XDP_PASS, OOB_PASS, OOB_R_NOT_IP},
        {"EtherCAT, VLAN 200 (no port)", ethercat(1, {200}), XDP_PASS, OOB_PASS, OOB_R_VLAN_NOT_OOB,
         0},
        {"other ethertype",
         [] {
             Frame f;
             f.ethertype = 0x88b5;
             f.l3.assign(46, 0x10);
             return f.build();
         }(),
         XDP_PASS, OOB_PASS, OOB_R_NOT_IP},
        {"no EtherCAT header",
         [] {
             Frame f;
             f.ethertype = 0x88a4;
             return f.build();
         }(),
         XDP_PASS, OOB_PASS, OOB_R_NOT_IP},
        {"UDP elsewhere", udp4("10.0.0.1", "10.0.0.2", 34980, 34981), XDP_PASS, OOB_PASS,
         OOB_R_DEFAULT},
    };
    for (const auto &c : cases)
        EXPECT_JUDGED(run(c.frame), c);
}

namespace {

struct SrcKey {
    uint8_t family;
    uint8_t pad[3];
    uint32_t addr[4];
};
struct SrcBudget {
    uint32_t rate_pps, burst;
    uint64_t tokens_milli, last_ns, diverted, dropped;
};

SrcKey src_key(const std::string &a) {
    SrcKey k{};
    if (a.find(':') != std::string::npos) {
        k.family = 10;
        inet_pton(AF_INET6, a.c_str(), k.addr);
    } else {
        k.family = 2;
        inet_pton(AF_INET, a.c_str(), k.addr);
    }
    return k;
}

}  // namespace

TEST_F(SelectorBpf, AllowSourcesWithTokenBucket) {
    Installed in = load(root(), "lo", bpf_object_path("sel_allow_src"));
    ASSERT_EQ(in.map_pins.size(), 1u);
    int fd = bpf_obj_get(in.map_pins[0].c_str());
    ASSERT_GE(fd, 0);
    SrcKey open4 = src_key("10.0.0.1"), limited6 = src_key("fd00::1");
    SrcBudget unlimited{}, two_per_s{};
    two_per_s.rate_pps = 2;
    two_per_s.burst = 2;
    ASSERT_EQ(bpf_map_update_elem(fd, &open4, &unlimited, BPF_ANY), 0);
    ASSERT_EQ(bpf_map_update_elem(fd, &limited6, &two_per_s, BPF_ANY), 0);

    const Case cases[] = {
        {"listed", udp4("10.0.0.1", "10.0.0.2", 1, 2), XDP_PASS, OOB_PASS, OOB_R_NO_XSK},
        {"listed, TCP", tcp4("10.0.0.1", "10.0.0.2", 1, 2), XDP_PASS, OOB_PASS, OOB_R_NO_XSK},
        {"not listed", udp4("10.0.0.9", "10.0.0.2", 1, 2), XDP_PASS, OOB_PASS, OOB_R_DEFAULT},
        {"v6, token 1", udp6("fd00::1", "fd00::2", 1, 2), XDP_PASS, OOB_PASS, OOB_R_NO_XSK},
        {"v6, token 2", udp6("fd00::1", "fd00::2", 1, 2), XDP_PASS, OOB_PASS, OOB_R_NO_XSK},
        {"v6, over the rate", udp6("fd00::1", "fd00::2", 1, 2), XDP_DROP, OOB_DROP, OOB_R_SELECTOR},
        {"v6 not listed", udp6("fd00::5", "fd00::2", 1, 2), XDP_PASS, OOB_PASS, OOB_R_DEFAULT},
    };
    for (const auto &c : cases)
        EXPECT_JUDGED(run(c.frame), c);

    SrcBudget b{};
    ASSERT_EQ(bpf_map_lookup_elem(fd, &open4, &b), 0);
    EXPECT_EQ(b.diverted, 2u);
    EXPECT_EQ(b.dropped, 0u);
    ASSERT_EQ(bpf_map_lookup_elem(fd, &limited6, &b), 0);
    EXPECT_EQ(b.diverted, 2u);
    EXPECT_EQ(b.dropped, 1u);

    // Half a second later the bucket holds one token again (2 per second).
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    EXPECT_JUDGED(run(udp6("fd00::1", "fd00::2", 1, 2)),
                  (Case{"v6, refilled", {}, XDP_PASS, OOB_PASS, OOB_R_NO_XSK}));
    EXPECT_JUDGED(run(udp6("fd00::1", "fd00::2", 1, 2)),
                  (Case{"v6, empty again", {}, XDP_DROP, OOB_DROP, OOB_R_SELECTOR}));
    close(fd);
}

TEST_F(SelectorBpf, ReplaceShowUnload) {
    const Bytes marker = udp4("10.0.0.1", "10.0.0.2", 1, 9000);
    const Bytes probe = udp4("10.0.0.1", "10.0.0.2", 1, 9999);
    const std::string two = bpf_object_path("fx_two");

    // Before any selector: the default.
    EXPECT_EQ(run(marker).reason, OOB_R_DEFAULT);

    Installed a = load(root(), "lo", two, "probe_a");
    EXPECT_EQ(a.pin, root() + "/selector/lo/prog");
    EXPECT_EQ(cls_->slot_prog(0), a.prog_id);
    EXPECT_JUDGED(run(marker), (Case{"a: marker", {}, XDP_PASS, OOB_PASS, OOB_R_SELECTOR}));
    EXPECT_JUDGED(run(probe), (Case{"a: probe", {}, XDP_DROP, OOB_DROP, OOB_R_SELECTOR}));

    Installed b = load(root(), "lo", two, "probe_b");
    EXPECT_EQ(b.replaced_prog_id, a.prog_id);
    EXPECT_NE(b.prog_id, a.prog_id);
    EXPECT_EQ(cls_->slot_prog(0), b.prog_id);
    EXPECT_JUDGED(run(marker), (Case{"b: marker", {}, XDP_PASS, OOB_PASS, OOB_R_NO_XSK}));
    EXPECT_JUDGED(run(probe), (Case{"b: probe", {}, XDP_DROP, OOB_DROP, OOB_R_SELECTOR}));

    // The pin names the installed program; show and list agree with the slot.
    std::optional<Installed> s = show(root(), "lo");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->prog_id, b.prog_id);
    EXPECT_EQ(s->program, "probe_b");
    EXPECT_EQ(s->slot, 0u);
    EXPECT_EQ(list(root()).size(), 1u);
    auto pinned = sh_ok("bpftool prog show pinned " + b.pin);
    EXPECT_NE(pinned.find("name probe_b"), std::string::npos) << pinned;
    EXPECT_NE(pinned.find("xdp"), std::string::npos) << pinned;

    unload(root(), "lo");
    EXPECT_FALSE(cls_->dev(kLo).flags & OOB_DEV_SELECTOR);
    EXPECT_EQ(cls_->slot_prog(0), 0u);
    EXPECT_FALSE(show(root(), "lo"));
    EXPECT_FALSE(std::filesystem::exists(b.pin));
    EXPECT_JUDGED(run(marker), (Case{"none: marker", {}, XDP_PASS, OOB_PASS, OOB_R_DEFAULT}));
    EXPECT_JUDGED(run(probe), (Case{"none: probe", {}, XDP_PASS, OOB_PASS, OOB_R_DEFAULT}));
    // No frame ever found the flag set and the slot empty.
    EXPECT_EQ(cls_->tables().port_stats(kPort).reason[OOB_R_SELECTOR_ERR], 0u);

    try {
        unload(root(), "lo");
        ADD_FAILURE() << "second unload succeeded";
    } catch (const SelectorError &e) {
        EXPECT_EQ(e.failure(), Failure::NotLoaded);
        EXPECT_STREQ(e.what(), "no selector on lo");
    }
}

TEST_F(SelectorBpf, ReplacementKeepsUnchangedMaps) {
    const Bytes f = udp4("10.0.0.1", "10.0.0.2", 1, 5);
    Installed v1 = load(root(), "lo", bpf_object_path("fx_state_v1"));
    EXPECT_TRUE(v1.kept_maps.empty());
    for (int i = 0; i < 3; i++)
        run(f);
    const std::string hits = root() + "/selector/lo/maps/hits",
                      extra = root() + "/selector/lo/maps/extra";
    EXPECT_EQ(map_u64(hits, 1), 3u);
    EXPECT_EQ(map_u64(extra, 1), 3u);

    Installed v2 = load(root(), "lo", bpf_object_path("fx_state_v2"));
    EXPECT_EQ(v2.kept_maps, std::vector<std::string>{"hits"});
    run(f);
    EXPECT_EQ(map_u64(hits, 1), 3u) << "v1's count survived the replacement";
    EXPECT_EQ(map_u64(hits, 2), 1u);
    EXPECT_EQ(map_u64(extra, 1), 0u) << "extra changed size: a fresh map";
    EXPECT_EQ(map_u64(extra, 2), 1u);
    EXPECT_EQ(map_u64(extra, 7), 0u) << "and it is v2's (8 entries)";
}

// Every load error: one clear line, and the previous selector stays, judging as before.
TEST_F(SelectorBpf, FailedLoadsLeaveThePreviousSelector) {
    const Bytes marker = udp4("10.0.0.1", "10.0.0.2", 1, 9000);
    Installed a = load(root(), "lo", bpf_object_path("fx_two"), "probe_a");
    sh_ok("ip link add odummy0 type veth peer name odummy1");
    const std::string text = "/tmp/oobsel-" + std::to_string(getpid()) + ".o";
    std::ofstream(text) << "not an object\n";
    // The guide's compile command without -mcpu=v3: clang's default ISA, v1.
    const std::string v1 = "/tmp/oobsel-v1-" + std::to_string(getpid()) + ".o";
    sh_ok("clang -g -O2 -target bpf -I" + std::string(OOBBPF_BPF_DIR) + " -I" +
          std::string(OOBBPF_SOURCE_DIR) + "/include -c " + OOBBPF_SOURCE_DIR +
          "/bpf/examples/sel_udp_range.bpf.c -o " + v1);

    struct Bad {
        const char *what;
        std::function<void()> load;
        Failure failure;
        std::string text;
    };
    const std::string fx = std::string(OOBBPF_BPF_DIR) + "/";
    const Bad bads[] = {
        {"not ELF", [&] { load(root(), "lo", text); }, Failure::NotElf, "is not an ELF file"},
        {"no section", [&] { load(root(), "lo", fx + "fx_two.bpf.o", "nope"); },
         Failure::NoSuchSection, "has no section or program nope"},
        {"two programs", [&] { load(root(), "lo", fx + "fx_two.bpf.o"); }, Failure::Ambiguous,
         "pick one with section NAME"},
        {"tc", [&] { load(root(), "lo", fx + "fx_tc.bpf.o"); }, Failure::WrongType,
         "is a sched_cls program, not a selector"},
        {"no frags", [&] { load(root(), "lo", fx + "fx_no_frags.bpf.o"); }, Failure::NoFrags,
         "is XDP without frags"},
        {"old ABI", [&] { load(root(), "lo", fx + "fx_abi_old.bpf.o"); }, Failure::AbiMismatch,
         "was built for selector ABI"},
        {"no marker", [&] { load(root(), "lo", fx + "fx_no_marker.bpf.o"); }, Failure::NoAbiMarker,
         "was not built with <oobbpf/selector.h>"},
        {"verifier", [&] { load(root(), "lo", fx + "fx_verifier.bpf.o"); }, Failure::Verifier,
         "unchecked of " + fx +
             "fx_verifier.bpf.o rejected by the verifier: invalid access to "
             "packet"},
        {"ISA v1", [&] { load(root(), "lo", v1); }, Failure::Verifier,
         "(built for BPF ISA v1? compile with clang -mcpu=v3)"},
        {"no device", [&] { load(root(), "nosuchdev0", fx + "sel_ethercat.bpf.o"); },
         Failure::NoDevice, "no device nosuchdev0 in this network namespace"},
        {"no diversion", [&] { load(root(), "odummy0", fx + "sel_ethercat.bpf.o"); },
         Failure::NoDiversion, "odummy0 does not divert"},
        {"no pin root", [&] { load(root() + "-none", "lo", fx + "sel_ethercat.bpf.o"); },
         Failure::NoPinRoot, "no pin root " + root() + "-none"},
    };
    for (const auto &b : bads) {
        try {
            b.load();
            ADD_FAILURE() << b.what << ": loaded";
        } catch (const SelectorError &e) {
            std::string w = e.what();
            std::printf("%-13s %s\n", b.what, w.c_str());
            EXPECT_EQ(e.failure(), b.failure) << b.what << ": " << w;
            EXPECT_NE(w.find(b.text), std::string::npos) << b.what << ": " << w;
            EXPECT_EQ(w.find('\n'), std::string::npos) << b.what << ": " << w;
            if (b.failure == Failure::Verifier && w.find("ISA v1") == std::string::npos) {
                // The key lines name the instruction and the source line; -v has it all.
                EXPECT_NE(w.find("fx_verifier.bpf.c:"), std::string::npos) << w;
                EXPECT_NE(e.details().find("processed"), std::string::npos) << e.details();
            }
        }
        EXPECT_EQ(cls_->slot_prog(0), a.prog_id) << b.what;
        auto s = show(root(), "lo");
        ASSERT_TRUE(s) << b.what;
        EXPECT_EQ(s->program, "probe_a") << b.what;
        EXPECT_JUDGED(run(marker), (Case{b.what, {}, XDP_PASS, OOB_PASS, OOB_R_SELECTOR}));
    }
    std::remove(text.c_str());
    std::remove(v1.c_str());
    sh("ip link del odummy0");  // and its peer
}

// The kernel's own refusal (a bare EINVAL when a program does not match the prog array's
// owner) is translated too. Here the selector slot belongs to an array whose owner is an XDP
// program without frags: the checks pass, the kernel refuses, the old program stays.
TEST_F(SelectorBpf, KernelRefusalIsTranslated) {
    // r0 = XDP_PASS; exit: an XDP program without the frags flag.
    const bpf_insn insns[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_PASS},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    int prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "plain_xdp", "GPL", insns, 2, nullptr);
    ASSERT_GE(prog, 0) << std::strerror(errno);
    int arr = bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, "oob_selectors", 4, 4, OOB_MAX_DEVS, nullptr);
    ASSERT_GE(arr, 0) << std::strerror(errno);
    uint32_t slot = 0;
    ASSERT_EQ(bpf_map_update_elem(arr, &slot, &prog, BPF_ANY), 0);  // the owner: no frags
    const std::string pin = root() + "/" + OOB_PIN_SELECTORS;
    ASSERT_EQ(unlink(pin.c_str()), 0);
    ASSERT_EQ(bpf_obj_pin(arr, pin.c_str()), 0);
    uint32_t before = 0;
    ASSERT_EQ(bpf_map_lookup_elem(arr, &slot, &before), 0);

    try {
        load(root(), "lo", bpf_object_path("sel_ethercat"));
        ADD_FAILURE() << "loaded into a prog array owned by a non-frags program";
    } catch (const SelectorError &e) {
        EXPECT_EQ(e.failure(), Failure::WrongType) << e.what();
        EXPECT_NE(std::string(e.what()).find("the kernel refused sel_ethercat of " +
                                             bpf_object_path("sel_ethercat") +
                                             " in lo's selector slot (EINVAL): its program type "
                                             "or flags differ from the classifier's"),
                  std::string::npos)
            << e.what();
    }
    uint32_t after = 0;
    EXPECT_EQ(bpf_map_lookup_elem(arr, &slot, &after), 0);
    EXPECT_EQ(after, before) << "the previous program stays";
    EXPECT_FALSE(show(root(), "lo")) << "no pin for what was not installed";
    EXPECT_FALSE(std::filesystem::exists(root() + "/selector/lo")) << "nor an empty directory";
    EXPECT_FALSE(cls_->dev(kLo).flags & OOB_DEV_SELECTOR);
    close(arr);
    close(prog);
}
