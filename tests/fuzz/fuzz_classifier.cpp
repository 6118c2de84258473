// SPDX-License-Identifier: MIT
// Fuzz target: the classifier core (include/oobbpf/classify.h) in its C++ build (SoftTables),
// with a small configuration and rule set taken from the input, then frames.
//
// Input (classifier_seeds.cpp writes seeds in this form):
//   byte 0-2   devices A, B, C (ifindex 2, 3, 4; slot 0, 1, 2): bit 0 diversion, bit 1 the
//              device is an untagged port (ports 1, 2, 3), bit 2 a custom selector is installed
//   byte 3     oob sockets: bit slot * 2 + queue (queues 0 and 1)
//   byte 4     VLANs: bit 0 port A.42 (port 10), bit 1 port B.42 (port 11), bit 2 port A.43
//              (port 12), bit 3 global oob VLAN set {100} (port 13), bit 4 A's set {200}
//              (port 14), bit 5 a non-member entry {42} in B's set
//   rules      rule lines in the CLI grammar up to an empty line; a line "--" installs what came
//              before it first, so the last set replaces an earlier one (generation flip).
//              Devices: a, a.42, a.43, b, b.42, c.
//   frames     until the end: [device and queue: d % 3, d / 3 % 2] [length: 2 bytes, big
//              endian] [frame]
//
// What must hold for every frame: no crash, no undefined behaviour, and
//   - the verdict is PASS, DIVERT or DROP with a known reason; DIVERT only into a present oob
//     socket and for a port; DROP only by a rule;
//   - a frame the parser calls malformed goes in-band;
//   - where the rules decided (or found nothing) the rule is the one a linear scan of the rule
//     list picks (lowest priority among the matching rules);
//   - a diverted IP frame cut anywhere inside its IP datagram is not diverted;
//   - the same frame judged twice is judged the same.
#include "error.h"
#include "rules.h"
#include "soft.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace oobbpf;
using namespace oobbpf::rules;

namespace {

// The parser alone, over a plain buffer: what the reference and the malformed check see.
struct frame_buf {
    const uint8_t *data;
    uint32_t len;
};

}  // namespace

#define OOB_CTX const frame_buf *
static inline int oob_load(const frame_buf *b, __u32 off, void *dst, __u32 len) {
    if (off > b->len || len > b->len - off)
        return -1;
    std::memcpy(dst, b->data + off, len);
    return 0;
}
static inline __u32 oob_frame_len(const frame_buf *b) {
    return b->len;
}
#include <oobbpf/parse.h>

namespace {

constexpr uint32_t kIf[3] = {2, 3, 4};

[[noreturn]] void broken(const std::string &what, const std::string &detail) {
    std::fprintf(stderr, "fuzz_classifier: %s\n  %s\n", what.c_str(), detail.c_str());
    std::abort();
}

std::optional<PortRef> resolve(const std::string &dev) {
    if (dev == "a")
        return PortRef{kIf[0], 0};
    if (dev == "a.42")
        return PortRef{kIf[0], 42};
    if (dev == "a.43")
        return PortRef{kIf[0], 43};
    if (dev == "b")
        return PortRef{kIf[1], 0};
    if (dev == "b.42")
        return PortRef{kIf[1], 42};
    if (dev == "c")
        return PortRef{kIf[2], 0};
    return std::nullopt;
}

struct Parsed {
    uint32_t reason = OOB_R_NONE;  // of L2, then L3/L4; OOB_R_NONE when well formed
    bool control = false;
    oob_pkt pkt{};
};

Parsed parse_frame(const uint8_t *f, size_t len) {
    frame_buf b{f, static_cast<uint32_t>(len)};
    Parsed p;
    p.reason = oob_parse_l2(&b, &p.pkt);
    if (!p.reason && !p.pkt.control)
        p.reason = oob_parse_l3(&b, &p.pkt);
    p.control = p.pkt.control;
    return p;
}

bool prefix_has(const Prefix &p, const __be32 *words, int family) {
    if (p.family != family)
        return false;
    uint8_t a[16];
    std::memcpy(a, words, 16);
    for (int i = 0; i < p.len; i++) {
        const uint8_t bit = static_cast<uint8_t>(0x80 >> (i % 8));
        if ((p.addr[static_cast<size_t>(i / 8)] & bit) != (a[i / 8] & bit))
            return false;
    }
    return true;
}

// What a rule means, read off docs/rules.md, against the parser's view of the frame.
bool reference_match(const Rule &r, const oob_pkt &k, uint32_t ifindex) {
    const uint16_t l3 = OOB_NTOHS(k.l3proto);
    const int family = k.is_ip == OOB_AF_INET ? 4 : k.is_ip == OOB_AF_INET6 ? 6 : 0;
    if (r.dev) {
        const auto ref = resolve(*r.dev);
        if (!ref || ifindex != ref->lower_ifindex ||
            k.vid != (ref->vid ? ref->vid : r.vlan.value_or(0)))
            return false;
    }
    if (r.vlan && k.vid != *r.vlan)
        return false;
    if (r.l3proto && *r.l3proto != l3)
        return false;
    if ((r.src || r.dst || r.l4proto || r.sport || r.dport || r.dscp || r.frag) && !family)
        return false;
    if (r.src && !prefix_has(*r.src, k.src, family))
        return false;
    if (r.dst && !prefix_has(*r.dst, k.dst, family))
        return false;
    if (r.l4proto && *r.l4proto != k.l4proto)
        return false;
    if (r.l4proto && ((*r.l4proto == 1 && family != 4) || (*r.l4proto == 58 && family != 6)))
        return false;
    if ((r.sport || r.dport) && k.l4proto != 6 && k.l4proto != 17)
        return false;
    const uint16_t sport = OOB_NTOHS(k.sport), dport = OOB_NTOHS(k.dport);
    if (r.sport && (sport < r.sport->lo || sport > r.sport->hi))
        return false;
    if (r.dport && (dport < r.dport->lo || dport > r.dport->hi))
        return false;
    if (r.dscp && *r.dscp != k.dscp)
        return false;
    return r.frag == ((k.flags & OOB_KF_FRAG) != 0);
}

struct Input {
    const uint8_t *p;
    size_t n;
    bool take(uint8_t &b) {
        if (!n)
            return false;
        b = *p++;
        n--;
        return true;
    }
};

// The rule lines: sets separated by "--"; each accepted set is installed in turn. Returns the
// rule list of the set now installed (empty when none was).
std::vector<Rule> install_sets(SoftTables &t, Input &in) {
    std::vector<Rule> now, pending;
    auto install = [&] {
        if (pending.empty() || pending.size() > 16)
            return;
        uint32_t id = 1;
        for (auto &r : pending)
            r.id = id++;
        try {
            validate(pending, resolve);
            install_rules(t, compile(pending, resolve));
            now = pending;
        } catch (const Error &) {
        }
    };
    while (in.n) {
        const uint8_t *nl = static_cast<const uint8_t *>(std::memchr(in.p, '\n', in.n));
        const size_t len = nl ? static_cast<size_t>(nl - in.p) : in.n;
        std::string line(reinterpret_cast<const char *>(in.p), len);
        in.p += nl ? len + 1 : len;
        in.n -= nl ? len + 1 : len;
        if (line.empty())
            break;
        if (line == "--") {
            install();
            pending.clear();
            continue;
        }
        try {
            pending.push_back(parse(split(line)));
        } catch (const Error &) {
        }
    }
    install();
    return now;
}

void configure(SoftTables &t, const uint8_t h[5]) {
    oob_config c{};
    c.magic = OOB_CONFIG_MAGIC;
    c.version = OOB_ABI_VERSION;
    t.set_config(c);
    for (uint32_t i = 0; i < 3; i++) {
        uint32_t flags = 0;
        flags |= (h[i] & 1) ? OOB_DEV_DIVERT : 0;
        flags |= (h[i] & 2) ? OOB_DEV_PORT : 0;
        flags |= (h[i] & 4) ? OOB_DEV_SELECTOR : 0;
        if (flags)
            t.put_dev(kIf[i], oob_dev{flags, i, (h[i] & 2) ? i + 1 : 0, 0});
        for (uint32_t q = 0; q < 2; q++)
            t.set_xsk(i * OOB_MAX_QUEUES + q, h[3] & (1u << (i * 2 + q)));
    }
    auto port = [&](uint32_t ifindex, uint16_t vid, uint32_t id) {
        t.put_port(oob_port_key{ifindex, vid, 0},
                   oob_port{id, OOB_PORT_VLAN, 100 + id, ifindex, vid, 0, 0});
    };
    if (h[4] & 1)
        port(kIf[0], 42, 10);
    if (h[4] & 2)
        port(kIf[1], 42, 11);
    if (h[4] & 4)
        port(kIf[0], 43, 12);
    if (h[4] & 8)
        t.put_vlan(oob_vlan_key{0, 100, 0}, oob_vlan{OOB_VLAN_MEMBER, 13});
    if (h[4] & 16)
        t.put_vlan(oob_vlan_key{kIf[0], 200, 0}, oob_vlan{OOB_VLAN_MEMBER, 14});
    if (h[4] & 32)
        t.put_vlan(oob_vlan_key{kIf[1], 42, 0}, oob_vlan{0, 15});
}

std::string describe(const Judgement &j, size_t len, uint32_t ifindex, uint32_t queue) {
    return "verdict " + std::to_string(j.verdict) + " reason " + std::to_string(j.reason) +
           " rule " + std::to_string(j.rule_id) + " port " + std::to_string(j.port_id) +
           " (frame of " + std::to_string(len) + " bytes on ifindex " + std::to_string(ifindex) +
           " queue " + std::to_string(queue) + ")";
}

void judge(SoftTables &t, const std::vector<Rule> &rules, const uint8_t h[5], const uint8_t *f,
           size_t len, uint32_t dev, uint32_t queue) {
    const uint32_t ifindex = kIf[dev];
    const Judgement j = t.classify(f, len, ifindex, queue);
    const std::string what = describe(j, len, ifindex, queue);

    if (j.verdict != OOB_PASS && j.verdict != OOB_DIVERT && j.verdict != OOB_DROP)
        broken("no such verdict", what);
    if (j.reason >= OOB_REASON_MAX || j.reason == OOB_R_SELECTOR || j.reason == OOB_R_SELECTOR_ERR)
        broken("no such reason here", what);
    if (j.verdict == OOB_DIVERT &&
        (queue >= 2 || !(h[3] & (1u << (dev * 2 + queue))) || j.port_id == 0))
        broken("diverted without a socket or a port", what);
    if (j.verdict == OOB_DROP && j.reason != OOB_R_RULE)
        broken("dropped, but not by a rule", what);
    if (j.rule_id > rules.size() ||
        ((j.reason == OOB_R_RULE) != (j.rule_id != 0) && !(j.reason == OOB_R_NO_XSK && j.rule_id)))
        broken("a rule that does not exist, or a rule verdict without a rule", what);
    if (j.reason == OOB_R_RULE && j.verdict != static_cast<uint32_t>(rules[j.rule_id - 1].action))
        broken("the verdict is not the rule's action", what + ": " + format(rules[j.rule_id - 1]));
    if (t.last().len != len || t.last().verdict != j.verdict)
        broken("the last-verdict record disagrees", what);

    const Parsed p = parse_frame(f, len);
    if (p.reason && j.verdict != OOB_PASS)
        broken("a malformed frame (reason " + std::to_string(p.reason) + ") not passed in-band",
               what);

    const bool rules_ran = j.reason == OOB_R_RULE || j.reason == OOB_R_DEFAULT ||
                           j.reason == OOB_R_FRAGMENT || j.reason == OOB_R_NOT_IP ||
                           (j.reason == OOB_R_NO_XSK && j.rule_id);
    if (rules_ran && !p.reason) {
        const Rule *want = nullptr;
        for (const auto &r : rules)
            if (reference_match(r, p.pkt, ifindex) && (!want || r.prio < want->prio))
                want = &r;
        if ((want ? want->id : 0) != j.rule_id)
            broken("the rule search disagrees with a scan of the rules",
                   what + "; the scan picks " + (want ? format(*want) : std::string("none")));
    }

    if (j.verdict == OOB_DIVERT && p.pkt.is_ip) {
        // Cuts inside the datagram: its last byte gone, its L4 header cut, its IP header cut.
        for (size_t cut :
             {static_cast<size_t>(p.pkt.l3end) - 1, static_cast<size_t>(p.pkt.l4off) + 3,
              static_cast<size_t>(p.pkt.l3off) + 10, static_cast<size_t>(13)}) {
            if (cut >= p.pkt.l3end || cut >= len)
                continue;
            const Judgement c = t.classify(f, cut, ifindex, queue);
            if (c.verdict == OOB_DIVERT)
                broken("a cut IP frame diverted", describe(c, cut, ifindex, queue));
        }
    }

    const Judgement again = t.classify(f, len, ifindex, queue);
    if (again.verdict != j.verdict || again.reason != j.reason || again.rule_id != j.rule_id ||
        again.port_id != j.port_id)
        broken("the same frame judged twice differently", what);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 5)
        return 0;
    uint8_t h[5];
    std::memcpy(h, data, 5);
    Input in{data + 5, size - 5};
    SoftTables t;
    configure(t, h);
    const std::vector<Rule> rules = install_sets(t, in);
    uint8_t sel, hi, lo;
    while (in.take(sel) && in.take(hi) && in.take(lo)) {
        size_t len = std::min<size_t>(static_cast<size_t>(hi) << 8 | lo, in.n);
        judge(t, rules, h, in.p, len, sel % 3, sel / 3 % 2);
        in.p += len;
        in.n -= len;
    }
    return 0;
}
