// SPDX-License-Identifier: MIT
// The oobbpf CLI: shared context and the pieces main.cpp wires to CLI11.
#pragma once

#include "paths.h"
#include "protocol.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace oobbpf::cli {

using nlohmann::json;

struct Ctx {
    bool json_out = false;
    bool pretty = false;
    bool verbose = false;
    daemon::PathOverrides overrides;
    daemon::Paths paths;  // resolved once options are parsed

    // The daemon of this namespace, or nullptr when none runs (other failures throw).
    daemon::Client *daemon_opt();
    // The daemon, or oobbpf::Error "oobbpfd is not running (...)".
    daemon::Client &daemon();
    // One request; warnings go to stderr, a failure throws its one line.
    json call(const std::string &cmd, const json &args = json::object());

    // One printing path for text and JSON: j is what -j prints, text() prints the same for people.
    void emit(const json &j, const std::function<void()> &text) const;
    // A show command's reading of the pinned maps, when the daemon is down: on success a note
    // on stderr says so; a failure is one line saying the daemon is down and why nothing shows.
    json direct(const std::function<json()> &read) const;

  private:
    std::optional<daemon::Client> client_;
    bool tried_ = false;
};

// Column-aligned text, in the spirit of `ip -br` and bpftool's plain output.
class Table {
  public:
    explicit Table(std::vector<std::string> head) : head_(std::move(head)) {}
    void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
    void print(std::ostream &os) const;
    bool empty() const { return rows_.empty(); }

  private:
    std::vector<std::string> head_;
    std::vector<std::vector<std::string>> rows_;
};

// ---- what the pinned maps say (daemon down, and for stats/route/neigh always) ----------------
json direct_ports(const daemon::Paths &p);
json direct_divert(const daemon::Paths &p);
json direct_vlans(const daemon::Paths &p);
json direct_rules(const daemon::Paths &p);  // from the saved configuration, counters from maps
json direct_status(const daemon::Paths &p);
json direct_xsks(const daemon::Paths &p);
json read_stats(const daemon::Paths &p, const json &rules);  // with "sockets"
// liboob sockets of this pin root with their latency histograms (liboob/sockstats.h).
json read_sockets(const daemon::Paths &p);
json read_routes(const daemon::Paths &p);
json read_neighs(const daemon::Paths &p);

// ---- text printers (one per show command; they print what -j would) -----------------------
void print_ports(const json &j);
void print_divert(const json &j);
void print_vlans(const json &j);
void print_rules(const json &j);
void print_stats(const json &j, const json *prev, double interval_s);
void print_routes(const json &j);
void print_neighs(const json &j);
void print_status(const json &j);
void print_xsks(const json &j);
void print_resolved(const json &j);

std::string ifname(uint32_t ifindex);

// ---- tap -------------------------------------------------------------------------------------
struct TapOptions {
    std::string dev;
    std::string write;     // pcapng file, "-" for stdout; empty: text lines
    uint64_t count = 0;    // 0: until interrupted
    uint32_t snaplen = 0;  // 0: OOB_TAP_SNAP_MAX
    std::string verdict = "all";
};
// Runs a tap until done; returns the exit status. Throws oobbpf::Error for what stops it early.
int run_tap(Ctx &c, const TapOptions &o);

}  // namespace oobbpf::cli
