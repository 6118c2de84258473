// SPDX-License-Identifier: MIT
// Flow rules: grammar, JSON, validation and compilation into the tuple-space tables.
// docs/rules.md explains the structure and its limits; this file follows it.
#include "rules.h"

#include "error.h"
#include "soft.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <queue>
#include <set>
#include <sstream>

namespace oobbpf::rules {

namespace {

using u128 = unsigned __int128;

constexpr uint16_t kEthIp = 0x0800;
constexpr uint16_t kEthIp6 = 0x86dd;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoIcmp6 = 58;

// Entries of one generation: the hash map holds both generations during a flip.
constexpr uint64_t kMaxEntries = OOB_MAX_RULE_ENTRIES / 2;

[[noreturn]] void fail(const std::string &msg) {
    throw Error(msg);
}

std::string quote(const std::string &s) {
    return "'" + s + "'";
}

// Strict decimal: digits only, no sign, no spaces, at most max.
std::optional<uint64_t> decimal(const std::string &s, uint64_t max) {
    if (s.empty() || s.size() > 10)
        return std::nullopt;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9')
            return std::nullopt;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (v > max)
        return std::nullopt;
    return v;
}

// Decimal or 0x-prefixed hexadecimal.
std::optional<uint64_t> number(const std::string &s, uint64_t max) {
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        if (s.size() > 10)
            return std::nullopt;
        uint64_t v = 0;
        for (size_t i = 2; i < s.size(); i++) {
            char c = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i])));
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (d < 0)
                return std::nullopt;
            v = v * 16 + static_cast<uint64_t>(d);
        }
        if (v > max)
            return std::nullopt;
        return v;
    }
    return decimal(s, max);
}

std::string hex16(uint16_t v) {
    char b[8];
    std::snprintf(b, sizeof(b), "0x%04x", v);
    return b;
}

const char *action_name(Action a) {
    switch (a) {
        case Action::Divert:
            return "divert";
        case Action::Pass:
            return "pass";
        case Action::Drop:
            return "drop";
    }
    return "?";
}

std::optional<Action> action_of(const std::string &s) {
    if (s == "divert")
        return Action::Divert;
    if (s == "pass")
        return Action::Pass;
    if (s == "drop")
        return Action::Drop;
    return std::nullopt;
}

// Well-formed UTF-8 (no overlong forms, no surrogates): what a JSON string can carry.
bool utf8(const std::string &s) {
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t n = 0;
        if (c < 0x80)
            n = 1;
        else if ((c & 0xe0) == 0xc0)
            n = 2;
        else if ((c & 0xf0) == 0xe0)
            n = 3;
        else if ((c & 0xf8) == 0xf0)
            n = 4;
        if (!n || i + n > s.size())
            return false;
        uint32_t cp = n == 1 ? c : c & (0x7f >> n);
        for (size_t k = 1; k < n; k++) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if ((b & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (b & 0x3f);
        }
        static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n;
    }
    return true;
}

// The kernel's dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or whitespace; and
// UTF-8, as the control protocol and the saved configuration (JSON) carry names.
bool valid_dev(const std::string &d) {
    if (d.empty() || d.size() > 15 || d == "." || d == "..")
        return false;
    for (unsigned char c : d)
        if (c == '/' || c == ':' || std::isspace(c) || c < 0x20)
            return false;
    return utf8(d);
}

std::string l3_name(uint16_t l3) {
    if (l3 == kEthIp)
        return "ip";
    if (l3 == kEthIp6)
        return "ip6";
    return "ether " + hex16(l3);
}

std::string l4_name(uint8_t p) {
    switch (p) {
        case kProtoUdp:
            return "udp";
        case kProtoTcp:
            return "tcp";
        case kProtoIcmp:
            return "icmp";
        case kProtoIcmp6:
            return "icmp6";
    }
    return "proto " + std::to_string(p);
}

u128 addr_value(const Prefix &p) {
    u128 v = 0;
    for (int i = 0; i < 16; i++)
        v = (v << 8) | p.addr[static_cast<size_t>(i)];
    return v;
}

u128 top_bits(unsigned len, unsigned width) {
    if (len == 0)
        return 0;
    u128 all = width == 128 ? ~u128(0) : ((u128(1) << width) - 1);
    return (all >> (width - len)) << (width - len);
}

std::string prefix_text(const Prefix &p) {
    char b[INET6_ADDRSTRLEN];
    inet_ntop(p.family == 4 ? AF_INET : AF_INET6, p.addr.data(), b, sizeof(b));
    std::string s = b;
    if (p.len != (p.family == 4 ? 32 : 128))
        s += "/" + std::to_string(p.len);
    return s;
}

Prefix parse_prefix(const std::string &what, const std::string &s) {
    Prefix p;
    std::string a = s, l;
    auto slash = s.find('/');
    if (slash != std::string::npos) {
        a = s.substr(0, slash);
        l = s.substr(slash + 1);
    }
    if (inet_pton(AF_INET, a.c_str(), p.addr.data()) == 1)
        p.family = 4;
    else if (inet_pton(AF_INET6, a.c_str(), p.addr.data()) == 1)
        p.family = 6;
    else
        fail("bad prefix " + quote(s) + " for " + what + ": not an IPv4 or IPv6 address");
    const unsigned max = p.family == 4 ? 32 : 128;
    if (slash == std::string::npos) {
        p.len = static_cast<uint8_t>(max);
    } else {
        auto n = decimal(l, max);
        if (!n)
            fail("bad prefix " + quote(s) + " for " + what + ": length must be 0-" +
                 std::to_string(max));
        p.len = static_cast<uint8_t>(*n);
    }
    return p;
}

PortRange parse_ports(const std::string &what, const std::string &s) {
    PortRange r;
    auto dash = s.find('-');
    auto lo = decimal(s.substr(0, dash), 65535);
    auto hi = dash == std::string::npos ? lo : decimal(s.substr(dash + 1), 65535);
    if (!lo || !hi)
        fail("bad port range " + quote(s) + " for " + what + ": expected P or P-Q, 0-65535");
    if (*lo > *hi)
        fail("bad port range " + quote(s) + " for " + what + ": low end above high end");
    r.lo = static_cast<uint16_t>(*lo);
    r.hi = static_cast<uint16_t>(*hi);
    return r;
}

std::string ports_text(const PortRange &r) {
    return r.lo == r.hi ? std::to_string(r.lo) : std::to_string(r.lo) + "-" + std::to_string(r.hi);
}

void check_vid(uint32_t v) {
    if (v == 0)
        fail("vlan 0 refused: VID 0 means untagged (leave vlan out)");
    if (v == 1)
        fail("vlan 1 refused: VID 1 is the default VLAN, not an oob VLAN");
    if (v == 4095)
        fail("vlan 4095 refused: VID 4095 is reserved");
    if (v > 4095)
        fail("vlan " + std::to_string(v) + " refused: VIDs are 2-4094");
}

void check_prefix(const char *what, const Prefix &p) {
    if (p.family != 4 && p.family != 6)
        fail(std::string("bad prefix for ") + what + ": family must be 4 or 6");
    const unsigned max = p.family == 4 ? 32 : 128;
    if (p.len > max)
        fail(std::string("bad prefix for ") + what + ": length " + std::to_string(p.len) +
             " exceeds /" + std::to_string(max));
    for (size_t i = p.family == 4 ? 4 : 16; i < 16; i++)
        if (p.addr[i])
            fail(std::string("bad prefix for ") + what + ": IPv4 address with bytes past 4");
    const u128 v = addr_value(p), m = top_bits(p.len, 128);
    if (v & ~m) {
        Prefix net = p;
        const u128 n = v & m;
        for (int i = 0; i < 16; i++)
            net.addr[static_cast<size_t>(15 - i)] = static_cast<uint8_t>(n >> (8 * i));
        fail(std::string("bad prefix ") + quote(prefix_text(p)) + " for " + what +
             ": host bits set past /" + std::to_string(p.len) + " (the network is " +
             prefix_text(net) + ")");
    }
}

}  // namespace

// ---- one rule -----------------------------------------------------------------------------

void check(const Rule &r) {
    if (r.id >= OOB_MAX_RULES)
        fail("rule id " + std::to_string(r.id) + " out of range: 1-" +
             std::to_string(OOB_MAX_RULES - 1));
    if (r.prio > kMaxPrio)
        fail("prio " + std::to_string(r.prio) + " out of range: 0-" + std::to_string(kMaxPrio));
    if (r.action != Action::Pass && r.action != Action::Divert && r.action != Action::Drop)
        fail("bad action " + std::to_string(static_cast<uint32_t>(r.action)));
    if (r.dev && !valid_dev(*r.dev))
        fail("bad device name " + quote(*r.dev));
    if (r.vlan)
        check_vid(*r.vlan);
    if (r.l3proto) {
        const uint16_t t = *r.l3proto;
        if (t < 0x0600)
            fail("ether " + hex16(t) + " is no ethertype (below 0x0600: an 802.3 length)");
        if (t == 0x8100 || t == 0x88a8 || t == 0x9100)
            fail("ether " + hex16(t) + " is a VLAN tag: match it with vlan");
        if (t == 0x0806 || t == 0x8035 || t == 0x88cc)
            fail("ether " + hex16(t) +
                 " (ARP, RARP or LLDP) always goes in-band: no rule can "
                 "take it");
    }
    if (r.src)
        check_prefix("src", *r.src);
    if (r.dst)
        check_prefix("dst", *r.dst);
    if (r.src && r.dst && r.src->family != r.dst->family)
        fail("src " + prefix_text(*r.src) + " and dst " + prefix_text(*r.dst) +
             " are of different families");
    const int family = r.src ? r.src->family : r.dst ? r.dst->family : 0;
    const bool ip_l3 = !r.l3proto || *r.l3proto == kEthIp || *r.l3proto == kEthIp6;
    if (!ip_l3) {
        const char *ipf = r.src       ? "src"
                          : r.dst     ? "dst"
                          : r.l4proto ? "an L4 protocol"
                          : r.sport   ? "sport"
                          : r.dport   ? "dport"
                          : r.dscp    ? "dscp"
                          : r.frag    ? "frag"
                                      : nullptr;
        if (ipf)
            fail(std::string(ipf) + " needs ip or ip6, not " + l3_name(*r.l3proto));
    }
    if (family && r.l3proto) {
        const int l3f = *r.l3proto == kEthIp ? 4 : 6;
        if (l3f != family)
            fail(std::string(family == 4 ? "IPv4" : "IPv6") + " prefix on an " +
                 (l3f == 4 ? "ip" : "ip6") + " rule");
    }
    const int fam = family ? family : r.l3proto ? (*r.l3proto == kEthIp ? 4 : 6) : 0;
    if (r.l4proto && *r.l4proto == kProtoIcmp && fam == 6)
        fail("icmp is IPv4's: use icmp6 for IPv6");
    if (r.l4proto && *r.l4proto == kProtoIcmp6 && fam == 4)
        fail("icmp6 is IPv6's: use icmp for IPv4");
    for (const auto *pr : {&r.sport, &r.dport}) {
        if (!*pr)
            continue;
        const char *what = pr == &r.sport ? "sport" : "dport";
        if ((*pr)->lo > (*pr)->hi)
            fail(std::string("bad port range ") + ports_text(**pr) + " for " + what +
                 ": low end above high end");
        if (r.l4proto && *r.l4proto != kProtoUdp && *r.l4proto != kProtoTcp)
            fail(std::string(what) + " needs udp or tcp, not " + l4_name(*r.l4proto));
        if (r.frag)
            fail(std::string("frag cannot be combined with ") + what +
                 ": fragments are matched without ports");
    }
    if (r.dscp && *r.dscp > 63)
        fail("dscp " + std::to_string(*r.dscp) + " out of range: 0-63");
}

Rule parse(const std::vector<std::string> &t) {
    Rule r;
    bool have_action = false;
    std::map<std::string, std::string> slots;  // slot -> keyword that filled it

    for (size_t i = 0; i < t.size();) {
        const std::string kw = t[i++];
        auto value = [&](const std::string &what) -> std::string {
            if (i >= t.size())
                fail(quote(kw) + " needs a value: " + what);
            return t[i++];
        };
        auto take = [&](const std::string &slot) {
            auto [it, fresh] = slots.emplace(slot, kw);
            if (!fresh)
                fail(it->second == kw ? quote(kw) + " given twice"
                                      : quote(kw) + " conflicts with " + quote(it->second));
        };

        if (kw == "dev") {
            take("dev");
            std::string d = value("a device name");
            if (!valid_dev(d))
                fail("bad device name " + quote(d));
            r.dev = d;
        } else if (kw == "vlan") {
            take("vlan");
            std::string v = value("a VID, 2-4094");
            auto n = decimal(v, 65535);
            if (!n)
                fail("bad VID " + quote(v) + ": expected a number, 2-4094");
            check_vid(static_cast<uint32_t>(*n));
            r.vlan = static_cast<uint16_t>(*n);
        } else if (kw == "ip" || kw == "ip6") {
            take("l3");
            r.l3proto = kw == "ip" ? kEthIp : kEthIp6;
        } else if (kw == "ether") {
            take("l3");
            std::string v = value("an ethertype (0x88b5)");
            auto n = number(v, 0xffff);
            if (!n)
                fail("bad ethertype " + quote(v) + ": expected 0x0600-0xffff");
            r.l3proto = static_cast<uint16_t>(*n);
        } else if (kw == "src" || kw == "dst") {
            take(kw);
            Prefix p = parse_prefix(kw, value("a prefix (10.0.0.0/8, fd00::/16)"));
            check_prefix(kw.c_str(), p);
            (kw == "src" ? r.src : r.dst) = p;
        } else if (kw == "udp" || kw == "tcp" || kw == "icmp" || kw == "icmp6") {
            take("l4");
            r.l4proto = kw == "udp"    ? kProtoUdp
                        : kw == "tcp"  ? kProtoTcp
                        : kw == "icmp" ? kProtoIcmp
                                       : kProtoIcmp6;
        } else if (kw == "proto") {
            take("l4");
            std::string v = value("an IP protocol number, 0-255");
            auto n = decimal(v, 255);
            if (!n)
                fail("bad protocol " + quote(v) + ": expected a number, 0-255");
            r.l4proto = static_cast<uint8_t>(*n);
        } else if (kw == "sport" || kw == "dport") {
            take(kw);
            PortRange p = parse_ports(kw, value("a port or range (7000, 7001-7010)"));
            (kw == "sport" ? r.sport : r.dport) = p;
        } else if (kw == "dscp") {
            take(kw);
            std::string v = value("a DSCP, 0-63");
            auto n = decimal(v, 63);
            if (!n)
                fail("bad dscp " + quote(v) + ": expected a number, 0-63");
            r.dscp = static_cast<uint8_t>(*n);
        } else if (kw == "frag") {
            take(kw);
            r.frag = true;
        } else if (kw == "prio") {
            take(kw);
            std::string v = value("a priority, 0-" + std::to_string(kMaxPrio) + ", lower wins");
            auto n = decimal(v, kMaxPrio);
            if (!n)
                fail("bad prio " + quote(v) + ": expected a number, 0-" + std::to_string(kMaxPrio));
            r.prio = static_cast<uint32_t>(*n);
        } else if (kw == "action") {
            take(kw);
            std::string v = value("divert, pass or drop");
            auto a = action_of(v);
            if (!a)
                fail("bad action " + quote(v) + ": expected divert, pass or drop");
            r.action = *a;
            have_action = true;
        } else {
            fail("unknown keyword " + quote(kw));
        }
    }
    if (!have_action)
        fail("missing 'action divert|pass|drop'");
    check(r);
    return r;
}

std::string format(const Rule &r) {
    std::vector<std::string> w;
    if (r.dev)
        w.push_back("dev " + *r.dev);
    if (r.vlan)
        w.push_back("vlan " + std::to_string(*r.vlan));
    if (r.l3proto)
        w.push_back(l3_name(*r.l3proto));
    if (r.src)
        w.push_back("src " + prefix_text(*r.src));
    if (r.dst)
        w.push_back("dst " + prefix_text(*r.dst));
    if (r.l4proto)
        w.push_back(l4_name(*r.l4proto));
    if (r.sport)
        w.push_back("sport " + ports_text(*r.sport));
    if (r.dport)
        w.push_back("dport " + ports_text(*r.dport));
    if (r.dscp)
        w.push_back("dscp " + std::to_string(*r.dscp));
    if (r.frag)
        w.push_back("frag");
    w.push_back("prio " + std::to_string(r.prio));
    w.push_back(std::string("action ") + action_name(r.action));
    std::string s;
    for (const auto &x : w)
        s += (s.empty() ? "" : " ") + x;
    return s;
}

std::vector<std::string> split(const std::string &line) {
    std::istringstream in(line);
    std::vector<std::string> t;
    for (std::string w; in >> w;)
        t.push_back(w);
    return t;
}

// ---- JSON ---------------------------------------------------------------------------------
// One object per rule; keys only for fields that are set. Ports: a number, or {"lo","hi"} for a
// range. l3proto: "ip", "ip6" or "0x88b5"; l4proto: "udp", "tcp", "icmp", "icmp6" or a number.

nlohmann::json to_json(const Rule &r) {
    nlohmann::json j = nlohmann::json::object();
    if (r.id)
        j["id"] = r.id;
    j["prio"] = r.prio;
    j["action"] = action_name(r.action);
    if (r.dev)
        j["dev"] = *r.dev;
    if (r.vlan)
        j["vlan"] = *r.vlan;
    if (r.l3proto)
        j["l3proto"] = *r.l3proto == kEthIp    ? "ip"
                       : *r.l3proto == kEthIp6 ? "ip6"
                                               : hex16(*r.l3proto);
    if (r.src)
        j["src"] = prefix_text(*r.src);
    if (r.dst)
        j["dst"] = prefix_text(*r.dst);
    if (r.l4proto) {
        std::string n = l4_name(*r.l4proto);
        if (n.rfind("proto ", 0) == 0)
            j["l4proto"] = *r.l4proto;
        else
            j["l4proto"] = n;
    }
    auto ports = [](const PortRange &p) {
        return p.lo == p.hi ? nlohmann::json(p.lo) : nlohmann::json{{"lo", p.lo}, {"hi", p.hi}};
    };
    if (r.sport)
        j["sport"] = ports(*r.sport);
    if (r.dport)
        j["dport"] = ports(*r.dport);
    if (r.dscp)
        j["dscp"] = *r.dscp;
    if (r.frag)
        j["frag"] = true;
    return j;
}

namespace {

uint64_t json_uint(const nlohmann::json &v, const std::string &key, uint64_t max) {
    if (!v.is_number_unsigned() || v.get<uint64_t>() > max)
        fail("JSON rule: " + quote(key) + " must be a number, 0-" + std::to_string(max));
    return v.get<uint64_t>();
}

std::string json_string(const nlohmann::json &v, const std::string &key) {
    if (!v.is_string())
        fail("JSON rule: " + quote(key) + " must be a string");
    return v.get<std::string>();
}

PortRange json_ports(const nlohmann::json &v, const std::string &key) {
    if (v.is_number_unsigned()) {
        auto p = static_cast<uint16_t>(json_uint(v, key, 65535));
        return {p, p};
    }
    if (v.is_object() && v.size() == 2 && v.contains("lo") && v.contains("hi")) {
        PortRange p{static_cast<uint16_t>(json_uint(v["lo"], key + ".lo", 65535)),
                    static_cast<uint16_t>(json_uint(v["hi"], key + ".hi", 65535))};
        if (p.lo > p.hi)
            fail("bad port range " + ports_text(p) + " for " + key + ": low end above high end");
        return p;
    }
    if (v.is_string())
        return parse_ports(key, v.get<std::string>());
    fail("JSON rule: " + quote(key) + " must be a port number or {\"lo\": P, \"hi\": Q}");
}

}  // namespace

Rule from_json(const nlohmann::json &j) {
    if (!j.is_object())
        fail("JSON rule: expected an object");
    Rule r;
    bool have_action = false;
    for (const auto &[key, v] : j.items()) {
        if (key == "id") {
            r.id = static_cast<uint32_t>(json_uint(v, key, OOB_MAX_RULES - 1));
        } else if (key == "prio") {
            r.prio = static_cast<uint32_t>(json_uint(v, key, kMaxPrio));
        } else if (key == "action") {
            auto a = action_of(json_string(v, key));
            if (!a)
                fail("JSON rule: 'action' must be \"divert\", \"pass\" or \"drop\"");
            r.action = *a;
            have_action = true;
        } else if (key == "dev") {
            r.dev = json_string(v, key);
        } else if (key == "vlan") {
            uint64_t n = json_uint(v, key, 65535);
            check_vid(static_cast<uint32_t>(n));
            r.vlan = static_cast<uint16_t>(n);
        } else if (key == "l3proto") {
            std::string s = json_string(v, key);
            if (s == "ip")
                r.l3proto = kEthIp;
            else if (s == "ip6")
                r.l3proto = kEthIp6;
            else if (auto n = number(s, 0xffff))
                r.l3proto = static_cast<uint16_t>(*n);
            else
                fail("JSON rule: 'l3proto' must be \"ip\", \"ip6\" or an ethertype (\"0x88b5\")");
        } else if (key == "src" || key == "dst") {
            Prefix p = parse_prefix(key, json_string(v, key));
            (key == "src" ? r.src : r.dst) = p;
        } else if (key == "l4proto") {
            if (v.is_number_unsigned()) {
                r.l4proto = static_cast<uint8_t>(json_uint(v, key, 255));
            } else {
                std::string s = json_string(v, key);
                if (s == "udp")
                    r.l4proto = kProtoUdp;
                else if (s == "tcp")
                    r.l4proto = kProtoTcp;
                else if (s == "icmp")
                    r.l4proto = kProtoIcmp;
                else if (s == "icmp6")
                    r.l4proto = kProtoIcmp6;
                else
                    fail("JSON rule: 'l4proto' must be udp, tcp, icmp, icmp6 or a number");
            }
        } else if (key == "sport" || key == "dport") {
            (key == "sport" ? r.sport : r.dport) = json_ports(v, key);
        } else if (key == "dscp") {
            r.dscp = static_cast<uint8_t>(json_uint(v, key, 63));
        } else if (key == "frag") {
            if (!v.is_boolean())
                fail("JSON rule: 'frag' must be true or false");
            r.frag = v.get<bool>();
        } else {
            fail("JSON rule: unknown key " + quote(key));
        }
    }
    if (!have_action)
        fail("JSON rule: missing 'action'");
    check(r);
    return r;
}

nlohmann::json to_json(const std::vector<Rule> &rs) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto &r : rs)
        a.push_back(to_json(r));
    return a;
}

std::vector<Rule> list_from_json(const nlohmann::json &j) {
    if (!j.is_array())
        fail("JSON rules: expected an array of rule objects");
    std::vector<Rule> rs;
    for (size_t i = 0; i < j.size(); i++) {
        try {
            rs.push_back(from_json(j[i]));
        } catch (const Error &e) {
            fail("rule #" + std::to_string(i) + ": " + e.what());
        }
    }
    return rs;
}

// ---- what a rule matches --------------------------------------------------------------------
// A rule's effective match: its own fields plus what they imply. Fields of IP (src, dst, an L4
// protocol, ports, dscp, frag) match IP frames only; ports match UDP and TCP only. Where a key
// value alone could also match a frame of another kind (a non-IP frame carries l4proto 0, dscp
// 0 and port 0), the implied protocol is spelt out in the entries.

namespace {

std::string rule_name(const Rule &r) {
    return (r.id ? "rule " + std::to_string(r.id) : std::string("rule")) + " '" + format(r) + "'";
}

struct Spec {
    const Rule *rule = nullptr;
    bool has_dev = false, resolved = false;
    uint32_t ifindex = 0;
    std::optional<uint16_t> vid;
    std::vector<uint16_t> l3;  // empty: any
    std::vector<uint8_t> l4;   // empty: any
    std::optional<Prefix> src, dst;
    PortRange sport{0, 65535}, dport{0, 65535};
    bool has_sport = false, has_dport = false;
    std::optional<uint8_t> dscp;
    bool frag = false;
    bool ip_only = false;  // l3 left open, but only IP frames can match
};

Spec spec_of(const Rule &r, const Resolver *resolve) {
    Spec s;
    s.rule = &r;
    s.vid = r.vlan;
    if (r.dev) {
        s.has_dev = true;
        if (resolve) {
            auto ref = (*resolve)(*r.dev);
            if (!ref || !ref->lower_ifindex)
                fail(rule_name(r) + ": dev " + *r.dev + " is no oob port");
            s.resolved = true;
            s.ifindex = ref->lower_ifindex;
            if (ref->vid && r.vlan && *r.vlan != ref->vid)
                fail(rule_name(r) + ": dev " + *r.dev + " is VLAN " + std::to_string(ref->vid) +
                     ", not vlan " + std::to_string(*r.vlan));
            if (!r.vlan)
                s.vid = ref->vid;  // 0: the untagged frames of the device
        }
    }
    s.src = r.src;
    s.dst = r.dst;
    s.frag = r.frag;
    s.dscp = r.dscp;
    if (r.sport) {
        s.sport = *r.sport;
        s.has_sport = true;
    }
    if (r.dport) {
        s.dport = *r.dport;
        s.has_dport = true;
    }
    if (r.l4proto)
        s.l4 = {*r.l4proto};
    else if (r.sport || r.dport)
        s.l4 = {kProtoTcp, kProtoUdp};
    const int family = r.src ? r.src->family : r.dst ? r.dst->family : 0;
    if (r.l3proto)
        s.l3 = {*r.l3proto};
    else if (family)
        s.l3 = {family == 4 ? kEthIp : kEthIp6};
    else if (r.l4proto && *r.l4proto == kProtoIcmp)
        s.l3 = {kEthIp};
    else if (r.l4proto && *r.l4proto == kProtoIcmp6)
        s.l3 = {kEthIp6};
    else if ((r.l4proto && *r.l4proto == 0) || (r.dscp && *r.dscp == 0 && s.l4.empty()))
        s.l3 = {kEthIp, kEthIp6};
    s.ip_only = s.l3.empty() && (r.l4proto || r.sport || r.dport || r.dscp || r.frag);
    return s;
}

template <class T>
bool sets_meet(const std::vector<T> &a, const std::vector<T> &b) {
    if (a.empty() || b.empty())
        return true;
    for (auto x : a)
        if (std::find(b.begin(), b.end(), x) != b.end())
            return true;
    return false;
}

bool prefixes_meet(const std::optional<Prefix> &a, const std::optional<Prefix> &b) {
    if (!a || !b)
        return true;
    if (a->family != b->family)
        return false;
    const unsigned len = std::min(a->len, b->len);
    const u128 m = top_bits(len, 128);
    return (addr_value(*a) & m) == (addr_value(*b) & m);
}

// Whether one frame can match both: every field's sets intersect.
bool is_ip(uint16_t l3) {
    return l3 == kEthIp || l3 == kEthIp6;
}

bool overlap(const Spec &a, const Spec &b) {
    if (a.frag != b.frag)
        return false;
    for (const auto *x : {&a, &b}) {
        const Spec &other = x == &a ? b : a;
        if (x->ip_only && !other.l3.empty() &&
            std::none_of(other.l3.begin(), other.l3.end(), is_ip))
            return false;
    }
    if (a.has_dev && b.has_dev) {
        if (a.resolved && b.resolved) {
            if (a.ifindex != b.ifindex)
                return false;
        } else if (*a.rule->dev != *b.rule->dev) {
            return false;
        }
    }
    if (a.vid && b.vid && *a.vid != *b.vid)
        return false;
    if (!sets_meet(a.l3, b.l3) || !sets_meet(a.l4, b.l4))
        return false;
    if (!prefixes_meet(a.src, b.src) || !prefixes_meet(a.dst, b.dst))
        return false;
    if (std::max(a.sport.lo, b.sport.lo) > std::min(a.sport.hi, b.sport.hi))
        return false;
    if (std::max(a.dport.lo, b.dport.lo) > std::min(a.dport.hi, b.dport.hi))
        return false;
    if (a.dscp && b.dscp && *a.dscp != *b.dscp)
        return false;
    return true;
}

// ---- expansion into masked entries --------------------------------------------------------
// Four "length" dimensions: src, dst (128-bit values, IPv4 in the top 32 bits, as in the key),
// sport, dport (16-bit). A port range becomes its minimal prefix cover. A mask is a shape: the
// exact fields it holds plus one prefix length per dimension.

enum { kSrc, kDst, kSport, kDport, kDims };
constexpr unsigned kTotal[kDims] = {128, 128, 16, 16};  // bits of the value representation

struct Pfx {
    u128 v = 0;
    uint8_t len = 0;
};

struct Shape {
    uint16_t base = 0;  // OOB_F_IFINDEX | OOB_F_VID | OOB_F_L3PROTO | OOB_F_L4PROTO | OOB_F_DSCP
    uint8_t len[kDims] = {};
    auto tie() const { return std::tie(base, len[0], len[1], len[2], len[3]); }
    bool operator<(const Shape &o) const { return tie() < o.tie(); }
    bool operator==(const Shape &o) const { return tie() == o.tie(); }
};

// Fields a mask may hold for a rule that leaves them open, by enumerating every value a frame
// that reaches the rules can carry there: VID 0-4094 (4095 is refused before), L4 protocol 0-255
// and DSCP 0-63 (a non-IP frame carries 0 in both), and, for a rule that only matches IP frames
// anyway, the two IP ethertypes.
constexpr uint16_t kAddable[] = {OOB_F_L3PROTO, OOB_F_DSCP, OOB_F_L4PROTO, OOB_F_VID};

double add_factor(uint16_t f) {
    switch (f) {
        case OOB_F_L3PROTO:
            return 2;
        case OOB_F_DSCP:
            return 64;
        case OOB_F_L4PROTO:
            return 256;
        case OOB_F_VID:
            return 4095;
    }
    return 1;
}

struct Alt {  // values of the exact fields; which of them count is up to the shape
    uint16_t l3 = 0, vid = 0;
    uint8_t l4 = 0, dscp = 0;
};

struct Unit {
    const Rule *rule = nullptr;
    Spec spec;
    uint16_t base = 0;
    bool ip_only = false;        // cannot match a non-IP frame, whatever its L3 field says
    unsigned width[kDims] = {};  // effective bits: 32/128 for addresses, 16 for ports, 0 unused
    std::vector<Pfx> dims[kDims];
    std::vector<Alt> alts;
};

std::vector<Pfx> range_cover(PortRange r) {
    std::vector<Pfx> out;
    uint32_t lo = r.lo;
    const uint32_t hi = r.hi;
    while (lo <= hi) {
        unsigned k = 0;  // block of 2^k ports starting at lo
        while (k < 16 && (lo & ((2U << k) - 1)) == 0 && lo + (2U << k) - 1 <= hi)
            k++;
        out.push_back({u128(lo), static_cast<uint8_t>(16 - k)});
        lo += 1U << k;
    }
    return out;
}

Unit unit_of(const Rule &r, const Resolver *resolve) {
    Unit u;
    u.rule = &r;
    u.spec = spec_of(r, resolve);
    const Spec &s = u.spec;
    if (s.has_dev)
        u.base |= OOB_F_IFINDEX | OOB_F_VID;
    if (s.vid)
        u.base |= OOB_F_VID;
    if (!s.l3.empty())
        u.base |= OOB_F_L3PROTO;
    if (!s.l4.empty())
        u.base |= OOB_F_L4PROTO;
    if (s.dscp)
        u.base |= OOB_F_DSCP;
    u.ip_only = s.ip_only;
    for (int d : {kSrc, kDst}) {
        const auto &p = d == kSrc ? s.src : s.dst;
        if (p) {
            u.width[d] = p->family == 4 ? 32 : 128;
            u.dims[d] = {{addr_value(*p), p->len}};
        } else {
            u.dims[d] = {{0, 0}};
        }
    }
    u.width[kSport] = u.width[kDport] = 16;
    u.dims[kSport] = s.has_sport ? range_cover(s.sport) : std::vector<Pfx>{{0, 0}};
    u.dims[kDport] = s.has_dport ? range_cover(s.dport) : std::vector<Pfx>{{0, 0}};
    for (size_t i = 0; i < std::max<size_t>(1, s.l3.size()); i++)
        for (size_t j = 0; j < std::max<size_t>(1, s.l4.size()); j++) {
            Alt a;
            a.l3 = s.l3.empty() ? 0 : s.l3[i];
            a.l4 = s.l4.empty() ? 0 : s.l4[j];
            a.dscp = s.dscp.value_or(0);
            a.vid = s.vid.value_or(0);
            u.alts.push_back(a);
        }
    return u;
}

// Natural entries grouped by what matters to merging: the shape, the address widths (IPv4 or
// IPv6) and whether the rule can only match IP frames -> count.
struct GroupKey {
    Shape shape;
    uint8_t width[kDims] = {};
    bool ip_only = false;
    auto tie() const {
        return std::tuple(shape.tie(), width[0], width[1], width[2], width[3], ip_only);
    }
    bool operator<(const GroupKey &o) const { return tie() < o.tie(); }
};
using Groups = std::map<GroupKey, double>;

void add_groups(Groups &gs, const Unit &u) {
    std::map<uint8_t, double> h[kDims];
    for (int d = 0; d < kDims; d++)
        for (const auto &p : u.dims[d])
            h[d][p.len] += 1;
    for (const auto &[l0, c0] : h[0])
        for (const auto &[l1, c1] : h[1])
            for (const auto &[l2, c2] : h[2])
                for (const auto &[l3, c3] : h[3]) {
                    GroupKey g;
                    g.shape.base = u.base;
                    g.shape.len[0] = l0;
                    g.shape.len[1] = l1;
                    g.shape.len[2] = l2;
                    g.shape.len[3] = l3;
                    for (int d = 0; d < kDims; d++)
                        g.width[d] = static_cast<uint8_t>(u.width[d]);
                    g.ip_only = u.ip_only;
                    gs[g] += c0 * c1 * c2 * c3 * static_cast<double>(u.alts.size());
                }
}

// The length a prefix of a group is stored at under a mask of length `to`: a prefix becomes
// 2^(stored-len) longer ones (an IPv4 prefix stops at 32 bits: the rest of an IPv4 key is
// zero); a wildcard becomes 2^to prefixes that cover every value.
unsigned stored_len(int d, unsigned len, unsigned width, unsigned to) {
    return len == 0 ? std::min(to, kTotal[d]) : std::min(to, width);
}

// Whether mask shape j can hold the entries of group g exactly, and at what cost.
bool can_hold(const GroupKey &g, const Shape &j) {
    if ((j.base & g.shape.base) != g.shape.base)
        return false;
    const uint16_t add = j.base & static_cast<uint16_t>(~g.shape.base);
    if (add & OOB_F_IFINDEX)
        return false;  // the set of devices is open
    if ((add & OOB_F_L3PROTO) && !g.ip_only)
        return false;  // so is the set of ethertypes
    for (int d = 0; d < kDims; d++)
        if (j.len[d] < g.shape.len[d])
            return false;
    return true;
}

double multiplier(const GroupKey &g, const Shape &j) {
    double m = 1;
    for (int d = 0; d < kDims; d++)
        m = std::ldexp(m, static_cast<int>(stored_len(d, g.shape.len[d], g.width[d], j.len[d])) -
                              g.shape.len[d]);
    const uint16_t add = j.base & static_cast<uint16_t>(~g.shape.base);
    for (uint16_t f : kAddable)
        if (add & f)
            m *= add_factor(f);
    return m;
}

Shape join(const Shape &a, const Shape &b) {
    Shape j;
    j.base = a.base | b.base;
    for (int d = 0; d < kDims; d++)
        j.len[d] = std::max(a.len[d], b.len[d]);
    return j;
}

// Where each natural group is stored.
using Placement = std::map<GroupKey, Shape>;

double entries_of(const Groups &gs, const Placement &at) {
    double n = 0;
    for (const auto &[g, count] : gs)
        n += count * multiplier(g, at.at(g));
    return n;
}

size_t masks_of(const Placement &at) {
    std::set<Shape> s;
    for (const auto &[g, j] : at)
        s.insert(j);
    return s.size();
}

// Greedy merging of masks, cheapest first: two masks merge into their join (the union of their
// fields, the longer length in each dimension) when it can hold both exactly; the cost is the
// entries that grow. Above OOB_MAX_MASKS it must merge and may fill the tables; below, it merges
// while the entries stay within a soft budget (twice the natural count, or 4096 more), because
// every mask costs each frame a hash lookup while entries only cost memory. Pair costs wait in a
// heap; a pair whose mask has changed since is dropped when it comes up, and the merged mask's
// pairs are pushed anew. A pair over budget stays over: the total only grows, the limit only
// shrinks.
Placement merge_masks(const Groups &gs, bool for_speed) {
    struct Node {
        Shape shape;
        std::vector<std::pair<GroupKey, double>> groups;
        bool alive = true;
        uint32_t version = 0;
    };
    std::vector<Node> nodes;
    std::map<Shape, size_t> index;  // alive nodes
    for (const auto &[g, count] : gs) {
        auto [it, fresh] = index.emplace(g.shape, nodes.size());
        if (fresh)
            nodes.push_back({g.shape, {}, true, 0});
        nodes[it->second].groups.push_back({g, count});
    }
    auto place = [&] {
        Placement at;
        for (const auto &n : nodes)
            if (n.alive)
                for (const auto &[g, c] : n.groups)
                    at[g] = n.shape;
        return at;
    };
    if (nodes.size() > 4096)
        return place();  // pathological: left as it is, the limit check will say so

    double total = 0;
    for (const auto &[g, count] : gs)
        total += count;
    const double soft =
        for_speed ? std::min<double>(kMaxEntries, std::max(2 * total, total + 4096)) : total;

    struct Cand {
        double cost;
        size_t i, k;
        uint32_t vi, vk;
        bool operator>(const Cand &o) const {
            return std::tie(cost, i, k) > std::tie(o.cost, o.i, o.k);
        }
    };
    std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
    auto push_pair = [&](size_t i, size_t k) {
        const Shape &a = nodes[i].shape, &b = nodes[k].shape;
        // Cheap refusal first: neither the device nor, for non-IP rules, the ethertype can be
        // enumerated.
        const uint16_t fixed = OOB_F_IFINDEX;
        if ((a.base & fixed) != (b.base & fixed))
            return;
        const Shape j = join(a, b);
        double delta = 0;
        for (size_t side : {i, k}) {
            if (nodes[side].shape == j)
                continue;
            for (const auto &[g, count] : nodes[side].groups) {
                if (!can_hold(g, j))
                    return;
                delta += count * (multiplier(g, j) - multiplier(g, nodes[side].shape));
            }
        }
        if (total + delta <= kMaxEntries)
            heap.push({delta, std::min(i, k), std::max(i, k), nodes[std::min(i, k)].version,
                       nodes[std::max(i, k)].version});
    };
    for (size_t i = 0; i < nodes.size(); i++)
        for (size_t k = 0; k < i; k++)
            push_pair(i, k);

    size_t alive = nodes.size();
    while (!heap.empty()) {
        const Cand c = heap.top();
        heap.pop();
        if (!nodes[c.i].alive || !nodes[c.k].alive || nodes[c.i].version != c.vi ||
            nodes[c.k].version != c.vk)
            continue;  // stale
        const double limit = alive > OOB_MAX_MASKS ? kMaxEntries : soft;
        if (total + c.cost > limit)
            continue;
        const Shape j = join(nodes[c.i].shape, nodes[c.k].shape);
        size_t target;
        auto it = index.find(j);
        if (it != index.end()) {
            target = it->second;
        } else {
            target = nodes.size();
            nodes.push_back({j, {}, true, 0});
            index.emplace(j, target);
            alive++;
        }
        for (size_t side : {c.i, c.k}) {
            if (side == target)
                continue;
            auto &n = nodes[side];
            nodes[target].groups.insert(nodes[target].groups.end(), n.groups.begin(),
                                        n.groups.end());
            n.groups.clear();
            n.alive = false;
            index.erase(n.shape);
            alive--;
        }
        nodes[target].version++;
        total += c.cost;
        for (size_t k = 0; k < nodes.size(); k++)
            if (k != target && nodes[k].alive)
                push_pair(target, k);
    }
    return place();
}

void put_bytes(__be32 *words, u128 v) {
    uint8_t b[16];
    for (int i = 0; i < 16; i++)
        b[15 - i] = static_cast<uint8_t>(v >> (8 * i));
    std::memcpy(words, b, 16);
}

oob_rule_key mask_of(const Shape &s) {
    oob_rule_key k{};
    if (s.base & OOB_F_IFINDEX)
        k.ifindex = 0xffffffffU;
    if (s.base & (OOB_F_IFINDEX | OOB_F_VID))
        k.vid = 0xffff;
    if (s.base & OOB_F_L3PROTO)
        k.l3proto = 0xffff;
    if (s.base & OOB_F_L4PROTO)
        k.l4proto = 0xff;
    if (s.base & OOB_F_DSCP)
        k.dscp = 0x3f;
    // Always: a rule without `frag` must never match a fragment, and a `frag` rule only them.
    k.flags = OOB_KF_FRAG;
    put_bytes(k.src, top_bits(s.len[kSrc], 128));
    put_bytes(k.dst, top_bits(s.len[kDst], 128));
    k.sport = htons(static_cast<uint16_t>(top_bits(s.len[kSport], 16)));
    k.dport = htons(static_cast<uint16_t>(top_bits(s.len[kDport], 16)));
    return k;
}

oob_rule_key masked(const oob_rule_key &k, const oob_rule_key &m) {
    oob_rule_key out{};
    out.ifindex = k.ifindex & m.ifindex;
    out.vid = k.vid & m.vid;
    out.l3proto = k.l3proto & m.l3proto;
    out.l4proto = k.l4proto & m.l4proto;
    out.dscp = k.dscp & m.dscp;
    out.flags = k.flags & m.flags;
    out.sport = k.sport & m.sport;
    out.dport = k.dport & m.dport;
    for (int w = 0; w < 4; w++) {
        out.src[w] = k.src[w] & m.src[w];
        out.dst[w] = k.dst[w] & m.dst[w];
    }
    return out;
}

// A prefix at its stored length: all 2^(stored-len) longer prefixes under it.
std::vector<Pfx> expand(const Pfx &p, unsigned stored, unsigned total) {
    if (stored <= p.len)
        return {p};
    const unsigned n = stored - p.len;
    if (n > 24)  // the entry budget was checked before; this would be billions
        fail("internal: prefix expansion by " + std::to_string(n) + " bits");
    std::vector<Pfx> out;
    out.reserve(size_t(1) << n);
    for (uint64_t i = 0; i < (uint64_t(1) << n); i++)
        out.push_back({p.v | (u128(i) << (total - stored)), static_cast<uint8_t>(stored)});
    return out;
}

// The unit's protocol combinations with the added fields enumerated.
std::vector<Alt> alts_with(const Unit &u, uint16_t add) {
    std::vector<Alt> alts = u.alts, next;
    auto spread = [&](auto set_value, unsigned count, const uint16_t *values) {
        next.clear();
        for (const Alt &a : alts)
            for (unsigned i = 0; i < count; i++) {
                Alt b = a;
                set_value(b, values ? values[i] : i);
                next.push_back(b);
            }
        alts.swap(next);
    };
    static const uint16_t ip_types[] = {kEthIp, kEthIp6};
    if (add & OOB_F_L3PROTO)
        spread([](Alt &a, unsigned v) { a.l3 = static_cast<uint16_t>(v); }, 2, ip_types);
    if (add & OOB_F_L4PROTO)
        spread([](Alt &a, unsigned v) { a.l4 = static_cast<uint8_t>(v); }, 256, nullptr);
    if (add & OOB_F_DSCP)
        spread([](Alt &a, unsigned v) { a.dscp = static_cast<uint8_t>(v); }, 64, nullptr);
    if (add & OOB_F_VID)
        spread([](Alt &a, unsigned v) { a.vid = static_cast<uint16_t>(v); }, 4095, nullptr);
    return alts;
}

struct Expansion {
    std::vector<Unit> units;
    Groups groups;
    Placement at;
    size_t natural_masks = 0;
    double natural_entries = 0;
};

std::string list_rules(const std::vector<std::pair<double, const Rule *>> &top) {
    std::string s;
    for (size_t i = 0; i < top.size() && i < 3; i++)
        s += (i ? ", " : "") + std::string("rule ") + std::to_string(top[i].second->id) + " (" +
             std::to_string(static_cast<uint64_t>(top[i].first)) + ")";
    return s;
}

// Expansion with the limits checked; shared by validate() (devices unresolved: their shapes are
// the same) and compile().
Expansion expand_all(const std::vector<Rule> &rs, const Resolver *resolve,
                     const CompileOptions &opts = {}) {
    Expansion x;
    x.units.reserve(rs.size());
    for (const auto &r : rs)
        x.units.push_back(unit_of(r, resolve));
    for (const auto &u : x.units)
        add_groups(x.groups, u);
    for (const auto &[g, count] : x.groups)
        x.at[g] = g.shape;
    x.natural_masks = masks_of(x.at);
    x.natural_entries = entries_of(x.groups, x.at);
    if (x.natural_entries <= kMaxEntries)
        x.at = merge_masks(x.groups, opts.merge_for_speed);

    const size_t masks = masks_of(x.at);
    const double entries = entries_of(x.groups, x.at);
    if (masks > OOB_MAX_MASKS || entries > kMaxEntries) {
        // Name the rules that cost most: per rule, its entries or its masks.
        std::vector<std::pair<double, const Rule *>> top;
        for (const auto &u : x.units) {
            Groups g;
            add_groups(g, u);
            double n = 0;
            std::set<Shape> own;
            for (const auto &[k, count] : g) {
                n += count * multiplier(k, x.at.at(k));
                own.insert(x.at.at(k));
            }
            top.push_back({entries > kMaxEntries ? n : static_cast<double>(own.size()), u.rule});
        }
        std::stable_sort(top.begin(), top.end(),
                         [](const auto &a, const auto &b) { return a.first > b.first; });
        if (entries <= kMaxEntries)
            fail("rule set needs " + std::to_string(masks) + " distinct masks, at most " +
                 std::to_string(OOB_MAX_MASKS) +
                 " fit (each combination of fields, prefix length and port-range prefix "
                 "length is a mask); most masks: " +
                 list_rules(top));
        fail("rule set expands to " + std::to_string(static_cast<uint64_t>(entries)) +
             " entries, at most " + std::to_string(kMaxEntries) +
             " fit (port ranges expand into prefixes, sport x dport multiply); most entries: " +
             list_rules(top));
    }
    return x;
}

void check_set(const std::vector<Rule> &rs) {
    std::set<uint32_t> ids;
    for (const auto &r : rs) {
        try {
            check(r);
        } catch (const Error &e) {
            fail(rule_name(r) + ": " + e.what());
        }
        if (r.id && !ids.insert(r.id).second)
            fail("rule id " + std::to_string(r.id) + " used twice");
    }
}

// A rule's extent along one dimension, as an interval: rules whose intervals do not meet cannot
// match one frame. Addresses carry their family in front, so IPv4 and IPv6 never meet.
struct Extent {
    std::pair<uint8_t, u128> lo, hi;
};

Extent extent(const Spec &s, int dim) {
    const Extent all{{0, 0}, {255, ~u128(0)}};
    switch (dim) {
        case 0:
        case 1: {
            const auto &p = dim == 0 ? s.dst : s.src;
            if (!p)
                return all;
            const u128 m = top_bits(p->len, 128), v = addr_value(*p) & m;
            const auto f = static_cast<uint8_t>(p->family);
            return {{f, v}, {f, v | ~m}};
        }
        case 2:
            return s.has_dport ? Extent{{0, s.dport.lo}, {0, s.dport.hi}} : all;
        case 3:
            return s.has_sport ? Extent{{0, s.sport.lo}, {0, s.sport.hi}} : all;
        default:
            return s.vid ? Extent{{0, *s.vid}, {0, *s.vid}} : all;
    }
}

bool whole(const Extent &e) {
    return e.lo.first == 0 && e.lo.second == 0 && e.hi.first == 255;
}

// Same-priority rules that can match one frame. Pairs are only compared when they meet along the
// dimension (dst, src, dport, sport, VID) where fewest rules of the group are wildcards: sorted
// by the low end, rule i meets the rules after it up to its high end.
void check_overlaps(const std::vector<Rule> &rs, const Resolver *resolve) {
    std::map<uint32_t, std::vector<Spec>> by_prio;
    for (const auto &r : rs)
        by_prio[r.prio].push_back(spec_of(r, resolve));
    for (auto &[prio, specs] : by_prio) {
        if (specs.size() < 2)
            continue;
        int dim = 0;
        size_t fewest = SIZE_MAX;
        for (int d = 0; d < 5; d++) {
            size_t wild = 0;
            for (const auto &sp : specs)
                wild += whole(extent(sp, d));
            if (wild < fewest) {
                fewest = wild;
                dim = d;
            }
        }
        std::vector<std::pair<Extent, const Spec *>> order;
        for (const auto &sp : specs)
            order.push_back({extent(sp, dim), &sp});
        std::stable_sort(order.begin(), order.end(),
                         [](const auto &x, const auto &y) { return x.first.lo < y.first.lo; });
        for (size_t i = 0; i < order.size(); i++)
            for (size_t j = i + 1; j < order.size() && !(order[i].first.hi < order[j].first.lo);
                 j++) {
                const Spec &a = *order[i].second, &b = *order[j].second;
                if (!overlap(a, b))
                    continue;
                const bool first = a.rule < b.rule;  // name them in the order given
                fail(rule_name(first ? *a.rule : *b.rule) + " and " +
                     rule_name(first ? *b.rule : *a.rule) + " have the same prio " +
                     std::to_string(prio) + " and can match the same frame: give one a lower prio");
            }
    }
}

}  // namespace

void validate(const std::vector<Rule> &rs) {
    check_set(rs);
    check_overlaps(rs, nullptr);
    expand_all(rs, nullptr);
}

void validate(const std::vector<Rule> &rs, const Resolver &resolve) {
    check_set(rs);
    check_overlaps(rs, &resolve);
    expand_all(rs, &resolve);
}

namespace {

// The key's first 16 bytes (ifindex to dport) as the search reads them: two words in host order,
// the tuple byte cleared.
void head_of(const oob_rule_key &k, __u64 out[2]) {
    oob_rule_key c = k;
    c.tuple = 0;
    static_assert(offsetof(oob_rule_key, src) == 16, "the head is the key up to src");
    std::memcpy(out, &c, 16);
}

// The search's pre-check: per mask, the head bits (within the mask) on which all its entries
// agree, and their values. A frame that differs on one of them cannot match under that mask.
// A mask without entries gets a check no frame passes (its tuple bits: a frame's key has none).
void set_heads(RuleSetImage &img) {
    bool seen[OOB_MAX_MASKS] = {};
    for (uint32_t i = 0; i < img.masks.count; i++)
        head_of(img.masks.mask[i], img.masks.head_mask[i]);
    for (const auto &[k, v] : img.entries) {
        const uint32_t t = k.tuple % OOB_MAX_MASKS;
        __u64 h[2];
        head_of(k, h);
        for (int w = 0; w < 2; w++) {
            if (seen[t])
                img.masks.head_mask[t][w] &= ~(h[w] ^ img.masks.head_val[t][w]);
            else
                img.masks.head_val[t][w] = h[w];
        }
        seen[t] = true;
    }
    for (uint32_t i = 0; i < img.masks.count; i++) {
        if (!seen[i]) {
            oob_rule_key tuple_only{};
            tuple_only.tuple = 0xff;
            std::memcpy(img.masks.head_mask[i], &tuple_only, 16);
            std::memcpy(img.masks.head_val[i], &tuple_only, 16);
            continue;
        }
        for (int w = 0; w < 2; w++)
            img.masks.head_val[i][w] &= img.masks.head_mask[i][w];
    }
}

}  // namespace

RuleSetImage compile(const std::vector<Rule> &rs, const Resolver &resolve, CompileInfo *info,
                     const CompileOptions &opts) {
    check_set(rs);
    for (const auto &r : rs)
        if (!r.id)
            fail(rule_name(r) + ": has no id (1-" + std::to_string(OOB_MAX_RULES - 1) + ")");
    Expansion x = expand_all(rs, &resolve, opts);

    // Shapes after merging, numbered in their natural order for now.
    std::map<Shape, uint32_t> shape_ix;
    for (const auto &[g, j] : x.at)
        shape_ix.emplace(j, 0);
    std::vector<Shape> shapes;
    for (auto &[sh, ix] : shape_ix) {
        ix = static_cast<uint32_t>(shapes.size());
        shapes.push_back(sh);
    }

    // Better rules first: on equal masked keys the first one stays (lowest prio, then id).
    std::vector<const Unit *> order;
    for (const auto &u : x.units)
        order.push_back(&u);
    std::stable_sort(order.begin(), order.end(), [](const Unit *a, const Unit *b) {
        return std::tie(a->rule->prio, a->rule->id) < std::tie(b->rule->prio, b->rule->id);
    });

    AbiMap<oob_rule_key, oob_rule_val> entries;
    for (const Unit *u : order) {
        const Spec &s = u->spec;
        oob_rule_val v{};
        v.rule_id = u->rule->id;
        v.prio = u->rule->prio;
        v.action = static_cast<uint32_t>(u->rule->action);
        std::map<uint16_t, std::vector<Alt>> alts;  // by the fields the mask adds
        // One natural prefix per dimension picks the group, hence the mask; each prefix is then
        // stored at the mask's length, and the added fields enumerated.
        for (const auto &ns : u->dims[kSrc])
            for (const auto &nd : u->dims[kDst])
                for (const auto &np : u->dims[kSport])
                    for (const auto &nq : u->dims[kDport]) {
                        GroupKey g;
                        g.shape.base = u->base;
                        const Pfx *nat[kDims] = {&ns, &nd, &np, &nq};
                        for (int d = 0; d < kDims; d++) {
                            g.shape.len[d] = nat[d]->len;
                            g.width[d] = static_cast<uint8_t>(u->width[d]);
                        }
                        g.ip_only = u->ip_only;
                        const Shape &j = x.at.at(g);
                        const oob_rule_key m = mask_of(j);
                        const uint8_t tuple = static_cast<uint8_t>(shape_ix.at(j));
                        const uint16_t add = j.base & static_cast<uint16_t>(~u->base);
                        if (!alts.count(add))
                            alts[add] = alts_with(*u, add);
                        std::vector<Pfx> ex[kDims];
                        for (int d = 0; d < kDims; d++)
                            ex[d] =
                                expand(*nat[d], stored_len(d, nat[d]->len, u->width[d], j.len[d]),
                                       kTotal[d]);
                        for (const Alt &a : alts[add])
                            for (const auto &ps : ex[kSrc])
                                for (const auto &pd : ex[kDst])
                                    for (const auto &pp : ex[kSport])
                                        for (const auto &pq : ex[kDport]) {
                                            oob_rule_key k{};
                                            k.ifindex = s.ifindex;
                                            k.vid = a.vid;
                                            k.l3proto = htons(a.l3);
                                            k.l4proto = a.l4;
                                            k.dscp = a.dscp;
                                            k.flags = s.frag ? OOB_KF_FRAG : 0;
                                            put_bytes(k.src, ps.v);
                                            put_bytes(k.dst, pd.v);
                                            k.sport = htons(static_cast<uint16_t>(pp.v));
                                            k.dport = htons(static_cast<uint16_t>(pq.v));
                                            oob_rule_key mk = masked(k, m);
                                            mk.tuple = tuple;
                                            entries.emplace(mk, v);
                                        }
                    }
    }
    if (entries.size() > kMaxEntries)
        fail("rule set expands to " + std::to_string(entries.size()) + " entries, at most " +
             std::to_string(kMaxEntries) + " fit");

    // Masks sorted by the best priority they hold: the search stops at the first mask that
    // cannot beat the match in hand, so this order is what makes it correct.
    std::vector<uint32_t> best(shapes.size(), 0xffffffffU);
    for (const auto &[k, v] : entries)
        best[k.tuple] = std::min(best[k.tuple], v.prio);
    std::vector<uint32_t> perm(shapes.size());
    for (uint32_t i = 0; i < perm.size(); i++)
        perm[i] = i;
    std::stable_sort(perm.begin(), perm.end(),
                     [&](uint32_t a, uint32_t b) { return best[a] < best[b]; });
    std::vector<uint32_t> slot(shapes.size());
    RuleSetImage img;
    uint32_t n = 0;
    for (uint32_t i : perm) {
        if (best[i] == 0xffffffffU)
            continue;  // every entry of this shape was shadowed by a better rule
        slot[i] = n;
        img.masks.best_prio[n] = best[i];
        img.masks.mask[n] = mask_of(shapes[i]);
        n++;
    }
    img.masks.count = n;
    img.entries.reserve(entries.size());
    for (const auto &[key, v] : entries) {
        oob_rule_key k = key;
        k.tuple = static_cast<uint8_t>(slot[k.tuple]);
        img.entries.push_back({k, v});
    }
    set_heads(img);
    std::sort(img.entries.begin(), img.entries.end(), [](const auto &a, const auto &b) {
        return std::memcmp(&a.first, &b.first, sizeof(a.first)) < 0;
    });

    if (info) {
        info->rules = static_cast<uint32_t>(rs.size());
        info->masks = n;
        info->entries = static_cast<uint32_t>(img.entries.size());
        info->natural_masks = static_cast<uint32_t>(x.natural_masks);
        info->natural_entries = static_cast<uint32_t>(x.natural_entries);
    }
    return img;
}

}  // namespace oobbpf::rules
