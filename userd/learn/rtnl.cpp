// SPDX-License-Identifier: MIT
#include "rtnl.h"

#include "error.h"

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace oobbpf::learn::rtnl {

namespace {

size_t addr_len(uint8_t family) {
    return family == AF_INET6 ? 16 : 4;
}

bool is_zero(const __be32 *a, uint8_t family) {
    for (size_t i = 0; i < addr_len(family) / 4; i++)
        if (a[i])
            return false;
    return true;
}

mnl_socket *open_socket(const char *what) {
    mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
    if (!nl)
        throw sys_error(std::string("rtnetlink ") + what + " socket", errno);
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
        int err = errno;
        mnl_socket_close(nl);
        throw sys_error(std::string("rtnetlink ") + what + " bind", err);
    }
    return nl;
}

struct RouteParse {
    RouteAnswer *out;
    uint8_t family;
};

int metrics_cb(const nlattr *attr, void *data) {
    auto *mtu = static_cast<uint32_t *>(data);
    if (mnl_attr_get_type(attr) == RTAX_MTU && mnl_attr_get_payload_len(attr) >= 4)
        *mtu = mnl_attr_get_u32(attr);
    return MNL_CB_OK;
}

int route_attr_cb(const nlattr *attr, void *data) {
    auto *p = static_cast<RouteParse *>(data);
    RouteAnswer *a = p->out;
    const size_t alen = addr_len(p->family);
    const uint16_t len = mnl_attr_get_payload_len(attr);
    switch (mnl_attr_get_type(attr)) {
        case RTA_TABLE:
            if (len >= 4)
                a->table = mnl_attr_get_u32(attr);
            break;
        case RTA_OIF:
            if (len >= 4)
                a->oif = mnl_attr_get_u32(attr);
            break;
        case RTA_GATEWAY:
            if (len >= alen) {
                a->gw_family = p->family;
                std::memcpy(a->gw, mnl_attr_get_payload(attr), alen);
            }
            break;
        case RTA_VIA: {
            // IPv4 routes may use an IPv6 next hop (RFC 5549): struct rtvia { family; addr[] }.
            auto *via = static_cast<const rtvia *>(mnl_attr_get_payload(attr));
            if (len >= sizeof(*via)) {
                const size_t vlen = addr_len(uint8_t(via->rtvia_family));
                if (len >= sizeof(*via) + vlen) {
                    a->gw_family = uint8_t(via->rtvia_family);
                    std::memcpy(a->gw, via->rtvia_addr, vlen);
                }
            }
            break;
        }
        case RTA_PREFSRC:
            if (len >= alen) {
                a->has_prefsrc = true;
                std::memcpy(a->prefsrc, mnl_attr_get_payload(attr), alen);
            }
            break;
        case RTA_METRICS:
            mnl_attr_parse_nested(attr, metrics_cb, &a->mtu);
            break;
        default:
            break;
    }
    return MNL_CB_OK;
}

struct NeighParse {
    Neigh *out;
};

int neigh_attr_cb(const nlattr *attr, void *data) {
    Neigh *n = static_cast<NeighParse *>(data)->out;
    const uint16_t len = mnl_attr_get_payload_len(attr);
    switch (mnl_attr_get_type(attr)) {
        case NDA_DST:
            if (len == addr_len(n->family))
                std::memcpy(n->addr, mnl_attr_get_payload(attr), len);
            break;
        case NDA_LLADDR:
            if (len <= sizeof(n->lladdr)) {
                n->lladdr_len = uint8_t(len);
                std::memcpy(n->lladdr, mnl_attr_get_payload(attr), len);
            }
            break;
        default:
            break;
    }
    return MNL_CB_OK;
}

int link_attr_cb(const nlattr *attr, void *data) {
    Link *l = static_cast<Link *>(data);
    switch (mnl_attr_get_type(attr)) {
        case IFLA_IFNAME:
            if (mnl_attr_validate(attr, MNL_TYPE_STRING) >= 0)
                l->name = mnl_attr_get_str(attr);
            break;
        case IFLA_MTU:
            if (mnl_attr_get_payload_len(attr) >= 4)
                l->mtu = mnl_attr_get_u32(attr);
            break;
        case IFLA_LINK:
            if (mnl_attr_get_payload_len(attr) >= 4)
                l->link = mnl_attr_get_u32(attr);
            break;
        default:
            break;
    }
    return MNL_CB_OK;
}

int data_cb(const nlmsghdr *nlh, void *data) {
    (*static_cast<const std::function<void(const nlmsghdr *)> *>(data))(nlh);
    return MNL_CB_OK;
}

}  // namespace

bool parse_neigh(const nlmsghdr *nlh, Neigh *out) {
    if (nlh->nlmsg_type != RTM_NEWNEIGH && nlh->nlmsg_type != RTM_DELNEIGH)
        return false;
    if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(ndmsg)))
        return false;
    auto *ndm = static_cast<const ndmsg *>(mnl_nlmsg_get_payload(nlh));
    *out = Neigh{};
    out->deleted = nlh->nlmsg_type == RTM_DELNEIGH;
    out->family = ndm->ndm_family;
    out->ifindex = uint32_t(ndm->ndm_ifindex);
    out->state = ndm->ndm_state;
    out->flags = ndm->ndm_flags;
    if (out->family != AF_INET && out->family != AF_INET6)
        return false;
    NeighParse p{out};
    mnl_attr_parse(nlh, sizeof(*ndm), neigh_attr_cb, &p);
    return true;
}

bool parse_link(const nlmsghdr *nlh, Link *out) {
    if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK)
        return false;
    if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(ifinfomsg)))
        return false;
    auto *ifi = static_cast<const ifinfomsg *>(mnl_nlmsg_get_payload(nlh));
    *out = Link{};
    out->deleted = nlh->nlmsg_type == RTM_DELLINK;
    out->ifindex = uint32_t(ifi->ifi_index);
    out->flags = ifi->ifi_flags;
    mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, out);
    return true;
}

// ---- requests ----------------------------------------------------------------------------------

Requester::Requester() {
    nl_ = open_socket("request");
    portid_ = mnl_socket_get_portid(nl_);
}

Requester::~Requester() {
    if (nl_)
        mnl_socket_close(nl_);
}

int Requester::transact(nlmsghdr *nlh, const std::function<void(const nlmsghdr *)> &fn) {
    nlh->nlmsg_seq = ++seq_;
    nlh->nlmsg_flags |= NLM_F_ACK;  // every request ends with an ack or an error
    if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0)
        return -errno;
    std::vector<char> buf(64 * 1024);
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        int rc = mnl_cb_run(buf.data(), size_t(n), seq_, portid_, data_cb,
                            const_cast<std::function<void(const nlmsghdr *)> *>(&fn));
        if (rc < 0)
            return errno ? -errno : -EPROTO;
        if (rc == MNL_CB_STOP)
            return 0;
    }
}

int Requester::get_route(const oob_route_key &key, RouteAnswer *out) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETROUTE;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    auto *rtm = static_cast<rtmsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
    const uint8_t family = key.family;
    const size_t alen = addr_len(family);
    rtm->rtm_family = family;
    rtm->rtm_dst_len = uint8_t(alen * 8);
    rtm->rtm_tos = key.tos;
    rtm->rtm_flags = RTM_F_LOOKUP_TABLE;  // answer with the table the RPDB chose
    mnl_attr_put(nlh, RTA_DST, alen, key.dst);
    if (!is_zero(key.src, family)) {
        rtm->rtm_src_len = uint8_t(alen * 8);
        mnl_attr_put(nlh, RTA_SRC, alen, key.src);
    }
    if (key.mark)
        mnl_attr_put_u32(nlh, RTA_MARK, key.mark);
    if (key.oif)
        mnl_attr_put_u32(nlh, RTA_OIF, key.oif);

    bool got = false;
    int rc = transact(nlh, [&](const nlmsghdr *m) {
        if (m->nlmsg_type != RTM_NEWROUTE || got)
            return;
        auto *r = static_cast<const rtmsg *>(mnl_nlmsg_get_payload(m));
        *out = RouteAnswer{};
        out->type = r->rtm_type;
        out->table = r->rtm_table;
        RouteParse p{out, family};
        mnl_attr_parse(m, sizeof(*r), route_attr_cb, &p);
        got = true;
    });
    if (rc < 0)
        return rc;
    return got ? 0 : -ENOENT;
}

int Requester::neigh_use(uint8_t family, uint32_t ifindex, const __be32 *addr) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWNEIGH;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
    auto *ndm = static_cast<ndmsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
    ndm->ndm_family = family;
    ndm->ndm_ifindex = int(ifindex);
    ndm->ndm_state = NUD_NONE;
    ndm->ndm_flags = NTF_USE;  // neigh_event_send(): start (or restart) resolution
    mnl_attr_put(nlh, NDA_DST, addr_len(family), addr);
    return transact(nlh, [](const nlmsghdr *) {});
}

int Requester::get_neigh(uint8_t family, uint32_t ifindex, const __be32 *addr, Neigh *out) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETNEIGH;
    nlh->nlmsg_flags = NLM_F_REQUEST;
    auto *ndm = static_cast<ndmsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
    ndm->ndm_family = family;
    ndm->ndm_ifindex = int(ifindex);
    mnl_attr_put(nlh, NDA_DST, addr_len(family), addr);
    bool got = false;
    int rc = transact(nlh, [&](const nlmsghdr *m) { got = parse_neigh(m, out) || got; });
    if (rc < 0)
        return rc;
    return got ? 0 : -ENOENT;
}

int Requester::dump_neighs(const std::function<void(const Neigh &)> &fn) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETNEIGH;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    auto *ndm = static_cast<ndmsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
    ndm->ndm_family = AF_UNSPEC;
    return transact(nlh, [&](const nlmsghdr *m) {
        Neigh n;
        if (parse_neigh(m, &n))
            fn(n);
    });
}

int Requester::dump_links(const std::function<void(const Link &)> &fn) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETLINK;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    auto *ifi = static_cast<ifinfomsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    ifi->ifi_family = AF_UNSPEC;
    return transact(nlh, [&](const nlmsghdr *m) {
        Link l;
        if (parse_link(m, &l))
            fn(l);
    });
}

// ---- monitor -----------------------------------------------------------------------------------

Monitor::Monitor() {
    nl_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (!nl_)
        throw sys_error("rtnetlink monitor socket", errno);
    // A burst (a flushed table, a device with many neighbours going down) must not overrun us.
    int size = 8 << 20;
    if (setsockopt(mnl_socket_get_fd(nl_), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
        setsockopt(mnl_socket_get_fd(nl_), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
        int err = errno;
        mnl_socket_close(nl_);
        throw sys_error("rtnetlink monitor bind", err);
    }
    const int groups[] = {RTNLGRP_LINK,       RTNLGRP_NEIGH,     RTNLGRP_IPV4_IFADDR,
                          RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV4_RULE, RTNLGRP_IPV6_IFADDR,
                          RTNLGRP_IPV6_ROUTE, RTNLGRP_IPV6_RULE, RTNLGRP_NEXTHOP};
    for (int g : groups) {
        if (mnl_socket_setsockopt(nl_, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0) {
            int err = errno;
            mnl_socket_close(nl_);
            throw sys_error("rtnetlink monitor group " + std::to_string(g), err);
        }
    }
}

Monitor::~Monitor() {
    if (nl_)
        mnl_socket_close(nl_);
}

int Monitor::fd() const {
    return mnl_socket_get_fd(nl_);
}

bool Monitor::drain(const std::function<void(const Event &)> &fn) {
    std::vector<char> buf(256 * 1024);
    bool ok = true;
    std::function<void(const nlmsghdr *)> each = [&](const nlmsghdr *nlh) {
        Event ev;
        switch (nlh->nlmsg_type) {
            case RTM_NEWROUTE:
            case RTM_DELROUTE:
                ev.kind = Kind::route;
                break;
            case RTM_NEWRULE:
            case RTM_DELRULE:
                ev.kind = Kind::rule;
                break;
            case RTM_NEWADDR:
            case RTM_DELADDR:
                ev.kind = Kind::addr;
                break;
            case RTM_NEWNEXTHOP:
            case RTM_DELNEXTHOP:
                ev.kind = Kind::nexthop;
                break;
            case RTM_NEWLINK:
            case RTM_DELLINK:
                if (!parse_link(nlh, &ev.link))
                    return;
                ev.kind = Kind::link;
                break;
            case RTM_NEWNEIGH:
            case RTM_DELNEIGH:
                if (!parse_neigh(nlh, &ev.neigh))
                    return;
                ev.kind = Kind::neigh;
                break;
            default:
                return;
        }
        fn(ev);
    };
    for (;;) {
        ssize_t n = recv(fd(), buf.data(), buf.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS) {
                ok = false;  // lost events; keep draining, then the caller resynchronises
                continue;
            }
            break;  // EAGAIN: all read
        }
        if (n == 0)
            break;
        mnl_cb_run(buf.data(), size_t(n), 0, 0, data_cb, &each);
    }
    return ok;
}

}  // namespace oobbpf::learn::rtnl
