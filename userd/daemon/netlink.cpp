// SPDX-License-Identifier: MIT
#include "netlink.h"

#include "error.h"

#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/xdp_diag.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ctime>
#include <functional>
#include <vector>

#ifndef AF_XDP
#define AF_XDP 44
#endif

namespace oobbpf::daemon {

namespace {

using Sock = std::unique_ptr<mnl_socket, decltype(&mnl_socket_close)>;

Sock open_nl(int bus, unsigned groups) {
    Sock nl(mnl_socket_open2(bus, SOCK_CLOEXEC), &mnl_socket_close);
    if (!nl)
        throw sys_error("netlink socket", errno);
    if (mnl_socket_bind(nl.get(), groups, MNL_SOCKET_AUTOPID) < 0)
        throw sys_error("netlink bind", errno);
    return nl;
}

// Sends one request and runs cb over every message of the (multi-part) answer.
void request(mnl_socket *nl, nlmsghdr *nlh, mnl_cb_t cb, void *data, const char *what) {
    const uint32_t seq = nlh->nlmsg_seq;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
        throw sys_error(std::string("netlink ") + what, errno);
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE > 32768 ? MNL_SOCKET_BUFFER_SIZE : 32768);
    const unsigned portid = mnl_socket_get_portid(nl);
    int ret;
    do {
        ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
        if (n < 0)
            throw sys_error(std::string("netlink ") + what, errno);
        ret = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, cb, data);
    } while (ret > 0);
    if (ret < 0)
        throw sys_error(std::string("netlink ") + what, errno);
}

// libmnl's iteration macros assign void * and do not compile as C++: the same walks, typed.
template <class F>
void for_each_attr(const nlmsghdr *nlh, size_t offset, F f) {
    auto *a = static_cast<const nlattr *>(mnl_nlmsg_get_payload_offset(nlh, offset));
    auto *end = static_cast<const char *>(mnl_nlmsg_get_payload_tail(nlh));
    while (mnl_attr_ok(a, static_cast<int>(end - reinterpret_cast<const char *>(a)))) {
        f(a);
        a = mnl_attr_next(a);
    }
}

template <class F>
void for_each_nested(const nlattr *nest, F f) {
    auto *a = static_cast<const nlattr *>(mnl_attr_get_payload(nest));
    auto *end =
        static_cast<const char *>(mnl_attr_get_payload(nest)) + mnl_attr_get_payload_len(nest);
    while (mnl_attr_ok(a, static_cast<int>(end - reinterpret_cast<const char *>(a)))) {
        f(a);
        a = mnl_attr_next(a);
    }
}

bool parse_link(const nlmsghdr *nlh, Link &l) {
    auto *ifi = static_cast<const ifinfomsg *>(mnl_nlmsg_get_payload(nlh));
    l = Link{};
    l.ifindex = static_cast<uint32_t>(ifi->ifi_index);
    l.up = ifi->ifi_flags & IFF_UP;
    bool other_ns = false;
    uint32_t link = 0;
    for_each_attr(nlh, sizeof(*ifi), [&](const nlattr *attr) {
        switch (mnl_attr_get_type(attr)) {
            case IFLA_IFNAME:
                l.name = mnl_attr_get_str(attr);
                break;
            case IFLA_LINK:
                link = mnl_attr_get_u32(attr);
                break;
            case IFLA_LINK_NETNSID:
                other_ns = true;
                break;
            case IFLA_LINKINFO:
                for_each_nested(attr, [&](const nlattr *in) {
                    if (mnl_attr_get_type(in) == IFLA_INFO_KIND)
                        l.kind = mnl_attr_get_str(in);
                    else if (mnl_attr_get_type(in) == IFLA_INFO_DATA && l.kind == "vlan")
                        for_each_nested(in, [&](const nlattr *d) {
                            if (mnl_attr_get_type(d) == IFLA_VLAN_ID)
                                l.vlan_id = mnl_attr_get_u16(d);
                        });
                });
                break;
            default:
                break;
        }
    });
    // IFLA_LINK of a veth names its peer; with IFLA_LINK_NETNSID it lives in another namespace.
    if (!other_ns && link != l.ifindex)
        l.lower = link;
    return !l.name.empty();
}

int link_cb(const nlmsghdr *nlh, void *data) {
    auto *out = static_cast<std::vector<Link> *>(data);
    Link l;
    if (nlh->nlmsg_type == RTM_NEWLINK && parse_link(nlh, l))
        out->push_back(std::move(l));
    return MNL_CB_OK;
}

}  // namespace

std::vector<Link> dump_links() {
    Sock nl = open_nl(NETLINK_ROUTE, 0);
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = static_cast<uint32_t>(time(nullptr));
    auto *ifi = static_cast<ifinfomsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    ifi->ifi_family = AF_UNSPEC;
    std::vector<Link> links;
    request(nl.get(), nlh, link_cb, &links, "link dump");
    return links;
}

std::optional<Link> find_link(const std::vector<Link> &links, const std::string &name) {
    for (const auto &l : links)
        if (l.name == name)
            return l;
    return std::nullopt;
}

std::optional<Link> find_link(const std::vector<Link> &links, uint32_t ifindex) {
    for (const auto &l : links)
        if (l.ifindex == ifindex)
            return l;
    return std::nullopt;
}

// ---- LinkMonitor ------------------------------------------------------------------------------

LinkMonitor::LinkMonitor() {
    Sock nl = open_nl(NETLINK_ROUTE, RTMGRP_LINK);
    // A roomy receive buffer: a burst of device events (a container starting) must not overrun
    // it. If it does anyway, read() reports ENOBUFS as resync (NETLINK_NO_ENOBUFS stays off).
    int size = 1 << 20;
    setsockopt(mnl_socket_get_fd(nl.get()), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    nl_ = nl.release();
}

LinkMonitor::~LinkMonitor() {
    if (nl_)
        mnl_socket_close(nl_);
}

int LinkMonitor::fd() const {
    return mnl_socket_get_fd(nl_);
}

std::vector<LinkEvent> LinkMonitor::read(bool &resync) {
    std::vector<LinkEvent> events;
    resync = false;
    std::vector<char> buf(65536);
    for (;;) {
        ssize_t n = recv(fd(), buf.data(), buf.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS) {
                resync = true;  // events were lost: the caller re-reads the whole state
                continue;
            }
            break;  // EAGAIN: drained
        }
        int len = static_cast<int>(n);
        for (auto *nlh = reinterpret_cast<const nlmsghdr *>(buf.data()); mnl_nlmsg_ok(nlh, len);
             nlh = mnl_nlmsg_next(nlh, &len)) {
            if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
                continue;
            LinkEvent ev;
            ev.removed = nlh->nlmsg_type == RTM_DELLINK;
            if (parse_link(nlh, ev.link))
                events.push_back(std::move(ev));
        }
    }
    return events;
}

// ---- AF_XDP sockets -----------------------------------------------------------------------------

namespace {

int xsk_cb(const nlmsghdr *nlh, void *data) {
    auto *out = static_cast<std::vector<XskInfo> *>(data);
    if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY)
        return MNL_CB_OK;
    auto *msg = static_cast<const xdp_diag_msg *>(mnl_nlmsg_get_payload(nlh));
    XskInfo x;
    x.inode = msg->xdiag_ino;
    for_each_attr(nlh, sizeof(*msg), [&](const nlattr *attr) {
        if (mnl_attr_get_type(attr) == XDP_DIAG_INFO &&
            mnl_attr_get_payload_len(attr) >= sizeof(xdp_diag_info)) {
            auto *info = static_cast<const xdp_diag_info *>(mnl_attr_get_payload(attr));
            x.ifindex = info->ifindex;
            x.queue = info->queue_id;
        }
    });
    out->push_back(x);
    return MNL_CB_OK;
}

}  // namespace

std::vector<XskInfo> dump_xsks() {
    Sock nl = open_nl(NETLINK_SOCK_DIAG, 0);
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = static_cast<uint32_t>(time(nullptr));
    auto *req = static_cast<xdp_diag_req *>(mnl_nlmsg_put_extra_header(nlh, sizeof(xdp_diag_req)));
    req->sdiag_family = AF_XDP;
    req->xdiag_show = XDP_SHOW_INFO;
    std::vector<XskInfo> out;
    request(nl.get(), nlh, xsk_cb, &out, "AF_XDP socket dump");
    return out;
}

}  // namespace oobbpf::daemon
