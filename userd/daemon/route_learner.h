// SPDX-License-Identifier: MIT
// The daemon's seam for route and neighbour learning (DESIGN.md "Route learning back-ends").
//
// A back-end (tp_btf, kmod, netlink) implements Learner; the learning library registers a factory
// per back-end in a LearnerRegistry: it provides the header daemon_learners.h (on the include path
// of the oobbpf_learn target) declaring
//     namespace oobbpf::learn { void register_learners(oobbpf::daemon::LearnerRegistry &); }
// and oobbpfd calls it when that header is found (backends.cpp). The daemon picks one at start
// (`--learner NAME`, default auto: the first registered whose factory succeeds, in order of
// preference), tells it about the oob ports whenever they change, polls its fds, ticks it once a
// second, forwards `route resolve` to it, and reports its name and status in `oobbpf status`.
//
// The learner writes the pinned maps <pin root>/routes and <pin root>/neighs (OOB_PIN_ROUTES,
// OOB_PIN_NEIGHS); `oobbpf route show` and `oobbpf neigh show` read them directly, with or without
// the daemon, and `oobbpfd --cleanup` removes them.
#pragma once

#include "bpf_tables.h"
#include "paths.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace oobbpf::daemon {

// An oob port as the learner needs it: routing decisions towards these devices are learned.
struct PortInfo {
    std::string dev;
    uint32_t ifindex = 0;        // the port device (eth0.42 for a VLAN port)
    uint32_t lower_ifindex = 0;  // where frames leave (== ifindex for plain ports)
    uint16_t vid = 0;
    uint32_t port_id = 0;
};

// `oobbpf route resolve DST [from SRC] [mark M] [tos T] [oif DEV]`, as typed.
struct ResolveRequest {
    std::string dst;
    std::optional<std::string> from;
    std::optional<uint32_t> mark;
    std::optional<uint8_t> tos;
    std::optional<std::string> oif;
};

class Learner {
  public:
    virtual ~Learner() = default;
    // "tp_btf", "kmod" or "netlink".
    virtual std::string backend() const = 0;
    // Anything worth showing in `oobbpf status` (entries, last error, ...).
    virtual nlohmann::json status() const { return nlohmann::json::object(); }
    // The complete set of oob ports, after every change (and once at start).
    virtual void ports_changed(const std::vector<PortInfo> &ports) = 0;
    // File descriptors the daemon polls for the learner; on_readable() when one is readable.
    virtual std::vector<int> fds() const { return {}; }
    virtual void on_readable(int /*fd*/) {}
    // Once a second: expiry, retries.
    virtual void tick() {}
    // Ask the in-band stack to decide now; returns the learned entry (with device names).
    // Throws oobbpf::Error with one clear line.
    virtual nlohmann::json resolve(const ResolveRequest &r) = 0;
};

struct LearnerContext {
    Paths paths;
    MapFds maps;                    // the classifier's maps (ports, devs)
    uint64_t netns_inode = 0;       // for oob_route_key.netns
    bool tp_btf_available = false;  // from the daemon's probes
};

class LearnerRegistry {
  public:
    // A factory throws oobbpf::Error when its back-end cannot run here (auto moves on).
    using Factory = std::function<std::unique_ptr<Learner>(const LearnerContext &)>;
    void add(const std::string &name, Factory f) { entries_.push_back({name, std::move(f)}); }
    std::vector<std::string> names() const {
        std::vector<std::string> n;
        for (const auto &e : entries_)
            n.push_back(e.name);
        return n;
    }
    // choice "auto": the first that starts, in registration order. "none": nullptr.
    // Failures of tried back-ends are appended to why. Throws when a named choice fails.
    std::unique_ptr<Learner> create(const std::string &choice, const LearnerContext &ctx,
                                    std::vector<std::string> &why) const;

    // `oobbpfd --cleanup`: each back-end removes the pins it made beyond routes and neighs
    // (which the daemon removes itself). Returns lines for the user.
    using Cleanup = std::function<std::vector<std::string>(const Paths &)>;
    void add_cleanup(Cleanup c) { cleanups_.push_back(std::move(c)); }
    std::vector<std::string> cleanup(const Paths &p) const {
        std::vector<std::string> out;
        for (const auto &c : cleanups_)
            for (auto &l : c(p))
                out.push_back(std::move(l));
        return out;
    }

  private:
    struct Entry {
        std::string name;
        Factory factory;
    };
    std::vector<Entry> entries_;
    std::vector<Cleanup> cleanups_;
};

// Registers the back-ends this oobbpfd was built with (none without userd/learn).
void register_builtin_learners(LearnerRegistry &r);

}  // namespace oobbpf::daemon
