// SPDX-License-Identifier: MIT
// Flow rules: the rule model, the CLI grammar, the JSON form, validation, and compilation into
// the classifier's tuple-space tables (include/oobbpf/abi.h: oob_rule_key/val/masks).
//
// Grammar (keywords exact, any order, `action` required):
//   [dev DEV] [vlan VID] [ip | ip6 | ether TYPE] [src PREFIX] [dst PREFIX]
//   [udp | tcp | icmp | icmp6 | proto N] [sport P[-Q]] [dport P[-Q]] [dscp N] [frag]
//   [prio N] action divert|pass|drop
// e.g. `udp dport 7000 action divert`, `dport 7001-7010 action divert`,
//      `dst 10.0.0.0/8 action pass`, `vlan 42 prio 10 action drop`.
#pragma once

#include "tables.h"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace oobbpf::rules {

enum class Action : uint32_t { Pass = OOB_PASS, Divert = OOB_DIVERT, Drop = OOB_DROP };

struct Prefix {
    int family = 4;  // 4 or 6
    std::array<uint8_t, 16> addr{};
    uint8_t len = 0;
    bool operator==(const Prefix &) const = default;
};

struct PortRange {
    uint16_t lo = 0, hi = 0;
    bool operator==(const PortRange &) const = default;
};

constexpr uint32_t kDefaultPrio = 100;

struct Rule {
    uint32_t id = 0;               // assigned by the daemon, 1..OOB_MAX_RULES-1; 0 before
    uint32_t prio = kDefaultPrio;  // lower wins
    Action action = Action::Pass;
    std::optional<std::string> dev;   // ingress port device ("eth0", "eth0.42")
    std::optional<uint16_t> vlan;     // 2..4094
    std::optional<uint16_t> l3proto;  // ethertype, host order
    std::optional<Prefix> src, dst;
    std::optional<uint8_t> l4proto;
    std::optional<PortRange> sport, dport;
    std::optional<uint8_t> dscp;  // 0..63
    bool frag = false;            // matches fragments only (explicit)
    bool operator==(const Rule &) const = default;
};

// Highest priority number a rule may carry (0xffffffff is the search's "no match" sentinel).
constexpr uint32_t kMaxPrio = 0xfffffffeU;

// Parse one rule from CLI tokens. Throws oobbpf::Error with one clear line.
Rule parse(const std::vector<std::string> &tokens);
// Canonical CLI form; parse(split(format(r))) == r (id aside).
std::string format(const Rule &r);
// Whitespace-separated tokens of a rule written as one string.
std::vector<std::string> split(const std::string &line);

// Checks one rule on its own (ranges, prefixes, fields that contradict each other); parse() and
// from_json() call it. Throws oobbpf::Error.
void check(const Rule &r);

nlohmann::json to_json(const Rule &r);
Rule from_json(const nlohmann::json &j);  // throws oobbpf::Error
nlohmann::json to_json(const std::vector<Rule> &rs);
std::vector<Rule> list_from_json(const nlohmann::json &j);

// Set-wide validation (throws oobbpf::Error naming the rules involved): two rules of the same
// priority that can match the same frame, more distinct masks than OOB_MAX_MASKS, more entries
// after range expansion than the tables hold, ...
void validate(const std::vector<Rule> &rs);

// Where a port device's frames arrive: the lower device and the VID (0 for an untagged port).
struct PortRef {
    uint32_t lower_ifindex = 0;
    uint16_t vid = 0;
};
using Resolver = std::function<std::optional<PortRef>(const std::string &dev)>;

// As above, with devices resolved: `dev eth0.42` and `dev eth0 vlan 42` are then the same port,
// and a `vlan` that contradicts its device's VID is an error.
void validate(const std::vector<Rule> &rs, const Resolver &resolve);

// What compile() made of a rule set.
struct CompileInfo {
    uint32_t rules = 0;
    uint32_t masks = 0;            // distinct masks (tuples) searched per frame, at most
    uint32_t entries = 0;          // hash entries after expansion and deduplication
    uint32_t natural_masks = 0;    // masks before prefix lengths were merged
    uint32_t natural_entries = 0;  // entries before merging (ranges as minimal prefix covers)
};

struct CompileOptions {
    // Merge masks beyond what the limits require, while the entries stay within a soft budget
    // (twice the natural count, or 4096 more): fewer masks, fewer hash lookups per frame.
    // Off, masks are merged only to fit OOB_MAX_MASKS.
    bool merge_for_speed = true;
};

// Compile into one generation's image (tuples 0..masks.count-1). Port ranges are expanded into
// prefixes. Throws oobbpf::Error when a device does not resolve or a limit is exceeded.
RuleSetImage compile(const std::vector<Rule> &rs, const Resolver &resolve,
                     CompileInfo *info = nullptr, const CompileOptions &opts = {});

}  // namespace oobbpf::rules
