// SPDX-License-Identifier: MIT
// oobbpf: the command line of oobbpf, in the style of bpftool and iproute2:
//   oobbpf [-j] [-p] OBJECT COMMAND [ARGS]
// Exact keywords (CLI11 does no prefix matching), --help at every level, -j JSON on every show
// command, device names in all output. Changes go through oobbpfd; show commands ask it and read
// the pinned maps themselves when it is down.
#include "cli.h"

#include "error.h"
#include "metrics.h"
#include "rules.h"

#include <CLI/CLI.hpp>
#include <bpf/libbpf.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <fstream>
#include <cstring>
#include <iostream>
#include <sstream>
#include <thread>

using namespace oobbpf;
using namespace oobbpf::cli;

namespace oobbpf::cli {

daemon::Client *Ctx::daemon_opt() {
    if (!tried_) {
        tried_ = true;
        try {
            client_ = daemon::Client::connect(paths.socket);
        } catch (const Error &e) {
            if (e.err() != ENOENT && e.err() != ECONNREFUSED)
                throw;
        }
    }
    return client_ ? &*client_ : nullptr;
}

daemon::Client &Ctx::daemon() {
    if (daemon::Client *c = daemon_opt())
        return *c;
    throw Error("oobbpfd is not running (no daemon at " + paths.socket + ")");
}

json Ctx::call(const std::string &cmd, const json &args) {
    std::vector<std::string> warnings;
    json r = daemon().call_ok(cmd, args, &warnings);
    for (const auto &w : warnings)
        std::cerr << "oobbpf: warning: " << w << "\n";
    return r;
}

void Ctx::emit(const json &j, const std::function<void()> &text) const {
    if (json_out)
        std::cout << j.dump(pretty ? 2 : -1, ' ', false, json::error_handler_t::replace) << "\n";
    else
        text();
}

json Ctx::direct(const std::function<json()> &read) const {
    json out;
    try {
        out = read();
    } catch (const Error &e) {
        // One line: why there is nothing to show includes that the daemon is down.
        throw Error(std::string("oobbpfd is not running, and ") + e.what(), e.err());
    }
    if (!json_out)
        std::cerr << "oobbpf: oobbpfd is not running; showing the pinned maps under "
                  << paths.pin_root << "\n";
    return out;
}

}  // namespace oobbpf::cli

namespace {

// A show command: from the daemon when it runs, else from the pinned maps.
json show(Ctx &c, const std::string &cmd, const json &args, json (*direct)(const daemon::Paths &)) {
    if (c.daemon_opt())
        return c.call(cmd, args);
    return c.direct([&] { return direct(c.paths); });
}

// Rules as the daemon shows them ({id, rule, spec, state, packets, bytes}), or from the saved
// configuration when it is down.
json rules_now(Ctx &c) {
    if (c.daemon_opt())
        return c.call("rule.show");
    json out = direct_rules(c.paths);
    for (auto &e : out)
        e["rule"] = rules::format(rules::from_json(e["spec"]));
    return out;
}

std::vector<rules::Rule> read_rule_file(const std::string &file) {
    std::ifstream in(file);
    if (!in)
        throw sys_error("read " + file, errno);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && (text[first] == '[' || text[first] == '{')) {
        json j;
        try {
            j = json::parse(text);
        } catch (const json::parse_error &e) {
            throw Error(file + ": not valid JSON (" + e.what() + ")");
        }
        try {
            return rules::list_from_json(j.is_object() && j.contains("rules") ? j["rules"] : j);
        } catch (const Error &e) {
            throw Error(file + ": " + e.what());
        }
    }
    // One rule per line in the CLI grammar; '#' starts a comment.
    std::vector<rules::Rule> out;
    std::istringstream lines(text);
    std::string line;
    for (int n = 1; std::getline(lines, line); n++) {
        auto hash = line.find('#');
        if (hash != std::string::npos)
            line.erase(hash);
        auto tokens = rules::split(line);
        if (tokens.empty())
            continue;
        try {
            out.push_back(rules::parse(tokens));
        } catch (const Error &e) {
            throw Error(file + ":" + std::to_string(n) + ": " + e.what());
        }
    }
    return out;
}

json specs_for_export(const json &shown) {
    json out = json::array();
    for (const auto &r : shown)
        out.push_back(r["spec"]);
    return out;
}

int libbpf_quiet(libbpf_print_level, const char *, va_list) {
    return 0;
}

// The counters of `stats -j` in the Prometheus text format (userd/core/metrics.h).
std::string prometheus_of(const json &stats) {
    std::vector<PortCounters> ports;
    for (const auto &p : stats["ports"]) {
        PortCounters pc;
        pc.port_id = p["port_id"];
        pc.port = p["dev"];
        for (uint32_t v = 0; v < OOB_VERDICT_MAX; v++)
            if (p["verdicts"].contains(verdict_label(v))) {
                pc.stats.verdict_packets[v] = p["verdicts"][verdict_label(v)]["packets"];
                pc.stats.verdict_bytes[v] = p["verdicts"][verdict_label(v)]["bytes"];
            }
        for (uint32_t r = 0; r < OOB_REASON_MAX; r++)
            pc.stats.reason[r] = p["reasons"].value(reason_label(r), uint64_t{0});
        ports.push_back(pc);
    }
    std::vector<RuleCounters> rules;
    for (const auto &r : stats["rules"]) {
        RuleCounters rc;
        rc.rule_id = r["id"];
        rc.rule = r["rule"];
        rc.stats.packets = r["packets"];
        rc.stats.bytes = r["bytes"];
        rules.push_back(rc);
    }
    std::string text = prometheus_text(ports, rules);
    // liboob sockets: Prometheus histograms (cumulative buckets, upper edges in seconds).
    if (!stats.contains("sockets") || stats["sockets"].empty())
        return text;
    for (const char *h : {"classify_deliver", "send_complete"}) {
        const bool rx = std::string(h) == "classify_deliver";
        const std::string metric = std::string("oobbpf_socket_") + h + "_seconds";
        text += "# HELP " + metric + " " +
                (rx ? "Classifier stamp to delivery to the application, per oob socket."
                    : "Send to TX completion, per oob socket.") +
                "\n# TYPE " + metric + " histogram\n";
        for (const auto &s : stats["sockets"]) {
            const json &x = s[h];
            const std::string labels = "pid=\"" + std::to_string(s["pid"].get<uint32_t>()) +
                                       "\",dev=\"" + s["dev"].get<std::string>() + "\",port=\"" +
                                       std::to_string(s["port"].get<uint32_t>()) + "\"";
            uint64_t cum = 0;
            char le[32];
            for (const auto &b : x["buckets"]) {
                cum += b[1].get<uint64_t>();
                snprintf(le, sizeof(le), "%g", b[0].get<double>() / 1e9);
                text += metric + "_bucket{" + labels + ",le=\"" + le + "\"} " +
                        std::to_string(cum) + "\n";
            }
            // Read while the application runs: keep +Inf at least the last bucket.
            const uint64_t total = std::max(cum, x["count"].get<uint64_t>());
            char sum[32];
            snprintf(sum, sizeof(sum), "%.9f", x["sum_ns"].get<double>() / 1e9);
            text += metric + "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(total) + "\n" +
                    metric + "_sum{" + labels + "} " + sum + "\n" + metric + "_count{" + labels +
                    "} " + std::to_string(total) + "\n";
        }
    }
    return text;
}

}  // namespace

int main(int argc, char **argv) {
    Ctx c;
    CLI::App app{"oobbpf: out-of-band network diversion (OBJECT COMMAND [ARGS])", "oobbpf"};
    app.require_subcommand(1);
    bool version = false;
    app.add_flag("-j,--json", c.json_out, "JSON output");
    app.add_flag("-p,--pretty", c.pretty, "indented JSON output (implies -j)");
    app.add_flag("-v,--verbose", c.verbose, "more detail on failures");
    app.add_option("--socket", c.overrides.socket, "oobbpfd's socket (env OOBBPF_SOCKET)");
    app.add_option("--pin-root", c.overrides.pin_root, "pin root (env OOBBPF_PIN_ROOT)");
    app.add_option("--state-dir", c.overrides.state_dir, "state directory (env OOBBPF_STATE_DIR)");
    app.add_flag("--version", version, "print the version and exit");
    app.require_subcommand(0, 1);

    std::string dev, dev2, file, section, mode, dst, from, oif, rule_file;
    int64_t vid = 0;
    uint32_t mark = 0, rule_id = 0;
    int tos = 0;
    bool force = false, watch = false;
    double interval = 1.0;
    std::string first_token;

    // Keyword arguments (`dev DEV`, `mode native`) are sub-commands with one positional, as in
    // iproute2; several may follow one another.
    auto keyword = [](CLI::App *parent, const char *name, const char *help, auto &value,
                      const char *meta) {
        CLI::App *k = parent->add_subcommand(name, help);
        k->add_option(meta, value, help)->required();
        k->require_subcommand(0, 0);
        return k;
    };

    // ---- port ----
    CLI::App *port = app.add_subcommand("port", "oob ports: devices that carry oob traffic");
    CLI::App *port_add = port->add_subcommand(
        "add",
        "make DEV an oob port (turns diversion on: on DEV, or on the lower device of a "
        "VLAN device)");
    port_add->add_option("DEV", dev, "device")->required();
    port_add->add_flag("--force", force, "replace a foreign XDP program on the device");
    CLI::App *port_del = port->add_subcommand("del", "DEV is an oob port no more");
    port_del->add_option("DEV", dev, "device")->required();
    CLI::App *port_show = port->add_subcommand("show", "list oob ports");
    port_show->add_option("DEV", dev, "only this port");

    // ---- divert ----
    CLI::App *divert = app.add_subcommand("divert", "diversion: devices running the classifier");
    CLI::App *divert_on = divert->add_subcommand("on", "turn diversion on for DEV");
    divert_on->add_option("DEV", dev, "device")->required();
    divert_on->add_flag("--force", force, "replace a foreign XDP program on the device");
    divert_on->require_subcommand(0, 0);
    keyword(divert_on, "mode", "XDP mode: native or generic (default: native, else generic)", mode,
            "MODE")
        ->get_option("MODE")
        ->check(CLI::IsMember({"native", "generic"}));
    CLI::App *divert_off = divert->add_subcommand("off", "turn diversion off for DEV");
    divert_off->add_option("DEV", dev, "device")->required();
    CLI::App *divert_show = divert->add_subcommand("show", "list diverting devices");
    divert_show->add_option("DEV", dev, "only this device");

    // ---- vlan ----
    CLI::App *vlan = app.add_subcommand("vlan", "oob VLAN sets: IP frames on these VIDs divert");
    CLI::App *vlan_add = vlan->add_subcommand("add", "add VID to the global set or DEV's set");
    vlan_add->add_option("VID", vid, "VLAN id, 2..4094")->required();
    vlan_add->add_flag("--force", force, "replace a foreign XDP program on the device");
    vlan_add->require_subcommand(0, 0);
    keyword(vlan_add, "dev", "the set of this (lower) device instead of the global set", dev2,
            "DEV");
    CLI::App *vlan_del = vlan->add_subcommand("del", "remove VID from the global set or DEV's");
    vlan_del->add_option("VID", vid, "VLAN id")->required();
    vlan_del->require_subcommand(0, 0);
    keyword(vlan_del, "dev", "the set of this device", dev2, "DEV");
    CLI::App *vlan_show = vlan->add_subcommand("show", "list oob VLANs");
    vlan_show->add_option("VID", vid, "only this VID");
    vlan_show->require_subcommand(0, 0);
    keyword(vlan_show, "dev", "only the set of this device", dev2, "DEV");

    // ---- rule ----
    const char *grammar =
        "RULE: [dev DEV] [vlan VID] [ip|ip6|ether TYPE] [src PREFIX] [dst PREFIX]\n"
        "      [udp|tcp|icmp|icmp6|proto N] [sport P[-Q]] [dport P[-Q]] [dscp N] [frag]\n"
        "      [prio N] action divert|pass|drop";
    CLI::App *rule = app.add_subcommand("rule", "flow rules");
    CLI::App *rule_add =
        rule->add_subcommand("add", "add a rule, e.g. udp dport 7000 action divert");
    rule_add->add_option("RULE", first_token, "the rule (see below)")->required();
    rule_add->prefix_command();  // the rest of the line is the rule, parsed by the rule library
    rule_add->footer(grammar);
    CLI::App *rule_del = rule->add_subcommand("del", "delete rule ID, or the rule that reads RULE");
    rule_del->add_option("ID|RULE", first_token, "rule id or rule")->required();
    rule_del->prefix_command();
    CLI::App *rule_show = rule->add_subcommand("show", "list rules with their counters");
    rule_show->add_option("ID", rule_id, "only this rule");
    CLI::App *rule_flush = rule->add_subcommand("flush", "delete every rule");
    CLI::App *rule_import = rule->add_subcommand(
        "import",
        "replace the rule set with FILE's, atomically (JSON from export, or one rule "
        "per line)");
    rule_import->add_option("FILE", rule_file, "rule file")->required();
    CLI::App *rule_export = rule->add_subcommand("export", "print the rule set as JSON");

    // ---- selectors ----
    CLI::App *load = app.add_subcommand("load", "load a custom selector (FILE.o) onto DEV");
    load->add_option("DEV", dev, "device")->required();
    load->add_option("FILE", file, "selector object (built with <oobbpf/selector.h>)")->required();
    load->require_subcommand(0, 0);
    keyword(load, "section", "program or section name (when FILE holds several)", section, "NAME");
    CLI::App *unload = app.add_subcommand("unload", "remove DEV's custom selector");
    unload->add_option("DEV", dev, "device")->required();

    // ---- route, neigh ----
    CLI::App *route = app.add_subcommand("route", "learned routes towards oob ports");
    CLI::App *route_show = route->add_subcommand("show", "list learned routes");
    CLI::App *route_resolve = route->add_subcommand(
        "resolve",
        "ask the in-band stack to decide now: DST [from SRC] [mark M] [tos T] [oif DEV]");
    route_resolve->add_option("DST", dst, "destination address")->required();
    route_resolve->require_subcommand(0, 0);
    CLI::App *k_from = keyword(route_resolve, "from", "source address", from, "SRC");
    CLI::App *k_mark = keyword(route_resolve, "mark", "firewall mark", mark, "M");
    CLI::App *k_tos = keyword(route_resolve, "tos", "type of service", tos, "T");
    k_tos->get_option("T")->check(CLI::Range(0, 255));
    CLI::App *k_oif = keyword(route_resolve, "oif", "output device", oif, "DEV");
    CLI::App *neigh = app.add_subcommand("neigh", "learned neighbours of oob ports");
    CLI::App *neigh_show = neigh->add_subcommand("show", "list learned neighbours");

    // ---- stats, status, xsk ----
    CLI::App *stats = app.add_subcommand("stats", "counters per port (verdicts, reasons) and rule");
    stats->add_flag("-w,--watch", watch, "refresh until interrupted, with rates");
    stats->add_option("-i,--interval", interval, "seconds between refreshes (default 1)")
        ->check(CLI::Range(0.1, 3600.0));
    std::string prom_file;
    stats->add_option("--prometheus", prom_file,
                      "write the counters in Prometheus text format to FILE (atomically, for "
                      "node_exporter's textfile collector; - for stdout); with -w, every interval");
    CLI::App *status =
        app.add_subcommand("status", "daemon, kernel features, attach modes, learner, versions");
    CLI::App *xsk = app.add_subcommand("xsk", "oob sockets registered for diverted frames");
    CLI::App *xsk_show = xsk->add_subcommand("show", "list registered AF_XDP sockets");

    // ---- tap ----
    TapOptions tap_o;
    CLI::App *tap = app.add_subcommand(
        "tap",
        "capture DEV's frames as the classifier judged them (verdict, reason, rule, queue) and "
        "the frames liboob sends, as pcapng (-w) or text lines");
    tap->add_option("DEV", tap_o.dev, "a diverting device")->required();
    tap->add_option("-w", tap_o.write, "write pcapng to FILE (- for stdout) instead of text");
    tap->add_option("-c", tap_o.count, "stop after COUNT frames");
    tap->add_option("-s", tap_o.snaplen, "bytes kept per frame (default and most: 2048)")
        ->check(CLI::Range(14, OOB_TAP_SNAP_MAX));
    tap->require_subcommand(0, 0);
    keyword(tap, "verdict", "keep received frames of this verdict: divert, drop, pass, all",
            tap_o.verdict, "VERDICT")
        ->get_option("VERDICT")
        ->check(CLI::IsMember({"divert", "drop", "pass", "all"}));

    // ---- demo ----
    CLI::App *demo = app.add_subcommand(
        "demo", "two namespaces, an oob port, oob and kernel echo side by side; removes all after");
    int demo_count = 20000, demo_size = 64;
    demo->add_option("--count", demo_count, "round trips per path")->check(CLI::Range(1, 10000000));
    demo->add_option("--size", demo_size, "UDP payload bytes")->check(CLI::Range(16, 1472));

    if (argc == 1) {
        std::cout << app.help();
        return 0;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp &e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp &e) {
        return app.exit(e);
    } catch (const CLI::ParseError &e) {
        // One line, as every other failure; --help tells the grammar.
        std::cerr << "oobbpf: " << e.what() << " (see --help)\n";
        return 2;
    }
    if (version) {
        std::cout << "oobbpf " << OOBBPF_VERSION << " (ABI " << OOB_ABI_VERSION << ")\n";
        return 0;
    }
    if (app.get_subcommands().empty()) {
        std::cerr << "oobbpf: an OBJECT is required (see --help)\n";
        return 2;
    }
    if (*demo) {
        // The demo is a script beside the sources; it drives this build's binaries.
        const std::string count = std::to_string(demo_count), size = std::to_string(demo_size);
        execl(OOBBPF_DEMO_SCRIPT, OOBBPF_DEMO_SCRIPT, "--build", OOBBPF_BUILD_TREE, "--count",
              count.c_str(), "--size", size.c_str(), static_cast<char *>(nullptr));
        std::cerr << "oobbpf: cannot run the demo " << OOBBPF_DEMO_SCRIPT << ": "
                  << std::strerror(errno) << "\n";
        return 1;
    }
    // An object without its command: say which commands it has (iproute2 says the same).
    for (CLI::App *obj : {port, divert, vlan, rule, route, neigh, xsk}) {
        if (!*obj || !obj->get_subcommands().empty())
            continue;
        std::string cmds;
        for (const CLI::App *sub : obj->get_subcommands([](CLI::App *) { return true; }))
            cmds += (cmds.empty() ? "" : ", ") + sub->get_name();
        std::cerr << "oobbpf: " << obj->get_name() << " needs a command: " << cmds
                  << " (see oobbpf " << obj->get_name() << " --help)\n";
        return 2;
    }
    if (c.pretty)
        c.json_out = true;
    libbpf_set_print(libbpf_quiet);  // failures come back as one line each

    try {
        c.paths = daemon::resolve_paths(c.overrides, true);

        // ---- port ----
        if (*port_add) {
            json r = c.call("port.add", {{"dev", dev}, {"force", force}});
            c.emit(r, [&] { print_ports(json::array({r})); });
        } else if (*port_del) {
            c.call("port.del", {{"dev", dev}});
        } else if (*port_show) {
            json args = json::object();
            if (!dev.empty())
                args["dev"] = dev;
            json r = show(c, "port.show", args, direct_ports);
            if (!dev.empty() && !c.daemon_opt()) {
                json only = json::array();
                for (const auto &p : r)
                    if (p["dev"] == dev)
                        only.push_back(p);
                if (only.empty())
                    throw Error(dev + " is not an oob port");
                r = only;
            }
            c.emit(r, [&] { print_ports(r); });
        }
        // ---- divert ----
        else if (*divert_on) {
            json args = {{"dev", dev}, {"on", true}, {"force", force}};
            if (!mode.empty())
                args["mode"] = mode;
            json r = c.call("divert.set", args);
            c.emit(r, [&] { print_divert(json::array({r})); });
        } else if (*divert_off) {
            c.call("divert.set", {{"dev", dev}, {"on", false}});
        } else if (*divert_show) {
            json args = json::object();
            if (!dev.empty())
                args["dev"] = dev;
            json r = show(c, "divert.show", args, direct_divert);
            if (!dev.empty() && !c.daemon_opt()) {
                json only = json::array();
                for (const auto &d : r)
                    if (d["dev"] == dev)
                        only.push_back(d);
                if (only.empty())
                    throw Error(dev + " does not divert");
                r = only;
            }
            c.emit(r, [&] { print_divert(r); });
        }
        // ---- vlan ----
        else if (*vlan_add || *vlan_del) {
            json args = {{"vid", vid}};
            if (!dev2.empty())
                args["dev"] = dev2;
            if (*vlan_add)
                args["force"] = force;
            json r = c.call(*vlan_add ? "vlan.add" : "vlan.del", args);
            if (*vlan_add)
                c.emit(r, [&] {
                    r["state"] = "active";
                    print_vlans(json::array({r}));
                });
        } else if (*vlan_show) {
            json args = json::object();
            if (vlan_show->get_option("VID")->count())
                args["vid"] = vid;
            if (!dev2.empty())
                args["dev"] = dev2;
            json r;
            if (c.daemon_opt()) {
                r = c.call("vlan.show", args);
            } else {
                json all = c.direct([&] { return direct_vlans(c.paths); });
                r = json::array();
                for (const auto &v : all)
                    if ((!args.contains("vid") || v["vid"] == vid) &&
                        (!args.contains("dev") || v["dev"] == dev2))
                        r.push_back(v);
            }
            c.emit(r, [&] { print_vlans(r); });
        }
        // ---- rule ----
        else if (*rule_add) {
            std::vector<std::string> tokens = {first_token};
            for (auto &t : rule_add->remaining())
                tokens.push_back(t);
            rules::Rule r = rules::parse(tokens);
            json res = c.call("rule.add", {{"rule", rules::to_json(r)}});
            c.emit(res, [&] {
                std::cout << "rule " << res["id"] << ": " << res["rule"].get<std::string>() << "\n";
            });
        } else if (*rule_del) {
            std::vector<std::string> tokens = {first_token};
            for (auto &t : rule_del->remaining())
                tokens.push_back(t);
            json args;
            if (tokens.size() == 1 &&
                tokens[0].find_first_not_of("0123456789") == std::string::npos &&
                tokens[0].size() < 10)
                args = {{"id", std::stoll(tokens[0])}};
            else
                args = {{"rule", rules::to_json(rules::parse(tokens))}};
            c.call("rule.del", args);
        } else if (*rule_show) {
            json r = rules_now(c);
            if (rule_id) {
                json only = json::array();
                for (const auto &e : r)
                    if (e["id"] == rule_id)
                        only.push_back(e);
                if (only.empty())
                    throw Error("no rule " + std::to_string(rule_id));
                r = only;
            }
            c.emit(r, [&] { print_rules(r); });
        } else if (*rule_flush) {
            json r = c.call("rule.flush");
            (void)r;
        } else if (*rule_import) {
            auto list = read_rule_file(rule_file);
            c.daemon();  // a clear "not running" before anything else
            json r = c.call("rule.replace", {{"rules", rules::to_json(list)}});
            c.emit(r, [&] { std::cout << r["rules"] << " rules installed\n"; });
        } else if (*rule_export) {
            std::cout << specs_for_export(rules_now(c)).dump(2) << "\n";
        }
        // ---- selectors ----
        else if (*load) {
            std::string path = file;
            if (!path.empty() && path[0] != '/') {
                char cwd[4096];
                if (getcwd(cwd, sizeof(cwd)))
                    path = std::string(cwd) + "/" + path;
            }
            json args = {{"dev", dev}, {"file", path}};
            if (!section.empty())
                args["section"] = section;
            json r = c.call("load", args);
            c.emit(r, [&] {
                std::cout << dev << ": selector " << r.value("program", std::string("?"))
                          << " loaded (prog id " << r.value("prog_id", 0u) << ")\n";
            });
        } else if (*unload) {
            c.call("unload", {{"dev", dev}});
        }
        // ---- route, neigh ----
        else if (*route_show) {
            json r = read_routes(c.paths);
            c.emit(r, [&] { print_routes(r); });
        } else if (*route_resolve) {
            json args = {{"dst", dst}};
            if (*k_from)
                args["from"] = from;
            if (*k_mark)
                args["mark"] = mark;
            if (*k_tos)
                args["tos"] = tos;
            if (*k_oif)
                args["oif"] = oif;
            json r = c.call("route.resolve", args);
            c.emit(r, [&] { print_resolved(r); });
        } else if (*neigh_show) {
            json r = read_neighs(c.paths);
            c.emit(r, [&] { print_neighs(r); });
        }
        // ---- stats, status, xsk ----
        else if (*stats) {
            json rules = rules_now(c);
            json now = read_stats(c.paths, rules);
            auto prometheus = [&](const json &j) {
                if (prom_file == "-")
                    std::cout << prometheus_of(j) << std::flush;
                else
                    write_file_atomic(prom_file, prometheus_of(j));
            };
            if (!prom_file.empty()) {
                for (;;) {
                    prometheus(now);
                    if (!watch)
                        break;
                    std::this_thread::sleep_for(std::chrono::duration<double>(interval));
                    now = read_stats(c.paths, rules);
                }
            } else if (!watch) {
                c.emit(now, [&] { print_stats(now, nullptr, 0); });
            } else {
                const bool tty = isatty(STDOUT_FILENO);
                auto t0 = std::chrono::steady_clock::now();
                json prev;
                for (;;) {
                    auto t = std::chrono::steady_clock::now();
                    double dt = std::chrono::duration<double>(t - t0).count();
                    if (c.json_out) {
                        json line = now;
                        line["time"] = static_cast<int64_t>(time(nullptr));
                        std::cout << line.dump() << std::endl;
                    } else {
                        if (tty)
                            std::cout << "\033[H\033[2J";
                        print_stats(now, prev.is_null() ? nullptr : &prev, dt);
                        std::cout << std::endl;
                    }
                    prev = now;
                    t0 = t;
                    std::this_thread::sleep_for(std::chrono::duration<double>(interval));
                    now = read_stats(c.paths, rules);
                }
            }
        } else if (*status) {
            json r;
            if (c.daemon_opt()) {
                r = c.call("status");
                r["daemon"]["running"] = true;
            } else {
                r = direct_status(c.paths);
            }
            c.emit(r, [&] { print_status(r); });
        } else if (*xsk_show) {
            json r = show(c, "xsk.show", json::object(), direct_xsks);
            c.emit(r, [&] { print_xsks(r); });
        } else if (*tap) {
            return run_tap(c, tap_o);
        }
        return 0;
    } catch (const std::exception &e) {
        std::string msg = e.what();
        auto nl = msg.find('\n');
        std::cerr << "oobbpf: " << (nl == std::string::npos ? msg : msg.substr(0, nl)) << "\n";
        // The long story (a verifier log) only when asked for.
        if (auto *re = dynamic_cast<const daemon::RemoteError *>(&e);
            re && c.verbose && !re->details().empty())
            std::cerr << re->details() << (re->details().back() == '\n' ? "" : "\n");
        return 1;
    }
}
