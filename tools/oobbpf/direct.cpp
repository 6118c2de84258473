// SPDX-License-Identifier: MIT
// What the pinned maps say. Show commands read them when the daemon is down (diversion keeps
// running without it: the maps are the truth the data path uses), and stats, route and neigh
// read them always: counters are per CPU and change all the time; routes are the learner's.
#include "cli.h"

#include "bpf_tables.h"
#include "config.h"
#include "datapath.h"
#include "error.h"
#include "metrics.h"
#include "probes.h"

#include <liboob/sockstats.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>

#include <algorithm>
#include <filesystem>
#include <map>

#ifndef OOBBPF_VERSION
#define OOBBPF_VERSION "0.0.0"
#endif
#ifndef OOBBPF_LIBXDP_VERSION
#define OOBBPF_LIBXDP_VERSION "unknown"
#endif

namespace fs = std::filesystem;

namespace oobbpf::cli {

using daemon::Paths;

namespace {


std::string flags_text(uint32_t f) {
    std::string s;
    auto add = [&](uint32_t bit, const char *name) {
        if (f & bit)
            s += (s.empty() ? "" : ",") + std::string(name);
    };
    add(OOB_DEV_DIVERT, "divert");
    add(OOB_DEV_PORT, "port");
    add(OOB_DEV_SELECTOR, "selector");
    add(OOB_DEV_TAP, "tap");
    return s;
}

std::string addr_text(uint8_t family, const __be32 *a) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(family == 10 ? AF_INET6 : AF_INET, a, buf, sizeof(buf));
    return buf;
}

bool zero_addr(const __be32 *a) {
    return !a[0] && !a[1] && !a[2] && !a[3];
}

std::string nud_name(uint16_t s) {
    static const std::pair<uint16_t, const char *> names[] = {
        {0x01, "INCOMPLETE"}, {0x02, "REACHABLE"}, {0x04, "STALE"}, {0x08, "DELAY"},
        {0x10, "PROBE"},      {0x20, "FAILED"},    {0x40, "NOARP"}, {0x80, "PERMANENT"}};
    std::string out;
    for (auto [bit, name] : names)
        if (s & bit)
            out += (out.empty() ? "" : ",") + std::string(name);
    return out.empty() ? "NONE" : out;
}

uint64_t mono_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// A pinned map of the learner, if it is there and has the layout this CLI knows.
UniqueFd learned_map(const Paths &p, const char *name, size_t key, size_t value) {
    UniqueFd fd = daemon::PinnedMaps::open_optional(p.pin_root, name);
    if (!fd) {
        // Absent is "nothing learned yet"; anything else is the real reason, said as such.
        if (errno != ENOENT)
            throw sys_error(p.pin_root + "/" + name, errno);
        return fd;
    }
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) < 0 || info.key_size != key ||
        info.value_size != value)
        throw Error(p.pin_root + "/" + name + " has a layout this oobbpf does not know");
    return fd;
}

}  // namespace

}  // namespace oobbpf::cli

namespace oobbpf::cli {

std::string ifname(uint32_t ifindex) {
    char buf[IF_NAMESIZE] = {};
    if (!ifindex)
        return "";
    if (!if_indextoname(ifindex, buf))
        return "if" + std::to_string(ifindex);
    return buf;
}

json direct_ports(const Paths &p) {
    daemon::PinnedMaps pm(p.pin_root);
    json out = json::array();
    for (auto &[k, v] : dump_map<oob_port_key, oob_port>(pm.fds().ports)) {
        json e = {{"dev", ifname(v.ifindex)},
                  {"port_id", v.port_id},
                  {"ifindex", v.ifindex},
                  {"kind", (v.flags & OOB_PORT_VLAN) ? "vlan" : "device"},
                  {"lower", ifname(v.lower_ifindex)},
                  {"lower_ifindex", v.lower_ifindex},
                  {"vid", v.vid},
                  {"state", "active"}};
        out.push_back(e);
    }
    std::sort(out.begin(), out.end(),
              [](const json &a, const json &b) { return a["dev"] < b["dev"]; });
    return out;
}

json direct_divert(const Paths &p) {
    daemon::PinnedMaps pm(p.pin_root);
    json out = json::array();
    for (auto &[ifindex, d] : dump_map<uint32_t, oob_dev>(pm.fds().devs)) {
        json e = {{"dev", ifname(ifindex)},
                  {"ifindex", ifindex},
                  {"slot", d.slot},
                  {"flags", flags_text(d.flags)}};
        daemon::XdpState st = daemon::query_xdp(ifindex);
        if (st.mode)
            e["mode"] = daemon::mode_name(*st.mode);
        e["via"] = st.prog_name == "oob_xdp" ? "bpf_link"
                   : st.prog_id              ? "libxdp-dispatcher"
                                             : "none";
        out.push_back(e);
    }
    std::sort(out.begin(), out.end(),
              [](const json &a, const json &b) { return a["dev"] < b["dev"]; });
    return out;
}

json direct_vlans(const Paths &p) {
    daemon::PinnedMaps pm(p.pin_root);
    json out = json::array();
    for (auto &[k, v] : dump_map<oob_vlan_key, oob_vlan>(pm.fds().vlans))
        out.push_back({{"vid", k.vid},
                       {"dev", k.ifindex ? json(ifname(k.ifindex)) : json()},
                       {"port_id", v.port_id},
                       {"state", "active"}});
    std::sort(out.begin(), out.end(), [](const json &a, const json &b) {
        return std::make_pair(a["vid"].get<int>(), a["dev"].dump()) <
               std::make_pair(b["vid"].get<int>(), b["dev"].dump());
    });
    return out;
}

json direct_rules(const Paths &p) {
    daemon::Config c = daemon::load_config(p.config_file());
    daemon::PinnedMaps pm(p.pin_root);
    BpfTables t(pm.fds());
    json out = json::array();
    for (const auto &r : c.rules) {
        uint32_t id = r.value("id", 0u);
        json e = {{"id", id}, {"spec", r}, {"state", "saved configuration"}};
        if (id) {
            oob_rule_stats st = t.rule_stats(id);
            e["packets"] = st.packets;
            e["bytes"] = st.bytes;
        }
        out.push_back(e);
    }
    return out;
}

json direct_xsks(const Paths &p) {
    daemon::PinnedMaps pm(p.pin_root);
    json out = json::array();
    for (auto &[idx, reg] : dump_map<uint32_t, oob_xsk_reg>(pm.fds().xsk_regs))
        out.push_back({{"index", idx},
                       {"dev", ifname(reg.ifindex)},
                       {"ifindex", reg.ifindex},
                       {"queue", reg.queue},
                       {"pid", reg.pid}});
    return out;
}

json direct_status(const Paths &p) {
    json s;
    s["daemon"] = {{"running", false},
                   {"pin_root", p.pin_root},
                   {"socket", p.socket},
                   {"state_dir", p.state_dir}};
    s["versions"] = {{"oobbpf", OOBBPF_VERSION},
                     {"abi", OOB_ABI_VERSION},
                     {"protocol", daemon::kProtocolVersion},
                     {"libbpf", std::to_string(libbpf_major_version()) + "." +
                                    std::to_string(libbpf_minor_version())},
                     {"libxdp", OOBBPF_LIBXDP_VERSION}};
    daemon::Features f = daemon::probe_features();
    s["versions"]["kernel"] = f.kernel;
    s["features"] = daemon::to_json(f);
    try {
        s["devices"] = direct_divert(p);
    } catch (const Error &e) {
        s["devices"] = json::array();
        s["problems"] = json::array({{{"dev", ""}, {"problem", e.what()}}});
    }
    return s;
}

// ---- statistics -----------------------------------------------------------------------------

json read_stats(const Paths &p, const json &rules) {
    daemon::PinnedMaps pm(p.pin_root);
    BpfTables t(pm.fds());
    // Port id -> what it is: ports, VLAN set memberships, and 0 for frames of no port.
    std::map<uint32_t, json> names;
    for (auto &[k, v] : dump_map<oob_port_key, oob_port>(pm.fds().ports))
        names[v.port_id] = {{"dev", ifname(v.ifindex)},
                            {"kind", (v.flags & OOB_PORT_VLAN) ? "vlan" : "device"}};
    for (auto &[k, v] : dump_map<oob_vlan_key, oob_vlan>(pm.fds().vlans))
        if (!names.count(v.port_id))
            names[v.port_id] = {
                {"dev", k.ifindex ? ifname(k.ifindex) + " vlan " + std::to_string(k.vid)
                                  : "vlan " + std::to_string(k.vid)},
                {"kind", "vlan-set"}};

    json ports = json::array();
    auto add = [&](uint32_t id, json who) {
        oob_port_stats st = t.port_stats(id);
        json verdicts = json::object();
        for (uint32_t v = 0; v < OOB_VERDICT_MAX; v++)
            if (v != OOB_SKIP)
                verdicts[verdict_label(v)] = {{"packets", st.verdict_packets[v]},
                                              {"bytes", st.verdict_bytes[v]}};
        json reasons = json::object();
        for (uint32_t r = 0; r < OOB_REASON_MAX; r++)
            if (st.reason[r])
                reasons[reason_label(r)] = st.reason[r];
        who["port_id"] = id;
        who["verdicts"] = verdicts;
        who["reasons"] = reasons;
        ports.push_back(who);
    };
    oob_port_stats none = t.port_stats(0);
    uint64_t any = 0;
    for (uint32_t v = 0; v < OOB_VERDICT_MAX; v++)
        any += none.verdict_packets[v];
    if (any)
        add(0, {{"dev", ""}, {"kind", "none"}});
    for (auto &[id, who] : names)
        add(id, who);

    json rs = json::array();
    for (const auto &r : rules) {
        uint32_t id = r.value("id", 0u);
        if (!id || id >= OOB_MAX_RULES)
            continue;
        oob_rule_stats st = t.rule_stats(id);
        rs.push_back({{"id", id},
                      {"rule", r.value("rule", std::string())},
                      {"packets", st.packets},
                      {"bytes", st.bytes}});
    }
    return {{"ports", ports}, {"rules", rs}, {"sockets", read_sockets(p)}};
}

namespace {

// A latency histogram as JSON: count, sum, max, p50/p99/p999 (upper bucket edges) and the
// non-empty buckets as [upper edge ns, count].
json hist_json(const oob::LatHist &h) {
    json buckets = json::array();
    for (int i = 0; i < oob::kLatBuckets; i++)
        if (h.bucket[i])
            buckets.push_back({uint64_t{2} << i, h.bucket[i]});
    return {{"count", h.count},
            {"sum_ns", h.sum_ns},
            {"max_ns", h.max_ns},
            {"p50_ns", oob::lat_quantile(h, 0.50)},
            {"p99_ns", oob::lat_quantile(h, 0.99)},
            {"p999_ns", oob::lat_quantile(h, 0.999)},
            {"buckets", buckets}};
}

}  // namespace

json read_sockets(const Paths &p) {
    json out = json::array();
    for (const auto &e : oob::read_sock_stats(oob::default_stats_dir(), p.pin_root)) {
        const oob::SockStatsData &d = e.data;
        out.push_back({{"pid", d.pid},
                       {"port", d.port},
                       {"dev", std::string(d.dev)},
                       {"ifindex", d.ifindex},
                       {"queues", d.queues},
                       {"rx_packets", d.rx_packets},
                       {"rx_no_stamp", d.rx_no_stamp},
                       {"tx_packets", d.tx_packets},
                       {"tx_completed", d.tx_completed},
                       {"classify_deliver", hist_json(d.classify_deliver)},
                       {"send_complete", hist_json(d.send_complete)}});
    }
    return out;
}

// ---- learned routes and neighbours -----------------------------------------------------------

json read_routes(const Paths &p) {
    UniqueFd fd = learned_map(p, OOB_PIN_ROUTES, sizeof(oob_route_key), sizeof(oob_route));
    if (!fd)
        throw Error("no learned routes at " + p.pin_root + "/" + OOB_PIN_ROUTES +
                    " (no route learner has run)");
    const uint64_t now = mono_ns();
    json out = json::array();
    for (auto &[k, r] : dump_map<oob_route_key, oob_route>(fd.get())) {
        json e = {{"family", k.family == 10 ? "inet6" : "inet"},
                  {"dst", addr_text(k.family, k.dst)}};
        if (!zero_addr(k.src))
            e["from"] = addr_text(k.family, k.src);
        if (k.mark)
            e["mark"] = k.mark;
        if (k.tos)
            e["tos"] = k.tos;
        if (k.oif)
            e["oif"] = ifname(k.oif);
        e["dev"] = ifname(r.oif);
        e["lower"] = ifname(r.lower_ifindex);
        if (r.vid)
            e["vid"] = r.vid;
        if (r.flags & OOB_ROUTE_GATEWAY)
            e["via"] = addr_text(r.family ? r.family : k.family, r.gw);
        if (!zero_addr(r.prefsrc))
            e["src"] = addr_text(r.family ? r.family : k.family, r.prefsrc);
        if (r.mtu)
            e["mtu"] = r.mtu;
        e["table"] = r.table;
        e["complete"] = (r.flags & OOB_ROUTE_COMPLETE) != 0;
        if (r.learned_ns && r.learned_ns <= now)
            e["age_ms"] = (now - r.learned_ns) / 1000000;
        out.push_back(e);
    }
    return out;
}

json read_neighs(const Paths &p) {
    UniqueFd fd = learned_map(p, OOB_PIN_NEIGHS, sizeof(oob_neigh_key), sizeof(oob_neigh));
    if (!fd)
        throw Error("no learned neighbours at " + p.pin_root + "/" + OOB_PIN_NEIGHS +
                    " (no route learner has run)");
    json out = json::array();
    for (auto &[k, n] : dump_map<oob_neigh_key, oob_neigh>(fd.get())) {
        char mac[18];
        snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n.mac[0], n.mac[1], n.mac[2],
                 n.mac[3], n.mac[4], n.mac[5]);
        out.push_back({{"family", k.family == 10 ? "inet6" : "inet"},
                       {"addr", addr_text(k.family, k.addr)},
                       {"dev", ifname(k.ifindex)},
                       {"lladdr", mac},
                       {"state", nud_name(n.state)}});
    }
    return out;
}

}  // namespace oobbpf::cli
