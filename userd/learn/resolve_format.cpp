// SPDX-License-Identifier: MIT
// `oobbpf route resolve` grammar and output (text and JSON from one place).
#include "error.h"
#include "learner.h"

#include <arpa/inet.h>
#include <linux/neighbour.h>

#include <cstdio>

namespace oobbpf::learn {

namespace {

bool parse_addr(const std::string &s, uint8_t *family, std::array<uint8_t, 16> *out) {
    out->fill(0);
    if (inet_pton(AF_INET, s.c_str(), out->data()) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s.c_str(), out->data()) == 1) {
        *family = AF_INET6;
        return true;
    }
    return false;
}

uint32_t parse_u32(const std::string &kw, const std::string &s, uint32_t max) {
    size_t pos = 0;
    unsigned long v = 0;
    try {
        v = std::stoul(s, &pos, 0);  // 0x.. as in `ip rule ... fwmark 0x10`
    } catch (...) {
        pos = 0;
    }
    if (pos != s.size() || s.empty() || s[0] == '-' || v > max)
        throw Error("route resolve: " + kw + " " + s + ": not a number in 0.." +
                    std::to_string(max));
    return uint32_t(v);
}

std::string mac_text(const uint8_t *m) {
    char b[18];
    std::snprintf(b, sizeof(b), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
                  m[5]);
    return b;
}

std::string hex(uint32_t v) {
    char b[16];
    std::snprintf(b, sizeof(b), "0x%x", v);
    return b;
}

bool zero(const __be32 *a) {
    return !a[0] && !a[1] && !a[2] && !a[3];
}

}  // namespace

std::string addr_text(uint8_t family, const __be32 *addr) {
    char b[INET6_ADDRSTRLEN] = "?";
    inet_ntop(family == AF_INET6 ? AF_INET6 : AF_INET, addr, b, sizeof(b));
    return b;
}

std::string nud_state_name(uint16_t state) {
    static const std::pair<uint16_t, const char *> names[] = {
        {NUD_INCOMPLETE, "INCOMPLETE"}, {NUD_REACHABLE, "REACHABLE"}, {NUD_STALE, "STALE"},
        {NUD_DELAY, "DELAY"},           {NUD_PROBE, "PROBE"},         {NUD_FAILED, "FAILED"},
        {NUD_NOARP, "NOARP"},           {NUD_PERMANENT, "PERMANENT"},
    };
    std::string s;
    for (const auto &[bit, name] : names)
        if (state & bit)
            s += (s.empty() ? "" : ",") + std::string(name);
    return s.empty() ? "NONE" : s;
}

ResolveRequest parse_resolve_args(const std::vector<std::string> &args) {
    ResolveRequest rq;
    if (args.empty())
        throw Error("route resolve: DST [from SRC] [mark M] [tos T] [oif DEV]");
    if (!parse_addr(args[0], &rq.family, &rq.dst))
        throw Error("route resolve: " + args[0] + ": not an IPv4 or IPv6 address");
    bool seen_from = false, seen_mark = false, seen_tos = false, seen_oif = false;
    for (size_t i = 1; i < args.size(); i += 2) {
        const std::string &kw = args[i];
        if (i + 1 >= args.size())
            throw Error("route resolve: " + kw + " needs a value");
        const std::string &v = args[i + 1];
        auto once = [&](bool &seen) {
            if (seen)
                throw Error("route resolve: " + kw + " given twice");
            seen = true;
        };
        if (kw == "from") {
            once(seen_from);
            uint8_t fam;
            std::array<uint8_t, 16> a;
            if (!parse_addr(v, &fam, &a))
                throw Error("route resolve: from " + v + ": not an address");
            if (fam != rq.family)
                throw Error("route resolve: from " + v + ": not the family of " + args[0]);
            rq.src = a;
        } else if (kw == "mark") {
            once(seen_mark);
            rq.mark = parse_u32(kw, v, 0xffffffffU);
        } else if (kw == "tos") {
            once(seen_tos);
            rq.tos = uint8_t(parse_u32(kw, v, 0xff));
        } else if (kw == "oif") {
            once(seen_oif);
            rq.oif = v;
        } else {
            throw Error("route resolve: unknown keyword '" + kw +
                        "' (expected from, mark, tos or oif)");
        }
    }
    return rq;
}

std::string to_text(const Resolved &r) {
    const oob_route_key &k = r.key;
    const oob_route &rt = r.route;
    std::string s = addr_text(k.family, k.dst);
    if (!zero(k.src))
        s += " from " + addr_text(k.family, k.src);
    if (k.mark)
        s += " mark " + hex(k.mark);
    if (k.tos)
        s += " tos " + hex(k.tos);
    if (k.oif)
        s += " oif " + r.oif_dev;
    if (rt.flags & OOB_ROUTE_GATEWAY)
        s += " via " + addr_text(k.family, rt.gw);
    s += " dev " + r.dev;
    if (rt.vid)
        s += " lower " + r.lower_dev + " vlan " + std::to_string(rt.vid);
    if (!zero(rt.prefsrc))
        s += " src " + addr_text(k.family, rt.prefsrc);
    s += " mtu " + std::to_string(rt.mtu) + " table " + std::to_string(rt.table);
    s += "\n    neigh " + addr_text(r.nh.family, r.nh.addr);
    if (r.neigh)
        s += " lladdr " + mac_text(r.neigh->mac) + " " + nud_state_name(r.neigh->state);
    else
        s += " unresolved" +
             (r.neigh_state ? " (" + nud_state_name(r.neigh_state) + ")" : std::string());
    return s + "\n";
}

nlohmann::json to_json(const Resolved &r) {
    const oob_route_key &k = r.key;
    const oob_route &rt = r.route;
    nlohmann::json j;
    j["dst"] = addr_text(k.family, k.dst);
    j["from"] = zero(k.src) ? nlohmann::json() : nlohmann::json(addr_text(k.family, k.src));
    j["mark"] = k.mark;
    j["tos"] = k.tos;
    j["oif"] = k.oif ? nlohmann::json(r.oif_dev) : nlohmann::json();
    j["netns"] = k.netns;
    j["dev"] = r.dev;
    j["ifindex"] = rt.oif;
    j["lower"] = r.lower_dev;
    j["lower_ifindex"] = rt.lower_ifindex;
    j["vlan"] = rt.vid;
    j["gateway"] = (rt.flags & OOB_ROUTE_GATEWAY) ? nlohmann::json(addr_text(k.family, rt.gw))
                                                  : nlohmann::json();
    j["prefsrc"] =
        zero(rt.prefsrc) ? nlohmann::json() : nlohmann::json(addr_text(k.family, rt.prefsrc));
    j["mtu"] = rt.mtu;
    j["table"] = rt.table;
    j["complete"] = bool(rt.flags & OOB_ROUTE_COMPLETE);
    j["learned_ns"] = rt.learned_ns;
    nlohmann::json n;
    n["addr"] = addr_text(r.nh.family, r.nh.addr);
    n["dev"] = r.dev;
    if (r.neigh) {
        n["lladdr"] = mac_text(r.neigh->mac);
        n["state"] = nud_state_name(r.neigh->state);
    } else {
        n["lladdr"] = nullptr;
        n["state"] = r.neigh_state ? nud_state_name(r.neigh_state) : "NONE";
    }
    j["neigh"] = n;
    return j;
}

nlohmann::json status_json(const Learner &l) {
    const Stats st = l.stats();
    nlohmann::json j;
    j["backend"] = l.running() ? nlohmann::json(l.backend()) : nlohmann::json();
    j["probe"] = l.probe_notes();
    j["netns"] = l.netns();
    j["routes"] = st.routes;
    j["neighs"] = st.neighs;
    j["watched"] = st.watched;
    j["decisions"] = st.decisions;
    j["learned"] = st.learned;
    j["updated"] = st.updated;
    j["removed"] = st.removed;
    j["revalidations"] = st.revalidations;
    j["last_revalidation_ns"] = st.last_revalidation_ns;
    j["resyncs"] = st.resyncs;
    j["neigh_updates"] = st.neigh_updates;
    j["neigh_removed"] = st.neigh_removed;
    j["neigh_refreshes"] = st.neigh_refreshes;
    j["dropped"] = st.dropped;
    return j;
}

}  // namespace oobbpf::learn
