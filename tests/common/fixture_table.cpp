// SPDX-License-Identifier: MIT
#include "fixture_table.h"

#include <arpa/inet.h>

namespace oobbpf::test {

namespace {
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

}  // namespace

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


void configure_fixture(Tables &t, const uint32_t ifindex[3]) {
    oob_config cfg{};
    cfg.magic = OOB_CONFIG_MAGIC;
    cfg.version = OOB_ABI_VERSION;
    t.set_config(cfg);
    t.put_dev(ifindex[0], oob_dev{OOB_DEV_DIVERT | OOB_DEV_PORT, 0, 1, 0});
    t.put_dev(ifindex[1], oob_dev{OOB_DEV_DIVERT, 1, 0, 0});
    t.put_port(oob_port_key{ifindex[1], 42, 0},
               oob_port{2, OOB_PORT_VLAN, 999, ifindex[1], 42, 0, 0});
    t.put_vlan(oob_vlan_key{0, 100, 0}, oob_vlan{OOB_VLAN_MEMBER, 3});
    t.put_vlan(oob_vlan_key{ifindex[0], 200, 0}, oob_vlan{OOB_VLAN_MEMBER, 4});
    install_rules(t, fixture_rules());
}

}  // namespace oobbpf::test
