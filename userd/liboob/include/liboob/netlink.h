// SPDX-License-Identifier: MIT
// Asking the in-band stack over rtnetlink (libmnl): links, output route decisions as
// `ip route get` takes them (with the flow's selectors), neighbours, and solicitation of a
// neighbour the in-band stack has not resolved yet. The socket lives in the network namespace of
// the thread that creates the object.
#pragma once

#include "liboob/addr.h"

#include <cstdint>
#include <string>
#include <vector>

struct mnl_socket;
struct nlmsghdr;

namespace oobbpf::oob {

struct LinkInfo {
    uint32_t ifindex = 0;
    std::string name;
    Mac mac{};
    uint32_t mtu = 0;
    bool up = false;
    // A VLAN device: the device it sits on and its VID.
    bool is_vlan = false;
    uint32_t lower_ifindex = 0;  // == ifindex when not a VLAN device
    uint16_t vid = 0;
    uint16_t vlan_proto = 0x8100;  // host order
};

// The selectors of an output route decision (as `ip route get DST from SRC oif DEV mark M tos T`).
struct RouteQuery {
    IpAddr dst;
    IpAddr src;        // any: let the route choose (its preferred source)
    uint32_t oif = 0;  // 0: any device
    uint32_t mark = 0;
    uint8_t tos = 0;
};

struct Route {
    uint8_t type = 0;            // RTN_UNICAST, RTN_LOCAL, ...
    uint32_t oif = 0;            // output device (a VLAN device for VLAN ports)
    uint32_t lower_ifindex = 0;  // where frames leave
    uint16_t vid = 0;            // 0: untagged
    bool gateway = false;
    IpAddr gw;  // next hop when gateway
    IpAddr prefsrc;
    uint32_t mtu = 0;  // 0: the device's
    uint32_t table = 0;
};

struct Neigh {
    Mac mac{};
    uint16_t state = 0;  // NUD_*
};

// The NUD states whose link-layer address can be used to send (NUD_VALID in the kernel).
bool neigh_usable(uint16_t state);

class Netlink {
  public:
    Netlink();
    ~Netlink();
    Netlink(const Netlink &) = delete;
    Netlink &operator=(const Netlink &) = delete;

    // 0, or a negative errno (-ENODEV when there is no such link).
    int link(uint32_t ifindex, LinkInfo &out);
    int link(const std::string &name, LinkInfo &out);
    // 0, or the kernel's answer as a negative errno (-ENETUNREACH, -EHOSTUNREACH, -EACCES ...).
    // lower_ifindex and vid are left for the caller (they need the output device's link).
    int route(const RouteQuery &q, Route &out);
    // 0 when the in-band table has an entry (any state: check neigh_usable), -ENOENT otherwise.
    int neigh(uint32_t ifindex, const IpAddr &addr, Neigh &out);
    // Asks the in-band stack to resolve addr on ifindex now (RTM_NEWNEIGH with NTF_USE: an ARP
    // request or neighbour solicitation goes out). Needs CAP_NET_ADMIN.
    int solicit(uint32_t ifindex, const IpAddr &addr);

  private:
    using Parser = int (*)(const ::nlmsghdr *, void *);
    int transact(::nlmsghdr *req, Parser cb, void *data);
    int get_link(uint32_t ifindex, const std::string *name, LinkInfo &out);

    mnl_socket *nl_ = nullptr;
    uint32_t portid_ = 0, seq_ = 0;
    std::vector<char> buf_;
};

}  // namespace oobbpf::oob
