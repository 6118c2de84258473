// SPDX-License-Identifier: MIT
// The seam between the learner and its back-ends (DESIGN.md "Route learning back-ends").
//
// A back-end only observes: it tells the learner which flows the in-band stack decided towards
// an oob port. The learner does the rest the same way whichever back-end runs — it asks the
// kernel for the complete decision (RTM_GETROUTE with the flow's selectors), keeps only
// decisions towards oob ports, writes the maps and the caches, mirrors neighbours, and
// revalidates on every route, rule, address, link and neighbour change. That is why the maps end
// up with the same entries for the same decisions, whichever back-end runs.
//
//   tp_btf   BPF on the fib_table_lookup / fib6_table_lookup tracepoints (learner.cpp)
//   kmod     the kernel module (kmod/): in observe mode its misc device hands over the decisions
//            that ip_learn_oob_route() (Dovetail) or its tracepoint probe (stock kernels) saw
//            (kmod_backend.h). It needs the classifier's maps, so whoever has them makes the
//            factory (kmod_factory()) and hands it to the learner through Config::kmod; the
//            learner probes it after tp_btf.
//   netlink  observes nothing: entries come from resolve() only, for kernels with neither.
#pragma once

#include <oobbpf/abi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace oobbpf::learn {

// A device whose routing decisions are learned: an oob port. For a VLAN port, ifindex is the
// VLAN device (eth0.42, where routes point), lower_ifindex the device frames leave by and vid its
// VLAN id; for a plain port lower_ifindex == ifindex and vid == 0.
struct PortDev {
    uint32_t ifindex = 0;
    uint32_t lower_ifindex = 0;
    uint16_t vid = 0;
    bool operator==(const PortDev &) const = default;
};

// Where a back-end reports decided flows. Only called from Backend::poll().
class Sink {
  public:
    virtual ~Sink() = default;
    // The in-band stack took an output routing decision for this flow (key.netns is the
    // namespace it was taken in) and it may lead to an oob port. Duplicates are cheap.
    virtual void decided(const oob_route_key &key) = 0;
};

struct BackendContext {
    uint32_t netns = 0;    // the learner's namespace (inode number)
    std::string pin_root;  // where routes/neighs and the caches are pinned
    int routes_fd = -1;    // the pinned routes map (read it to skip known flows)
    int neighs_fd = -1;    // the pinned neighs map
    std::vector<PortDev> ports;
};

class Backend {
  public:
    virtual ~Backend() = default;
    virtual const char *name() const = 0;
    // The set of learned devices changed (also called once before the first poll).
    virtual void set_ports(const std::vector<PortDev> &ports) = 0;
    // Readable (epoll) when poll() has decisions to report; -1 when the back-end has none.
    virtual int event_fd() const { return -1; }
    // Called on the learner's thread when event_fd() is readable.
    virtual void poll(Sink &) {}
    // The flow's entry went away (invalidated): report it again when it is next decided.
    virtual void forget(const oob_route_key &) {}
    // Decisions lost because a buffer was full (reported by `oobbpf status`).
    virtual uint64_t dropped() const { return 0; }
};

// Makes the kmod back-end when the module is there; nullptr and *why_not otherwise.
using KmodFactory =
    std::function<std::unique_ptr<Backend>(const BackendContext &, std::string *why_not)>;

}  // namespace oobbpf::learn
