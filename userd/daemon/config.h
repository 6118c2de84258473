// SPDX-License-Identifier: MIT
// The daemon's configuration: what the administrator asked for, by device name (ifindexes change
// when devices come and go; names are what people configure). Saved atomically after every
// change (write a temporary file, fsync, rename, fsync the directory) and re-applied at start.
//
//   {"version":1,
//    "devices":{"eth0":{"divert":true,"mode":"native"}},      explicit diversion (mode optional)
//    "ports":{"eth0":{"id":1},"eth0.42":{"id":2}},            oob ports and their stable port ids
//    "vlans":[{"vid":42,"dev":"eth0","id":3},{"vid":7,"id":4}], VLAN sets (no dev: the global set)
//    "rules":[{...rules::to_json...}],
//    "selectors":{"eth0":{"file":"/path/f.o","section":"xdp.frags","prog_id":42}}}
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace oobbpf::daemon {

constexpr int kConfigVersion = 1;

struct DevConf {
    bool divert = false;              // diversion asked for explicitly (divert on)
    std::optional<std::string> mode;  // "native" | "generic"; none: native, else generic
    bool operator==(const DevConf &) const = default;
};

struct PortConf {
    uint32_t id = 0;  // 1..OOB_MAX_PORTS-1, the index of its statistics
    bool operator==(const PortConf &) const = default;
};

struct VlanConf {
    uint16_t vid = 0;
    std::string dev;  // empty: the global set
    uint32_t id = 0;  // port id of frames admitted through this membership
    bool operator==(const VlanConf &) const = default;
};

struct SelectorConf {
    std::string file;
    std::string section;
    // The program that was installed from file when this was saved (0: not known). A daemon
    // killed between a replacement's slot swap and its save leaves another program in the slot
    // than the configuration names; at start, a slot whose program is not this one is loaded
    // again from file, so what runs is what the configuration says.
    uint32_t prog_id = 0;
    bool operator==(const SelectorConf &) const = default;
};

struct Config {
    std::map<std::string, DevConf> devices;
    std::map<std::string, PortConf> ports;
    std::vector<VlanConf> vlans;
    nlohmann::json rules = nlohmann::json::array();  // rules::to_json form, with ids
    std::map<std::string, SelectorConf> selectors;
    bool operator==(const Config &) const = default;
};

nlohmann::json to_json(const Config &c);
// Throws oobbpf::Error naming what is wrong in the file.
Config config_from_json(const nlohmann::json &j);

// Missing file: an empty configuration. A file that cannot be parsed: an error (never silently
// replaced by an empty configuration, which the next save would make permanent).
Config load_config(const std::string &path);
void save_config(const std::string &path, const Config &c);

// Writes data to path atomically and durably: temporary file in the same directory, fsync,
// rename over path, fsync of the directory. Creates the directory (0700) when missing; an
// existing one keeps its mode.
void write_file_atomic(const std::string &path, const std::string &data);

}  // namespace oobbpf::daemon
