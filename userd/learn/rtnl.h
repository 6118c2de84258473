// SPDX-License-Identifier: MIT
// rtnetlink for the learner (libmnl): ask the in-band stack for a routing decision
// (RTM_GETROUTE with a flow's selectors), make it resolve a neighbour (RTM_NEWNEIGH with
// NTF_USE), dump neighbours and links, and follow route, rule, address, link, neighbour and
// nexthop changes. Sockets belong to the network namespace of the thread that creates them.
#pragma once

#include <oobbpf/abi.h>

#include <cstdint>
#include <functional>
#include <string>

struct mnl_socket;
struct nlmsghdr;

namespace oobbpf::learn::rtnl {

// The kernel's answer to RTM_GETROUTE.
struct RouteAnswer {
    uint8_t type = 0;  // RTN_*
    uint32_t table = 0;
    uint32_t oif = 0;
    uint8_t gw_family = 0;  // 0: on-link
    __be32 gw[4]{};
    bool has_prefsrc = false;
    __be32 prefsrc[4]{};
    uint32_t mtu = 0;  // RTAX_MTU of the route or its PMTU exception; 0: the device's MTU
};

struct Neigh {
    bool deleted = false;  // RTM_DELNEIGH
    uint8_t family = 0;
    uint32_t ifindex = 0;
    uint16_t state = 0;  // NUD_*
    uint8_t flags = 0;   // NTF_*
    uint8_t lladdr_len = 0;
    uint8_t lladdr[32]{};
    __be32 addr[4]{};
};

struct Link {
    bool deleted = false;  // RTM_DELLINK
    uint32_t ifindex = 0;
    uint32_t flags = 0;  // IFF_*
    uint32_t mtu = 0;
    uint32_t link = 0;  // IFLA_LINK: the lower device of a VLAN
    std::string name;
};

enum class Kind { route, rule, addr, link, neigh, nexthop, other };

struct Event {
    Kind kind = Kind::other;
    Neigh neigh;  // kind == neigh
    Link link;    // kind == link
};

// Request/response socket. One request at a time (callers serialise).
class Requester {
  public:
    Requester();
    ~Requester();
    Requester(const Requester &) = delete;
    Requester &operator=(const Requester &) = delete;

    // 0 and *out filled, or a negative errno (-ENETUNREACH, -EHOSTUNREACH, -EINVAL for a
    // source address that is not local, ...).
    int get_route(const oob_route_key &key, RouteAnswer *out);
    // Makes the kernel resolve (or re-confirm) the neighbour now, creating the entry if needed.
    int neigh_use(uint8_t family, uint32_t ifindex, const __be32 *addr);
    // The in-band entry of one neighbour (-ENOENT when none).
    int get_neigh(uint8_t family, uint32_t ifindex, const __be32 *addr, Neigh *out);
    int dump_neighs(const std::function<void(const Neigh &)> &fn);
    int dump_links(const std::function<void(const Link &)> &fn);

  private:
    int transact(nlmsghdr *nlh, const std::function<void(const nlmsghdr *)> &fn);
    mnl_socket *nl_ = nullptr;
    uint32_t portid_ = 0;
    uint32_t seq_ = 0;
};

// Multicast listener for the groups the learner follows. Non-blocking.
class Monitor {
  public:
    Monitor();
    ~Monitor();
    Monitor(const Monitor &) = delete;
    Monitor &operator=(const Monitor &) = delete;

    int fd() const;
    // Reads every message waiting. Returns false when the kernel dropped messages (socket
    // buffer overrun): the caller must resynchronise everything.
    bool drain(const std::function<void(const Event &)> &fn);

  private:
    mnl_socket *nl_ = nullptr;
};

bool parse_neigh(const nlmsghdr *nlh, Neigh *out);
bool parse_link(const nlmsghdr *nlh, Link *out);

}  // namespace oobbpf::learn::rtnl
