// SPDX-License-Identifier: MIT
// The classifier's fixture table: every parse path, port/VLAN case and action, with at least 30
// malformed or unusual frames, run through the XDP program (BPF_PROG_TEST_RUN) and through the
// C++ back-end of the same core. For each frame the verdict, reason, rule and port are checked
// (read from the per-CPU last-verdict record: DIVERT without a socket and PASS look alike as XDP
// actions), then the per-port and per-rule counters of both against what the table implies.
#include "bpf_tables.h"
#include "netns.h"
#include "packet.h"
#include "soft.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_link.h>
#include <sched.h>
#include <sys/mman.h>
#include <xdp/xsk.h>

#include <map>
#include <memory>

#include "oob_xdp.skel.h"

using namespace oobbpf;
using namespace oobbpf::test;

namespace {

constexpr int kXdpDrop = 1, kXdpPass = 2, kXdpRedirect = 4;

struct Case {
    std::string what;
    int dev;  // 0: A (untagged port), 1: B (VLAN port 42 only), 2: C (no diversion)
    uint32_t queue;
    Bytes frame;
    uint32_t verdict, reason, rule_id, port_id;
};

// Rules of the fixture (ids are the rule ids):
//  1 prio 10  udp dport 7000            divert
//  2 prio 20  udp dport 7100-7103       drop   (one /14 port prefix)
//  3 prio 5   dst 10.9.0.0/16           pass
//  4 prio 10  frag udp dst 10.0.0.2/32  divert
//  5 prio 10  vlan 42 tcp dport 80      divert
RuleSetImage fixture_rules() {
    RuleSetImage img;
    auto add_mask = [&](const oob_rule_key &m, uint32_t prio) {
        img.masks.mask[img.masks.count] = m;
        img.masks.best_prio[img.masks.count] = prio;
        return img.masks.count++;
    };
    auto entry = [&](oob_rule_key k, uint32_t tuple, uint32_t id, uint32_t prio, uint32_t act) {
        k.tuple = static_cast<uint8_t>(tuple);
        img.entries.push_back({k, oob_rule_val{id, prio, act, 0}});
    };
    oob_rule_key m{}, k{};
    // Sorted by best priority: rule 3 first.
    m = {};
    m.flags = OOB_KF_FRAG;
    m.dst[0] = htonl(0xffff0000);
    k = {};
    k.dst[0] = htonl(0x0a090000);
    entry(k, add_mask(m, 5), 3, 5, OOB_PASS);

    m = {};
    m.flags = OOB_KF_FRAG;
    m.l4proto = 0xff;
    m.dport = 0xffff;
    k = {};
    k.l4proto = 17;
    k.dport = htons(7000);
    entry(k, add_mask(m, 10), 1, 10, OOB_DIVERT);

    m = {};
    m.flags = OOB_KF_FRAG;
    m.l4proto = 0xff;
    m.dst[0] = 0xffffffff;
    k = {};
    k.flags = OOB_KF_FRAG;
    k.l4proto = 17;
    k.dst[0] = htonl(0x0a000002);
    entry(k, add_mask(m, 10), 4, 10, OOB_DIVERT);

    m = {};
    m.flags = OOB_KF_FRAG;
    m.vid = 0xfff;
    m.l4proto = 0xff;
    m.dport = 0xffff;
    k = {};
    k.vid = 42;
    k.l4proto = 6;
    k.dport = htons(80);
    entry(k, add_mask(m, 10), 5, 10, OOB_DIVERT);

    m = {};
    m.flags = OOB_KF_FRAG;
    m.l4proto = 0xff;
    m.dport = htons(0xfffc);
    k = {};
    k.l4proto = 17;
    k.dport = htons(7100);
    entry(k, add_mask(m, 20), 2, 20, OOB_DROP);
    return img;
}

Bytes ip4_frame(const Ip4 &ip, const Bytes &l4, std::vector<std::pair<uint16_t, uint16_t>> tags = {}) {
    Frame f;
    f.tags = std::move(tags);
    f.l3 = ip.build(l4);
    return f.build();
}

Bytes ip6_frame(const Ip6 &ip, const Bytes &l4) {
    Frame f;
    f.ethertype = 0x86dd;
    f.l3 = ip.build(l4);
    return f.build();
}

Bytes raw_frame(uint16_t ethertype, size_t body, std::vector<std::pair<uint16_t, uint16_t>> tags = {}) {
    Frame f;
    f.ethertype = ethertype;
    f.tags = std::move(tags);
    f.l3 = Bytes(body, 0x11);
    return f.build();
}

std::vector<Case> fixture_cases() {
    std::vector<Case> c;
    const std::string s4 = "10.0.0.1", d4 = "10.0.0.2";
    auto U = [&](uint16_t dport, size_t pl = 16) { return udp4(s4, d4, 5555, dport, pl); };
    Ip4 ip;
    ip.src = s4;
    ip.dst = d4;
    Ip6 ip6;

    // Well-formed traffic on the untagged port (A, port 1).
    c.push_back({"udp4 rule divert, socket on queue 0", 0, 0, U(7000), OOB_DIVERT, OOB_R_RULE, 1, 1});
    c.push_back({"udp4 rule divert, no socket on queue 1", 0, 1, U(7000), OOB_PASS, OOB_R_NO_XSK, 1, 1});
    c.push_back({"udp4 no rule", 0, 0, U(7001), OOB_PASS, OOB_R_DEFAULT, 0, 1});
    c.push_back({"udp4 port range drop", 0, 0, U(7102), OOB_DROP, OOB_R_RULE, 2, 1});
    c.push_back({"udp4 range edge below", 0, 0, U(7099), OOB_PASS, OOB_R_DEFAULT, 0, 1});
    c.push_back({"udp4 range edge above", 0, 0, U(7104), OOB_PASS, OOB_R_DEFAULT, 0, 1});
    c.push_back({"prefix rule beats dport rule by priority", 0, 0,
                 udp4(s4, "10.9.1.1", 5555, 7000), OOB_PASS, OOB_R_RULE, 3, 1});
    c.push_back({"udp6 rule divert", 0, 0, udp6("fd00::1", "fd00::2", 5555, 7000), OOB_DIVERT,
                 OOB_R_RULE, 1, 1});
    c.push_back({"tcp4 dport 7000 is no udp rule", 0, 0, tcp4(s4, d4, 1234, 7000), OOB_PASS,
                 OOB_R_DEFAULT, 0, 1});
    c.push_back({"zero-length UDP payload", 0, 0, U(7000, 0), OOB_DIVERT, OOB_R_RULE, 1, 1});
    c.push_back({"priority-tagged (VID 0) is untagged", 0, 0, udp4(s4, d4, 5555, 7000, 16, {0}),
                 OOB_DIVERT, OOB_R_RULE, 1, 1});
    c.push_back({"jumbo 9000 B with frags", 0, 0, U(7000, 9000 - 42), OOB_DIVERT, OOB_R_RULE, 1, 1});
    {
        Ip4 o = ip;
        o.options = Bytes(12, 1);  // IHL 8 (NOPs)
        c.push_back({"IPv4 options", 0, 0, ip4_frame(o, udp(5555, 7000, Bytes(8, 0), s4, d4)),
                     OOB_DIVERT, OOB_R_RULE, 1, 1});
    }
    {
        Ip4 i = ip;
        i.proto = 1;
        c.push_back({"ICMP echo", 0, 0, ip4_frame(i, icmp(8)), OOB_PASS, OOB_R_DEFAULT, 0, 1});
    }
    // Always in-band.
    c.push_back({"ARP", 0, 0, arp_request(s4, d4), OOB_PASS, OOB_R_CONTROL, 0, 1});
    c.push_back({"LLDP", 0, 0, raw_frame(0x88cc, 40), OOB_PASS, OOB_R_CONTROL, 0, 1});
    {
        Ip6 i = ip6;
        i.next = 58;
        c.push_back({"IPv6 ND neighbour solicitation", 0, 0, ip6_frame(i, icmp(135, 0, 20)),
                     OOB_PASS, OOB_R_CONTROL, 0, 1});
        c.push_back({"IPv6 MLD report", 0, 0, ip6_frame(i, icmp(143, 0, 20)), OOB_PASS,
                     OOB_R_CONTROL, 0, 1});
        c.push_back({"ICMPv6 echo", 0, 0, ip6_frame(i, icmp(128)), OOB_PASS, OOB_R_DEFAULT, 0, 1});
    }
    c.push_back({"EtherCAT ethertype, nobody asked", 0, 0, raw_frame(0x88a4, 46), OOB_PASS,
                 OOB_R_NOT_IP, 0, 1});
    // Fragments.
    {
        Ip4 f = ip;
        f.frag = 0x2000;  // MF, offset 0
        c.push_back({"IPv4 first fragment, explicit frag rule", 0, 0,
                     ip4_frame(f, udp(5555, 7000, Bytes(32, 0))), OOB_DIVERT, OOB_R_RULE, 4, 1});
        f.dst = "10.0.0.3";
        c.push_back({"IPv4 first fragment, port rule does not match", 0, 0,
                     ip4_frame(f, udp(5555, 7000, Bytes(32, 0))), OOB_PASS, OOB_R_FRAGMENT, 0, 1});
        f.frag = 0x0004;  // offset 32, last
        c.push_back({"IPv4 later fragment", 0, 0, ip4_frame(f, Bytes(32, 0)), OOB_PASS,
                     OOB_R_FRAGMENT, 0, 1});
    }
    {
        Ip6 f = ip6;
        f.ext = {{44, Bytes{0x00, 0x01, 0, 0, 0, 1}}};  // offset 0, M
        c.push_back({"IPv6 fragment header", 0, 0, ip6_frame(f, udp(5555, 7000, Bytes(8, 0))),
                     OOB_PASS, OOB_R_FRAGMENT, 0, 1});
        f.ext = {{44, Bytes{0x00, 0x00, 0, 0, 0, 1}}};  // atomic fragment
        c.push_back({"IPv6 atomic fragment is whole", 0, 0,
                     ip6_frame(f, udp(5555, 7000, Bytes(8, 0), "fd00::1", "fd00::2", true)),
                     OOB_DIVERT, OOB_R_RULE, 1, 1});
    }
    // IPv6 extension chains.
    {
        Ip6 e = ip6;
        e.ext = {{0, Bytes(6, 0)}, {60, Bytes(14, 0)}, {43, Bytes(6, 0)}, {51, Bytes(10, 0)}};
        c.push_back({"IPv6 HBH+DST+RH+AH chain", 0, 0,
                     ip6_frame(e, udp(5555, 7000, Bytes(8, 0))), OOB_DIVERT, OOB_R_RULE, 1, 1});
        e.ext = {};
        for (int i = 0; i < OOB_IP6_MAX_EXT + 1; i++)
            e.ext.push_back({60, Bytes(6, 0)});
        c.push_back({"IPv6 chain longer than the bound", 0, 0,
                     ip6_frame(e, udp(5555, 7000, Bytes(8, 0))), OOB_PASS, OOB_R_IP6_EXT_LIMIT, 0, 1});
        e.ext = {{60, Bytes(6, 0)}};
        Bytes fr = ip6_frame(e, udp(5555, 7000, Bytes(8, 0)));
        fr.resize(14 + 40 + 4);
        fr[14 + 5] = 4;  // payload length says 4: the option header is cut
        c.push_back({"IPv6 extension header truncated", 0, 0, fr, OOB_PASS, OOB_R_TRUNC_IP6, 0, 1});
    }
    // Truncated and lying frames.
    c.push_back({"ethernet only, VLAN TPID, no tag", 0, 0, raw_frame(0x8100, 0), OOB_PASS,
                 OOB_R_TRUNC_VLAN, 0, 0});
    c.push_back({"VLAN tag cut", 0, 0, truncate(udp4(s4, d4, 1, 7000, 16, {100}), 16), OOB_PASS,
                 OOB_R_TRUNC_VLAN, 0, 0});
    c.push_back({"IPv4 header cut", 0, 0, truncate(U(7000), 14 + 10), OOB_PASS, OOB_R_TRUNC_IP4, 0, 1});
    c.push_back({"IPv4 only ethertype", 0, 0, raw_frame(0x0800, 0), OOB_PASS, OOB_R_TRUNC_IP4, 0, 1});
    {
        Bytes b = U(7000);
        b[14] = 0x55;
        c.push_back({"IPv4 version 5", 0, 0, b, OOB_PASS, OOB_R_BAD_IP4_HDR, 0, 1});
        b = U(7000);
        b[14] = 0x44;
        c.push_back({"IPv4 IHL 4", 0, 0, b, OOB_PASS, OOB_R_BAD_IP4_HDR, 0, 1});
        b = truncate(U(7000), 14 + 24);
        b[14] = 0x4f;
        c.push_back({"IPv4 IHL 15, frame shorter", 0, 0, b, OOB_PASS, OOB_R_TRUNC_IP4, 0, 1});
    }
    {
        Ip4 l = ip;
        l.totlen_delta = 100;
        c.push_back({"IPv4 total length longer than frame", 0, 0,
                     ip4_frame(l, udp(5555, 7000, Bytes(8, 0))), OOB_PASS, OOB_R_BAD_IP4_LEN, 0, 1});
        l.totlen_delta = -20;
        c.push_back({"IPv4 total length shorter than header", 0, 0,
                     ip4_frame(l, udp(5555, 7000, Bytes(8, 0))), OOB_PASS, OOB_R_BAD_IP4_LEN, 0, 1});
        l.totlen_delta = -12;  // 20 + 4: UDP header cut by the datagram's own length
        c.push_back({"UDP header beyond IPv4 length", 0, 0,
                     ip4_frame(l, udp(5555, 7000, Bytes(8, 0))), OOB_PASS, OOB_R_TRUNC_L4, 0, 1});
    }
    c.push_back({"UDP length longer than datagram", 0, 0,
                 ip4_frame(ip, udp(5555, 7000, Bytes(8, 0), "", "", false, 50)), OOB_PASS,
                 OOB_R_BAD_L4_LEN, 0, 1});
    c.push_back({"UDP length below 8", 0, 0,
                 ip4_frame(ip, udp(5555, 7000, Bytes(8, 0), "", "", false, -12)), OOB_PASS,
                 OOB_R_BAD_L4_LEN, 0, 1});
    {
        Ip4 t = ip;
        t.proto = 6;
        c.push_back({"TCP data offset 4", 0, 0, ip4_frame(t, tcp(1, 80, 4)), OOB_PASS,
                     OOB_R_BAD_L4_LEN, 0, 1});
        Bytes b = ip4_frame(t, tcp(1, 80));
        b.resize(b.size() - 8);
        b[14 + 3] = static_cast<uint8_t>(20 + 12);
        c.push_back({"TCP header cut", 0, 0, b, OOB_PASS, OOB_R_TRUNC_L4, 0, 1});
    }
    c.push_back({"IPv6 header cut", 0, 0, truncate(udp6("fd00::1", "fd00::2", 1, 7000), 14 + 20),
                 OOB_PASS, OOB_R_TRUNC_IP6, 0, 1});
    {
        Ip6 l = ip6;
        l.plen_delta = 64;
        c.push_back({"IPv6 payload length lies", 0, 0, ip6_frame(l, udp(5555, 7000, Bytes(8, 0))),
                     OOB_PASS, OOB_R_BAD_IP6_LEN, 0, 1});
        l.plen_delta = -16;
        c.push_back({"IPv6 payload length 0 (jumbogram)", 0, 0,
                     ip6_frame(l, udp(5555, 7000, Bytes(8, 0))), OOB_PASS, OOB_R_BAD_IP6_LEN, 0, 1});
        Bytes b = udp6("fd00::1", "fd00::2", 1, 7000);
        b[14] = 0x40;
        c.push_back({"IPv6 ethertype, version 4", 0, 0, b, OOB_PASS, OOB_R_BAD_IP6_HDR, 0, 1});
    }
    // VLANs: global set {100} (port 3), A's set {200} (port 4), VLAN port B.42 (port 2).
    c.push_back({"oob VLAN member (global set)", 0, 0, udp4(s4, d4, 1, 9, 16, {100}), OOB_DIVERT,
                 OOB_R_VLAN_MEMBER, 0, 3});
    c.push_back({"oob VLAN member, no socket on queue", 0, 2, udp4(s4, d4, 1, 9, 16, {100}), OOB_PASS,
                 OOB_R_NO_XSK, 0, 3});
    c.push_back({"ARP on an oob VLAN", 0, 0, arp_request(s4, d4, {100}), OOB_PASS, OOB_R_CONTROL, 0, 3});
    {
        Ip4 f = ip;
        f.frag = 0x0004;
        f.dst = "10.0.0.3";  // 10.0.0.2 has an explicit fragment rule
        c.push_back({"fragment on an oob VLAN", 0, 0,
                     ip4_frame(f, Bytes(32, 0), {{0x8100, 100}}), OOB_PASS, OOB_R_FRAGMENT, 0, 3});
    }
    c.push_back({"non-IP on an oob VLAN", 0, 0, raw_frame(0x88a4, 46, {{0x8100, 100}}), OOB_PASS,
                 OOB_R_NOT_IP, 0, 3});
    c.push_back({"per-device VLAN set member", 0, 0, udp4(s4, d4, 1, 9, 16, {200}), OOB_DIVERT,
                 OOB_R_VLAN_MEMBER, 0, 4});
    c.push_back({"per-device VLAN set of another device", 1, 0, udp4(s4, d4, 1, 9, 16, {200}),
                 OOB_PASS, OOB_R_VLAN_NOT_OOB, 0, 0});
    c.push_back({"tagged VID that is no port", 0, 0, udp4(s4, d4, 1, 7000, 16, {42}), OOB_PASS,
                 OOB_R_VLAN_NOT_OOB, 0, 0});
    c.push_back({"VID 4095", 0, 0, udp4(s4, d4, 1, 7000, 16, {4095}), OOB_PASS, OOB_R_BAD_VID, 0, 0});
    c.push_back({"three tags", 0, 0, udp4(s4, d4, 1, 7000, 16, {5, 6, 100}), OOB_PASS,
                 OOB_R_VLAN_DEPTH, 0, 0});
    {
        Ip4 t = ip;
        t.proto = 6;
        c.push_back({"VLAN port rule (vlan 42 tcp dport 80), no socket in B's slot", 1, 0,
                     ip4_frame(t, tcp(1, 80), {{0x8100, 42}}), OOB_PASS, OOB_R_NO_XSK, 5, 2});
        c.push_back({"QinQ, inner VID is the VLAN port", 1, 0,
                     ip4_frame(t, tcp(1, 80), {{0x88a8, 300}, {0x8100, 42}}), OOB_PASS,
                     OOB_R_NO_XSK, 5, 2});
    }
    c.push_back({"VLAN port, udp rule applies within the port", 1, 0,
                 udp4(s4, d4, 1, 7102, 16, {42}), OOB_DROP, OOB_R_RULE, 2, 2});
    c.push_back({"untagged frame on a device that is no port", 1, 0, U(7000), OOB_PASS,
                 OOB_R_NO_PORT, 0, 0});
    c.push_back({"device without diversion", 2, 0, U(7000), OOB_PASS, OOB_R_NO_DEV, 0, 0});
    return c;
}

int expected_xdp_action(uint32_t verdict) {
    return verdict == OOB_DIVERT ? kXdpRedirect : verdict == OOB_DROP ? kXdpDrop : kXdpPass;
}

struct SkelDeleter {
    void operator()(oob_xdp *s) const { oob_xdp__destroy(s); }
};

// An AF_XDP socket bound to queue 0 of a device, for the XSKMAP (copy mode, no program of
// libxdp's own: the classifier is ours).
struct Xsk {
    void *area = nullptr;
    size_t size = 0;
    xsk_umem *umem = nullptr;
    xsk_socket *sock = nullptr;
    xsk_ring_prod fill{}, tx{};
    xsk_ring_cons comp{}, rx{};
    ~Xsk() {
        if (sock)
            xsk_socket__delete(sock);
        if (umem)
            xsk_umem__delete(umem);
        if (area)
            munmap(area, size);
    }
};

class ClassifierFixture : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!privileged())
            return;
        // The whole process moves into a throwaway namespace: BPF_PROG_TEST_RUN resolves the
        // ingress ifindex there, so the devices must exist.
        ns_ = new Netns();
        other_ = new Netns();
        for (int i = 0; i < 3; i++) {
            std::string a = unique_name("ot"), b = unique_name("ot");
            sh_ok("ip link add " + a + " netns " + ns_->name() +
                  " numrxqueues 4 numtxqueues 4 type veth peer name " + b + " netns " +
                  other_->name());
            ns_->sh_ok("ip link set " + a + " up");
            devs_.push_back(a);
            ifindex_[i] = static_cast<uint32_t>(ns_->ifindex(a));
        }
        home_ = open("/proc/self/ns/net", O_RDONLY);
        int fd = open(("/run/netns/" + ns_->name()).c_str(), O_RDONLY);
        ASSERT_GE(fd, 0);
        ASSERT_EQ(setns(fd, CLONE_NEWNET), 0);
        close(fd);
    }
    static void TearDownTestSuite() {
        if (home_ >= 0) {
            setns(home_, CLONE_NEWNET);
            close(home_);
            home_ = -1;
        }
        delete ns_;
        delete other_;
        ns_ = other_ = nullptr;
    }

    void SetUp() override {
        OOBBPF_REQUIRE_PRIVILEGE();
        // Test runs execute on the CPU that asks: stay on CPU 0 and read its last record.
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(0, &set);
        ASSERT_EQ(sched_setaffinity(0, sizeof(set), &set), 0);

        skel_.reset(oob_xdp__open_and_load());
        ASSERT_TRUE(skel_) << "loading the classifier failed";
        auto *m = &skel_->maps;
        fds_.config = bpf_map__fd(m->oob_config);
        fds_.devs = bpf_map__fd(m->oob_devs);
        fds_.ports = bpf_map__fd(m->oob_ports);
        fds_.vlans = bpf_map__fd(m->oob_vlans);
        fds_.rules = bpf_map__fd(m->oob_rules);
        fds_.rule_masks = bpf_map__fd(m->oob_rule_masks);
        fds_.rule_stats = bpf_map__fd(m->oob_rule_stats);
        fds_.port_stats = bpf_map__fd(m->oob_port_stats);
        fds_.last = bpf_map__fd(m->oob_last);
        fds_.xsks = bpf_map__fd(m->oob_xsks);
        bpf_ = std::make_unique<BpfTables>(fds_);
        configure(*bpf_);
        configure(soft_);
        open_xsk();
    }

    void configure(Tables &t) {
        oob_config cfg{};
        cfg.magic = OOB_CONFIG_MAGIC;
        cfg.version = OOB_ABI_VERSION;
        t.set_config(cfg);
        t.put_dev(ifindex_[0], oob_dev{OOB_DEV_DIVERT | OOB_DEV_PORT, 0, 1, 0});
        t.put_dev(ifindex_[1], oob_dev{OOB_DEV_DIVERT, 1, 0, 0});
        t.put_port(oob_port_key{ifindex_[1], 42, 0},
                   oob_port{2, OOB_PORT_VLAN, 999, ifindex_[1], 42, 0, 0});
        t.put_vlan(oob_vlan_key{0, 100, 0}, oob_vlan{OOB_VLAN_MEMBER, 3});
        t.put_vlan(oob_vlan_key{ifindex_[0], 200, 0}, oob_vlan{OOB_VLAN_MEMBER, 4});
        install_rules(t, fixture_rules());
    }

    void open_xsk() {
        xsk_.size = 4096 * 64;
        xsk_.area = mmap(nullptr, xsk_.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
        ASSERT_NE(xsk_.area, MAP_FAILED);
        ASSERT_EQ(xsk_umem__create(&xsk_.umem, xsk_.area, xsk_.size, &xsk_.fill, &xsk_.comp,
                                   nullptr),
                  0);
        xsk_socket_config cfg{};
        cfg.rx_size = XSK_RING_CONS__DEFAULT_NUM_DESCS;
        cfg.tx_size = XSK_RING_PROD__DEFAULT_NUM_DESCS;
        cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
        cfg.bind_flags = XDP_COPY;
        ASSERT_EQ(xsk_socket__create(&xsk_.sock, devs_[0].c_str(), 0, xsk_.umem, &xsk_.rx, &xsk_.tx,
                                     &cfg),
                  0);
        uint32_t slot = 0 * OOB_MAX_QUEUES + 0;
        int sfd = xsk_socket__fd(xsk_.sock);
        ASSERT_EQ(bpf_map_update_elem(fds_.xsks, &slot, &sfd, BPF_ANY), 0);
        soft_.set_xsk(slot, true);
    }

    // One frame through BPF_PROG_TEST_RUN; returns the XDP action, fills the last record.
    int run_bpf(const Case &c, oob_last &last) {
        xdp_md ctx{};
        ctx.data_end = static_cast<uint32_t>(c.frame.size());
        ctx.ingress_ifindex = ifindex_[c.dev];
        ctx.rx_queue_index = c.queue;
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = c.frame.data(),
                    .data_size_in = static_cast<uint32_t>(c.frame.size()), .ctx_in = &ctx,
                    .ctx_size_in = sizeof(ctx));
        int rc = bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.oob_xdp), &opts);
        EXPECT_EQ(rc, 0) << c.what << ": test run failed: " << strerror(errno);
        last = bpf_->last(0);
        return static_cast<int>(opts.retval);
    }

    static inline Netns *ns_ = nullptr, *other_ = nullptr;
    static inline int home_ = -1;
    static inline std::vector<std::string> devs_;
    static inline uint32_t ifindex_[3] = {};
    std::unique_ptr<oob_xdp, SkelDeleter> skel_;
    MapFds fds_;
    std::unique_ptr<BpfTables> bpf_;
    SoftTables soft_;
    Xsk xsk_;
};

TEST_F(ClassifierFixture, TableHasEnoughUnusualFrames) {
    size_t unusual = 0;
    for (const auto &c : fixture_cases())
        if (c.reason != OOB_R_RULE && c.reason != OOB_R_DEFAULT)
            unusual++;
    EXPECT_GE(unusual, 30u);
}

TEST_F(ClassifierFixture, EveryCaseSameInXdpAndCpp) {
    std::map<uint32_t, oob_port_stats> want_ports;
    std::map<uint32_t, oob_rule_stats> want_rules;
    uint64_t seq = bpf_->last(0).seq;

    for (const auto &c : fixture_cases()) {
        SCOPED_TRACE(c.what);
        oob_last last{};
        int act = run_bpf(c, last);
        EXPECT_EQ(last.seq, ++seq) << "the XDP program did not judge the frame";
        EXPECT_EQ(act, expected_xdp_action(c.verdict));
        EXPECT_EQ(last.verdict, c.verdict);
        EXPECT_EQ(last.reason, c.reason);
        EXPECT_EQ(last.rule_id, c.rule_id);
        EXPECT_EQ(last.port_id, c.port_id);
        EXPECT_EQ(last.len, c.frame.size());

        Judgement j = soft_.classify(c.frame.data(), c.frame.size(), ifindex_[c.dev], c.queue);
        EXPECT_EQ(j.xdp_action, expected_xdp_action(c.verdict));
        EXPECT_EQ(j.verdict, c.verdict);
        EXPECT_EQ(j.reason, c.reason);
        EXPECT_EQ(j.rule_id, c.rule_id);
        EXPECT_EQ(j.port_id, c.port_id);

        auto &p = want_ports[c.port_id];
        p.verdict_packets[c.verdict]++;
        p.verdict_bytes[c.verdict] += c.frame.size();
        p.reason[c.reason]++;
        if (c.rule_id) {
            want_rules[c.rule_id].packets++;
            want_rules[c.rule_id].bytes += c.frame.size();
        }
    }

    for (uint32_t port = 0; port < 8; port++) {
        SCOPED_TRACE("port " + std::to_string(port));
        oob_port_stats want = want_ports.count(port) ? want_ports[port] : oob_port_stats{};
        oob_port_stats got_bpf = bpf_->port_stats(port), got_soft = soft_.port_stats(port);
        EXPECT_EQ(memcmp(&want, &got_bpf, sizeof(want)), 0) << "XDP port counters differ";
        EXPECT_EQ(memcmp(&want, &got_soft, sizeof(want)), 0) << "C++ port counters differ";
    }
    for (uint32_t rule = 1; rule <= 5; rule++) {
        SCOPED_TRACE("rule " + std::to_string(rule));
        oob_rule_stats want = want_rules[rule];
        EXPECT_EQ(bpf_->rule_stats(rule).packets, want.packets);
        EXPECT_EQ(bpf_->rule_stats(rule).bytes, want.bytes);
        EXPECT_EQ(soft_.rule_stats(rule).packets, want.packets);
    }
}

// Replacing the rule set flips generations: the old set's entries are gone afterwards and the
// new one decides.
TEST_F(ClassifierFixture, RuleSetReplacementTakesEffect) {
    Case c{"udp 7000", 0, 0, udp4("10.0.0.1", "10.0.0.2", 1, 7000), 0, 0, 0, 0};
    oob_last last{};
    run_bpf(c, last);
    EXPECT_EQ(last.rule_id, 1u);
    install_rules(*bpf_, RuleSetImage{});
    run_bpf(c, last);
    EXPECT_EQ(last.rule_id, 0u);
    EXPECT_EQ(last.reason, static_cast<uint32_t>(OOB_R_DEFAULT));
    EXPECT_TRUE(bpf_->rule_keys().empty());
    install_rules(*bpf_, fixture_rules());
    run_bpf(c, last);
    EXPECT_EQ(last.rule_id, 1u);
    EXPECT_EQ(bpf_->rule_keys().size(), fixture_rules().entries.size());
}

}  // namespace
