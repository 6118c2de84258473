// SPDX-License-Identifier: MIT
// The route and neighbour learner the daemon owns (docs/routes.md).
//
// It records every routing decision the in-band stack takes towards an oob port in the pinned
// `routes` map, keyed by the decided flow (namespace, destination, source, mark, tos, output
// device), with what egress needs (output device, lower device and VLAN id, gateway, preferred
// source, MTU, table); mirrors the neighbours of oob ports into `neighs`; keeps both in the
// lock-free cache tables the oob send path reads (route_cache.h); and invalidates or updates
// entries when routes, rules, addresses, links or neighbours change.
//
//   Learner l(cfg);          // cfg: pin root, oob ports, back-end choice
//   l.start();               // probes tp_btf -> kmod -> netlink (kmod first when the module
//                            // is loaded); l.backend() says which runs
//   l.resolve(rq);           // `oobbpf route resolve DST [from SRC] [mark M] [tos T] [oif DEV]`
//   l.set_ports(ports);      // ports added or removed at run time
//   l.stop();                // links detached, maps stay pinned (the oob path keeps reading)
#pragma once

#include "backend.h"
#include "route_cache.h"

#include <nlohmann/json.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace oobbpf::learn {

struct Config {
    std::string pin_root = OOB_PIN_ROOT_DEFAULT;
    // "auto" probes tp_btf, kmod, netlink in this order (kmod first when the module is loaded:
    // auto_order() in kmod_backend.h) and takes the first that starts; naming one of them
    // starts exactly that one or fails.
    std::string backend = "auto";
    std::vector<PortDev> ports;
    // The network namespace to learn in, as a path (/run/netns/NAME, /proc/PID/ns/net); empty:
    // the namespace of the thread calling start().
    std::string netns;
    KmodFactory kmod;  // empty: the kmod back-end is not linked in
    std::function<void(const std::string &)> log;
    // Revalidation after a route/rule/address/link change starts once changes have been quiet
    // for `settle`, and at the latest `settle_max` after the first one.
    std::chrono::milliseconds settle{10};
    std::chrono::milliseconds settle_max{50};
    // Re-confirm (NTF_USE) a next hop of a learned route when the in-band stack lets it go
    // STALE, so that the oob path, which the kernel never sees using it, keeps a live entry.
    bool refresh_neighs = true;
    // Flows seen decided but not (or no longer) towards an oob port, re-evaluated on changes.
    size_t max_watched = 4096;
};

struct ResolveRequest {
    uint8_t family = 2;  // AF_INET or AF_INET6
    std::array<uint8_t, 16> dst{};
    std::optional<std::array<uint8_t, 16>> src;
    uint32_t mark = 0;
    uint8_t tos = 0;
    std::string oif;    // device name; empty: any
    bool neigh = true;  // also resolve the next hop's link-layer address
    std::chrono::milliseconds timeout{3000};
    bool operator==(const ResolveRequest &) const = default;
};

struct Resolved {
    oob_route_key key{};
    oob_route route{};
    std::string dev;                 // route.oif
    std::string lower_dev;           // route.lower_ifindex
    std::string oif_dev;             // key.oif ("" when 0)
    oob_neigh_key nh{};              // the next hop
    std::optional<oob_neigh> neigh;  // its entry; empty when it did not resolve in time
    uint16_t neigh_state = 0;        // in-band NUD_* state when neigh is empty (0: no entry)
};

struct Stats {
    uint64_t decisions = 0;      // flows reported by the back-end
    uint64_t learned = 0;        // entries added
    uint64_t updated = 0;        // entries changed in place
    uint64_t removed = 0;        // entries invalidated
    uint64_t revalidations = 0;  // passes over all known flows
    uint64_t resyncs = 0;        // full resynchronisations after a netlink overrun
    uint64_t neigh_updates = 0;
    uint64_t neigh_removed = 0;
    uint64_t neigh_refreshes = 0;
    uint64_t dropped = 0;  // decisions the back-end lost (ring buffer full)
    uint64_t last_revalidation_ns = 0;
    size_t routes = 0, neighs = 0, watched = 0;
};

class Learner {
  public:
    explicit Learner(Config cfg);
    ~Learner();  // stop()
    Learner(const Learner &) = delete;
    Learner &operator=(const Learner &) = delete;

    // Opens or creates the pinned maps, adopts their entries (a restarted daemon), starts a
    // back-end and the monitor thread. Throws oobbpf::Error when nothing can start.
    void start();
    // Detaches the back-end and stops the thread. The maps stay pinned with their entries:
    // the oob path keeps sending while the daemon restarts, without invalidation meanwhile.
    void stop();
    bool running() const;

    const std::string &backend() const;  // "tp_btf", "kmod" or "netlink" once started
    // Why back-ends earlier in the probe order did not start ("tp_btf: ...: Operation not
    // permitted"), for `oobbpf status`.
    const std::vector<std::string> &probe_notes() const;
    uint32_t netns() const;

    void set_ports(std::vector<PortDev> ports);

    // Asks the in-band stack to decide for this flow now (the whole RPDB applies: the
    // selectors are passed to the kernel), records the decision and resolves the next hop.
    // Throws oobbpf::Error when there is no route or it does not lead to an oob port.
    Resolved resolve(const ResolveRequest &rq);

    // Processes what the kernel reported so far and revalidates now if a change is pending.
    void settle();
    Stats stats() const;
    // Every learned route with device names and its next hop's neighbour entry, as resolve()
    // returns them (`oobbpf route show`).
    std::vector<Resolved> entries() const;
    std::vector<std::pair<oob_route_key, oob_route>> routes() const;
    std::vector<std::pair<oob_neigh_key, oob_neigh>> neighs() const;
    std::string dev_name(uint32_t ifindex) const;  // "" when unknown

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// `oobbpf route resolve` support for the CLI: DST [from SRC] [mark M] [tos T] [oif DEV].
// Throws oobbpf::Error naming the bad token.
ResolveRequest parse_resolve_args(const std::vector<std::string> &args);
// One printing path for text and JSON, in the spirit of `ip route get`:
//   10.2.0.9 via 10.1.0.1 dev eth0.42 lower eth0 vlan 42 src 10.1.0.2 mtu 1500 table 100
//       neigh 10.1.0.1 lladdr 02:00:00:00:00:01 REACHABLE
std::string to_text(const Resolved &r);
nlohmann::json to_json(const Resolved &r);
std::string nud_state_name(uint16_t state);
// The learner's part of `oobbpf status`: back-end, why others did not start, counters.
nlohmann::json status_json(const Learner &l);
// Text form of an address in a key (4 or 16 bytes by family).
std::string addr_text(uint8_t family, const __be32 *addr);

}  // namespace oobbpf::learn
