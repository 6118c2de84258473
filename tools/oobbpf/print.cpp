// SPDX-License-Identifier: MIT
// Text output: each printer shows what -j would print, for people.
#include "cli.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

namespace oobbpf::cli {

namespace {

std::string str(const json &j, const char *k, const std::string &dflt = "-") {
    if (!j.contains(k) || j[k].is_null())
        return dflt;
    if (j[k].is_string())
        return j[k].get<std::string>().empty() ? dflt : j[k].get<std::string>();
    if (j[k].is_boolean())
        return j[k].get<bool>() ? "yes" : "no";
    return j[k].dump();
}

std::string join(const json &arr, const char *sep = ", ") {
    std::string s;
    for (const auto &e : arr)
        s += (s.empty() ? "" : sep) + (e.is_string() ? e.get<std::string>() : e.dump());
    return s;
}

std::string human(uint64_t v) {
    char buf[32];
    if (v >= 10000000000ULL)
        snprintf(buf, sizeof(buf), "%.1fG", static_cast<double>(v) / 1e9);
    else if (v >= 10000000ULL)
        snprintf(buf, sizeof(buf), "%.1fM", static_cast<double>(v) / 1e6);
    else
        snprintf(buf, sizeof(buf), "%llu", static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace

void Table::print(std::ostream &os) const {
    std::vector<size_t> w(head_.size(), 0);
    for (size_t i = 0; i < head_.size(); i++)
        w[i] = head_[i].size();
    for (const auto &r : rows_)
        for (size_t i = 0; i < r.size() && i < w.size(); i++)
            w[i] = std::max(w[i], r[i].size());
    auto line = [&](const std::vector<std::string> &cells) {
        std::string s;
        for (size_t i = 0; i < cells.size() && i < w.size(); i++) {
            s += cells[i];
            if (i + 1 < cells.size())
                s += std::string(w[i] - cells[i].size() + 2, ' ');
        }
        os << s << "\n";
    };
    line(head_);
    for (const auto &r : rows_)
        line(r);
}

void print_ports(const json &j) {
    if (j.empty()) {
        std::cout << "no oob ports\n";
        return;
    }
    Table t({"dev", "port", "kind", "lower", "vid", "state"});
    for (const auto &p : j)
        t.row({str(p, "dev"), str(p, "port_id"), str(p, "kind"), str(p, "lower"),
               p.value("vid", 0) ? str(p, "vid") : "-", str(p, "state")});
    t.print(std::cout);
}

void print_divert(const json &j) {
    if (j.empty()) {
        std::cout << "no device diverts\n";
        return;
    }
    Table t({"dev", "ifindex", "mode", "via", "slot", "flags", "why"});
    for (const auto &d : j)
        t.row({str(d, "dev"), str(d, "ifindex"), str(d, "mode"), str(d, "via"), str(d, "slot"),
               str(d, "flags"), d.contains("why") ? join(d["why"]) : "-"});
    t.print(std::cout);
}

void print_vlans(const json &j) {
    if (j.empty()) {
        std::cout << "no oob VLANs\n";
        return;
    }
    Table t({"vid", "set", "port", "state"});
    for (const auto &v : j)
        t.row({str(v, "vid"), v["dev"].is_null() ? "global" : str(v, "dev"), str(v, "port_id"),
               str(v, "state")});
    t.print(std::cout);
}

void print_rules(const json &j) {
    if (j.empty()) {
        std::cout << "no rules\n";
        return;
    }
    Table t({"id", "rule", "packets", "bytes", "state"});
    for (const auto &r : j)
        t.row({str(r, "id"), str(r, "rule"), r.contains("packets") ? human(r["packets"]) : "-",
               r.contains("bytes") ? human(r["bytes"]) : "-", str(r, "state")});
    t.print(std::cout);
}

void print_stats(const json &j, const json *prev, double interval_s) {
    auto rate = [&](uint64_t now, uint64_t before) {
        char buf[32];
        snprintf(
            buf, sizeof(buf), "%.0f/s",
            interval_s > 0 ? static_cast<double>(now - std::min(now, before)) / interval_s : 0.0);
        return std::string(buf);
    };
    auto find_prev = [&](const char *list, const char *key, const json &v) -> const json * {
        if (!prev)
            return nullptr;
        for (const auto &e : (*prev)[list])
            if (e[key] == v)
                return &e;
        return nullptr;
    };
    std::vector<std::string> head = {"port", "dev", "verdict", "packets", "bytes"};
    if (prev)
        head.push_back("rate");
    Table t(head);
    for (const auto &p : j["ports"]) {
        const json *pp = find_prev("ports", "port_id", p["port_id"]);
        const std::string dev = p["dev"].get<std::string>().empty() ? "(no port)" : str(p, "dev");
        for (const char *verdict : {"pass", "divert", "drop"}) {
            if (!p["verdicts"].contains(verdict))
                continue;
            const json &c = p["verdicts"][verdict];
            std::vector<std::string> row = {str(p, "port_id"), dev, verdict, human(c["packets"]),
                                            human(c["bytes"])};
            if (prev)
                row.push_back(pp ? rate(c["packets"], (*pp)["verdicts"][verdict]["packets"]) : "-");
            t.row(row);
        }
    }
    t.print(std::cout);
    bool any = false;
    for (const auto &p : j["ports"]) {
        if (p["reasons"].empty())
            continue;
        if (!any)
            std::cout << "\nreasons\n";
        any = true;
        std::string line;
        for (auto &[r, n] : p["reasons"].items())
            line += (line.empty() ? "" : "  ") + r + " " + human(n);
        const std::string dev = p["dev"].get<std::string>().empty() ? "(no port)" : str(p, "dev");
        std::cout << "  " << dev << ": " << line << "\n";
    }
    if (!j["rules"].empty()) {
        std::cout << "\n";
        std::vector<std::string> rhead = {"rule", "packets", "bytes"};
        if (prev)
            rhead.push_back("rate");
        rhead.push_back("match");
        Table r(rhead);
        for (const auto &e : j["rules"]) {
            const json *pe = find_prev("rules", "id", e["id"]);
            std::vector<std::string> row = {str(e, "id"), human(e["packets"]), human(e["bytes"])};
            if (prev)
                row.push_back(pe ? rate(e["packets"], (*pe)["packets"]) : "-");
            row.push_back(str(e, "rule"));
            r.row(row);
        }
        r.print(std::cout);
    }
    if (j.contains("sockets") && !j["sockets"].empty()) {
        // Latency per oob socket (liboob): classifier stamp -> recv(), send -> TX completion.
        auto us = [](const json &ns) {
            char b[32];
            snprintf(b, sizeof(b), "%.1f", ns.get<double>() / 1000.0);
            return std::string(b);
        };
        std::cout << "\nsockets (latency in us: p50 / p99 / max)\n";
        Table st({"pid", "dev", "port", "rx", "classify->deliver", "tx", "send->complete"});
        for (const auto &e : j["sockets"]) {
            auto h = [&](const json &x) {
                return x["count"].get<uint64_t>()
                           ? us(x["p50_ns"]) + " / " + us(x["p99_ns"]) + " / " + us(x["max_ns"])
                           : std::string("-");
            };
            st.row({str(e, "pid"), str(e, "dev"), str(e, "port"), human(e["rx_packets"]),
                    h(e["classify_deliver"]), human(e["tx_packets"]), h(e["send_complete"])});
        }
        st.print(std::cout);
    }
}

void print_routes(const json &j) {
    if (j.empty()) {
        std::cout << "no learned routes\n";
        return;
    }
    for (const auto &r : j) {
        std::ostringstream s;
        s << str(r, "dst");
        for (const char *k : {"from", "mark", "tos", "oif"})
            if (r.contains(k))
                s << " " << k << " " << str(r, k);
        s << " dev " << str(r, "dev");
        if (r.contains("vid"))
            s << " lower " << str(r, "lower") << " vlan " << str(r, "vid");
        if (r.contains("via"))
            s << " via " << str(r, "via");
        if (r.contains("src"))
            s << " src " << str(r, "src");
        if (r.contains("mtu"))
            s << " mtu " << str(r, "mtu");
        s << " table " << str(r, "table");
        if (r.contains("age_ms"))
            s << " age " << r["age_ms"].get<uint64_t>() / 1000 << "s";
        if (!r.value("complete", true))
            s << " incomplete";
        std::cout << s.str() << "\n";
    }
}

void print_neighs(const json &j) {
    if (j.empty()) {
        std::cout << "no learned neighbours\n";
        return;
    }
    for (const auto &n : j)
        std::cout << str(n, "addr") << " dev " << str(n, "dev") << " lladdr " << str(n, "lladdr")
                  << " " << str(n, "state") << "\n";
}

void print_resolved(const json &j) {
    if (j.contains("text") && j["text"].is_string()) {
        std::string t = j["text"].get<std::string>();
        while (!t.empty() && t.back() == '\n')
            t.pop_back();
        std::cout << t << "\n";
        return;
    }
    std::cout << j.dump(2) << "\n";
}

void print_xsks(const json &j) {
    if (j.empty()) {
        std::cout << "no oob sockets registered\n";
        return;
    }
    Table t({"dev", "queue", "index", "pid"});
    for (const auto &x : j)
        t.row({str(x, "dev"), str(x, "queue"), str(x, "index"), str(x, "pid")});
    t.print(std::cout);
}

void print_status(const json &j) {
    const json &d = j["daemon"];
    if (d.value("running", true))
        std::cout << "oobbpfd     running, pid " << str(d, "pid") << "\n";
    else
        std::cout << "oobbpfd     not running (nothing answers on " << str(d, "socket") << ")\n";
    std::cout << "paths       pin root " << str(d, "pin_root") << ", socket " << str(d, "socket")
              << ", state " << str(d, "state_dir") << "\n";
    const json &v = j["versions"];
    std::cout << "versions    oobbpf " << str(v, "oobbpf") << ", ABI " << str(v, "abi")
              << ", protocol " << str(v, "protocol") << ", libbpf " << str(v, "libbpf")
              << ", libxdp " << str(v, "libxdp") << ", kernel " << str(v, "kernel") << "\n";
    if (j.contains("features")) {
        std::cout << "features\n";
        for (const char *f : {"xdp", "freplace", "fentry", "tp_btf", "xsk_diag"}) {
            if (!j["features"].contains(f))
                continue;
            const json &p = j["features"][f];
            std::string line = p.value("ok", false) ? "yes" : "no (" + str(p, "error") + ")";
            printf("  %-9s %s\n", f, line.c_str());
        }
    }
    if (j.contains("attach"))
        std::cout << "attach      " << j["attach"].get<std::string>() << "\n";
    if (j.contains("learner")) {
        const json &l = j["learner"];
        std::cout << "learner     " << str(l, "backend");
        if (l.contains("why"))
            std::cout << " (" << join(l["why"], "; ") << ")";
        std::cout << "\n";
    }
    if (j.contains("selectors"))
        std::cout << "selectors   " << str(j, "selectors") << "\n";
    if (j.contains("rules") && j["rules"].is_object() && !j["rules"].empty()) {
        const json &r = j["rules"];
        std::cout << "rules       " << str(r, "rules") << " active, " << str(r, "masks")
                  << " masks, " << str(r, "entries") << " entries, generation "
                  << str(r, "generation") << "\n";
    }
    std::cout << "devices\n";
    if (j["devices"].empty())
        std::cout << "  none divert\n";
    for (const auto &e : j["devices"]) {
        printf("  %-15s ifindex %-4s %-8s %-17s slot %-3s %s%s\n", str(e, "dev").c_str(),
               str(e, "ifindex").c_str(), str(e, "mode").c_str(), str(e, "via").c_str(),
               str(e, "slot").c_str(), str(e, "flags").c_str(),
               e.contains("problem") ? ("  (" + str(e, "problem") + ")").c_str() : "");
    }
    if (j.contains("problems") && !j["problems"].empty()) {
        std::cout << "problems\n";
        for (const auto &p : j["problems"])
            std::cout << "  " << str(p, "problem") << "\n";
    }
}

}  // namespace oobbpf::cli
