// SPDX-License-Identifier: MIT
// rtnetlink (libmnl): the devices of this namespace, their VLAN relations, and their changes;
// sock_diag: which AF_XDP sockets exist and where they are bound.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct mnl_socket;

namespace oobbpf::daemon {

struct Link {
    uint32_t ifindex = 0;
    std::string name;
    std::string kind;      // IFLA_INFO_KIND: "veth", "vlan", ... ("" for plain devices)
    uint32_t lower = 0;    // IFLA_LINK when it names a device of this namespace, else 0
    uint16_t vlan_id = 0;  // VLAN devices only
    bool up = false;
    bool is_vlan() const { return kind == "vlan" && lower != 0 && vlan_id != 0; }
};

// Every device of this namespace (one RTM_GETLINK dump).
std::vector<Link> dump_links();
std::optional<Link> find_link(const std::vector<Link> &links, const std::string &name);
std::optional<Link> find_link(const std::vector<Link> &links, uint32_t ifindex);

struct LinkEvent {
    bool removed = false;  // RTM_DELLINK
    Link link;
};

// Subscribed to RTNLGRP_LINK. fd() goes into the daemon's poll set; read() drains what is queued.
// An overrun (ENOBUFS) is reported as resync=true: the caller re-reads everything.
class LinkMonitor {
  public:
    LinkMonitor();
    ~LinkMonitor();
    LinkMonitor(const LinkMonitor &) = delete;
    LinkMonitor &operator=(const LinkMonitor &) = delete;
    int fd() const;
    std::vector<LinkEvent> read(bool &resync);

  private:
    mnl_socket *nl_ = nullptr;
};

// An AF_XDP socket of this namespace, from sock_diag (xdp_diag).
struct XskInfo {
    uint32_t inode = 0;
    uint32_t ifindex = 0;  // 0 while unbound
    uint32_t queue = 0;
};
std::vector<XskInfo> dump_xsks();

}  // namespace oobbpf::daemon
