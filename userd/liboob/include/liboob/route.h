// SPDX-License-Identifier: MIT
// Where the oob path gets its routing decisions: a RouteSource answers "which device, which next
// hop, which source address" for a flow, and "which MAC" for a next hop. Implementations:
//   MapRouteSource      the learned route/neighbour maps pinned under the pin root
//                       (<root>/routes, <root>/neighs; abi.h layouts), filled by the learner;
//   NetlinkRouteSource  the in-band stack itself, asked over rtnetlink (RTM_GETROUTE with the
//                       flow's selectors, RTM_GETNEIGH);
//   ChainRouteSource    the first source that knows, in order, each answer counted per source.
// The default chain is maps, then netlink: absent maps or a map miss cost a netlink round trip,
// counted, never a silent stall.
#pragma once

#include "fd.h"
#include "liboob/netlink.h"

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace oobbpf::oob {

class RouteSource {
  public:
    virtual ~RouteSource() = default;
    virtual std::string name() const = 0;
    // 0 with r filled (lower_ifindex and vid included); -ENOENT when this source does not know;
    // another negative errno when it knows the flow cannot be routed (e.g. -ENETUNREACH).
    virtual int route(const RouteQuery &q, Route &r) = 0;
    // 0 with a usable entry; -ENOENT otherwise.
    virtual int neigh(uint32_t ifindex, const IpAddr &addr, Neigh &n) = 0;
};

// The learned maps. Entries are keyed by the flow the in-band stack decided (abi.h,
// struct oob_route_key): lookups try the query's (oif, src) first, then with the source
// cleared, then the device cleared, then both, in the caller's network namespace, with its mark
// and tos. Entries being rewritten (odd seq) or torn copies are retried, never used. When the
// maps are not pinned (yet), every lookup answers -ENOENT and opening is retried at most once a
// second.
class MapRouteSource : public RouteSource {
  public:
    explicit MapRouteSource(std::string pin_root);
    std::string name() const override { return "maps"; }
    int route(const RouteQuery &q, Route &r) override;
    int neigh(uint32_t ifindex, const IpAddr &addr, Neigh &n) override;
    bool available();

  private:
    bool try_open();
    std::string root_;
    UniqueFd routes_, neighs_;
    uint32_t netns_ = 0;
    uint64_t next_try_ns_ = 0;
};

// The in-band stack's own answer.
class NetlinkRouteSource : public RouteSource {
  public:
    NetlinkRouteSource() = default;
    std::string name() const override { return "netlink"; }
    int route(const RouteQuery &q, Route &r) override;
    int neigh(uint32_t ifindex, const IpAddr &addr, Neigh &n) override;
    // Link of an ifindex, cached.
    const LinkInfo *link(uint32_t ifindex);
    Netlink &netlink() { return nl_; }

  private:
    Netlink nl_;
    std::unordered_map<uint32_t, LinkInfo> links_;
};

struct RouteSourceStats {
    std::string name;
    uint64_t route_hits = 0, route_misses = 0, route_errors = 0;
    uint64_t neigh_hits = 0, neigh_misses = 0;
};

class ChainRouteSource : public RouteSource {
  public:
    explicit ChainRouteSource(std::vector<std::shared_ptr<RouteSource>> sources);
    std::string name() const override;
    int route(const RouteQuery &q, Route &r) override;
    int neigh(uint32_t ifindex, const IpAddr &addr, Neigh &n) override;
    const std::vector<RouteSourceStats> &stats() const { return stats_; }

  private:
    std::vector<std::shared_ptr<RouteSource>> sources_;
    std::vector<RouteSourceStats> stats_;
};

// maps under pin_root, then netlink.
std::shared_ptr<ChainRouteSource> default_route_source(const std::string &pin_root);

// Inode of the calling thread's network namespace (the netns member of oob_route_key).
uint32_t current_netns();

}  // namespace oobbpf::oob
