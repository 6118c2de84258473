// SPDX-License-Identifier: MIT
#include "liboob/netlink.h"

#include "error.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <cstring>

namespace oobbpf::oob {

namespace {

// Valid link-layer address states (the kernel's NUD_VALID).
constexpr uint16_t kNudValid =
    NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;

void copy_addr(IpAddr &to, uint8_t family, const struct nlattr *a) {
    size_t n = mnl_attr_get_payload_len(a);
    if ((family == AF_INET && n == 4) || (family == AF_INET6 && n == 16)) {
        to.family = family;
        to.bytes.fill(0);
        std::memcpy(to.bytes.data(), mnl_attr_get_payload(a), n);
    }
}

int link_data_cb(const struct nlattr *a, void *data) {
    auto *li = static_cast<LinkInfo *>(data);
    if (mnl_attr_get_type(a) == IFLA_VLAN_ID && mnl_attr_get_payload_len(a) >= 2)
        li->vid = mnl_attr_get_u16(a);
    else if (mnl_attr_get_type(a) == IFLA_VLAN_PROTOCOL && mnl_attr_get_payload_len(a) >= 2)
        li->vlan_proto = ntohs(mnl_attr_get_u16(a));
    return MNL_CB_OK;
}

int link_info_cb(const struct nlattr *a, void *data) {
    auto *li = static_cast<LinkInfo *>(data);
    if (mnl_attr_get_type(a) == IFLA_INFO_KIND) {
        const char *kind = static_cast<const char *>(mnl_attr_get_payload(a));
        li->is_vlan = std::strncmp(kind, "vlan", mnl_attr_get_payload_len(a)) == 0 &&
                      mnl_attr_get_payload_len(a) >= 4;
    } else if (mnl_attr_get_type(a) == IFLA_INFO_DATA) {
        mnl_attr_parse_nested(a, link_data_cb, li);
    }
    return MNL_CB_OK;
}

int link_attr_cb(const struct nlattr *a, void *data) {
    auto *li = static_cast<LinkInfo *>(data);
    switch (mnl_attr_get_type(a)) {
        case IFLA_IFNAME:
            li->name = static_cast<const char *>(mnl_attr_get_payload(a));
            break;
        case IFLA_ADDRESS:
            if (mnl_attr_get_payload_len(a) == 6)
                std::memcpy(li->mac.data(), mnl_attr_get_payload(a), 6);
            break;
        case IFLA_MTU:
            li->mtu = mnl_attr_get_u32(a);
            break;
        case IFLA_LINK:
            li->lower_ifindex = mnl_attr_get_u32(a);
            break;
        case IFLA_LINKINFO:
            mnl_attr_parse_nested(a, link_info_cb, li);
            break;
    }
    return MNL_CB_OK;
}

int link_cb(const struct nlmsghdr *nlh, void *data) {
    if (nlh->nlmsg_type != RTM_NEWLINK)
        return MNL_CB_OK;
    auto *li = static_cast<LinkInfo *>(data);
    auto *ifi = static_cast<const ifinfomsg *>(mnl_nlmsg_get_payload(nlh));
    li->ifindex = static_cast<uint32_t>(ifi->ifi_index);
    li->up = ifi->ifi_flags & IFF_UP;
    mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, li);
    return MNL_CB_OK;
}

struct RouteParse {
    Route *out;
    uint8_t family;
};

int metrics_cb(const struct nlattr *a, void *data) {
    auto *rp = static_cast<RouteParse *>(data);
    if (mnl_attr_get_type(a) == RTAX_MTU && mnl_attr_get_payload_len(a) >= 4)
        rp->out->mtu = mnl_attr_get_u32(a);
    return MNL_CB_OK;
}

int route_attr_cb(const struct nlattr *a, void *data) {
    auto *rp = static_cast<RouteParse *>(data);
    Route &r = *rp->out;
    switch (mnl_attr_get_type(a)) {
        case RTA_OIF:
            r.oif = mnl_attr_get_u32(a);
            break;
        case RTA_GATEWAY:
            copy_addr(r.gw, rp->family, a);
            r.gateway = !r.gw.any();
            break;
        case RTA_VIA: {
            // An IPv4 route via an IPv6 next hop (RFC 5549): struct rtvia.
            auto *via = static_cast<const rtvia *>(mnl_attr_get_payload(a));
            size_t n = mnl_attr_get_payload_len(a);
            if (via->rtvia_family == AF_INET6 && n >= sizeof(*via) + 16) {
                r.gw = IpAddr::v6(reinterpret_cast<const uint8_t *>(via->rtvia_addr));
                r.gateway = true;
            } else if (via->rtvia_family == AF_INET && n >= sizeof(*via) + 4) {
                r.gw = IpAddr::v4(reinterpret_cast<const uint8_t *>(via->rtvia_addr));
                r.gateway = true;
            }
            break;
        }
        case RTA_PREFSRC:
            copy_addr(r.prefsrc, rp->family, a);
            break;
        case RTA_TABLE:
            r.table = mnl_attr_get_u32(a);
            break;
        case RTA_METRICS:
            mnl_attr_parse_nested(a, metrics_cb, rp);
            break;
    }
    return MNL_CB_OK;
}

int route_cb(const struct nlmsghdr *nlh, void *data) {
    if (nlh->nlmsg_type != RTM_NEWROUTE)
        return MNL_CB_OK;
    auto *rp = static_cast<RouteParse *>(data);
    auto *rtm = static_cast<const rtmsg *>(mnl_nlmsg_get_payload(nlh));
    rp->out->type = rtm->rtm_type;
    rp->out->table = rtm->rtm_table;
    rp->family = rtm->rtm_family;
    mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, rp);
    return MNL_CB_OK;
}

struct NeighParse {
    Neigh *out;
    bool found;
};

int neigh_attr_cb(const struct nlattr *a, void *data) {
    auto *np = static_cast<NeighParse *>(data);
    if (mnl_attr_get_type(a) == NDA_LLADDR && mnl_attr_get_payload_len(a) == 6)
        std::memcpy(np->out->mac.data(), mnl_attr_get_payload(a), 6);
    return MNL_CB_OK;
}

int neigh_cb(const struct nlmsghdr *nlh, void *data) {
    if (nlh->nlmsg_type != RTM_NEWNEIGH)
        return MNL_CB_OK;
    auto *np = static_cast<NeighParse *>(data);
    auto *ndm = static_cast<const ndmsg *>(mnl_nlmsg_get_payload(nlh));
    np->out->state = ndm->ndm_state;
    np->found = true;
    mnl_attr_parse(nlh, sizeof(*ndm), neigh_attr_cb, np);
    return MNL_CB_OK;
}

}  // namespace

bool neigh_usable(uint16_t state) {
    return state & kNudValid;
}

Netlink::Netlink() : buf_(MNL_SOCKET_BUFFER_SIZE) {
    nl_ = mnl_socket_open(NETLINK_ROUTE);
    if (!nl_)
        throw sys_error("open rtnetlink socket", errno);
    if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
        int err = errno;
        mnl_socket_close(nl_);
        throw sys_error("bind rtnetlink socket", err);
    }
    portid_ = mnl_socket_get_portid(nl_);
    seq_ = static_cast<uint32_t>(time(nullptr));
    // A kernel that does not answer must not stall the caller: one second, then an error.
    timeval tv{1, 0};
    setsockopt(mnl_socket_get_fd(nl_), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

Netlink::~Netlink() {
    if (nl_)
        mnl_socket_close(nl_);
}

int Netlink::transact(struct nlmsghdr *req, Parser cb, void *data) {
    req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    req->nlmsg_seq = ++seq_;
    if (mnl_socket_sendto(nl_, req, req->nlmsg_len) < 0)
        return -errno;
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl_, buf_.data(), buf_.size());
        if (n < 0)
            return errno == EAGAIN ? -ETIMEDOUT : -errno;
        int rc = mnl_cb_run(buf_.data(), static_cast<size_t>(n), req->nlmsg_seq, portid_, cb, data);
        if (rc == MNL_CB_ERROR)
            return errno ? -errno : -EIO;
        if (rc == MNL_CB_STOP)
            return 0;
    }
}

int Netlink::get_link(uint32_t ifindex, const std::string *name, LinkInfo &out) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETLINK;
    auto *ifi = static_cast<ifinfomsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = static_cast<int>(ifindex);
    if (name)
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name->c_str());
    out = LinkInfo{};
    int rc = transact(nlh, link_cb, &out);
    if (rc == 0 && out.ifindex == 0)
        rc = -ENODEV;
    if (rc == 0 && !out.is_vlan)
        out.lower_ifindex = out.ifindex;
    return rc;
}

int Netlink::link(uint32_t ifindex, LinkInfo &out) {
    return get_link(ifindex, nullptr, out);
}
int Netlink::link(const std::string &name, LinkInfo &out) {
    return get_link(0, &name, out);
}

int Netlink::route(const RouteQuery &q, Route &out) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETROUTE;
    auto *rtm = static_cast<rtmsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(rtmsg)));
    rtm->rtm_family = q.dst.family;
    rtm->rtm_dst_len = static_cast<unsigned char>(q.dst.size() * 8);
    rtm->rtm_tos = q.tos;
    mnl_attr_put(nlh, RTA_DST, q.dst.size(), q.dst.data());
    if (!q.src.any()) {
        rtm->rtm_src_len = static_cast<unsigned char>(q.src.size() * 8);
        mnl_attr_put(nlh, RTA_SRC, q.src.size(), q.src.data());
    }
    if (q.oif)
        mnl_attr_put_u32(nlh, RTA_OIF, q.oif);
    if (q.mark)
        mnl_attr_put_u32(nlh, RTA_MARK, q.mark);
    out = Route{};
    RouteParse rp{&out, q.dst.family};
    int rc = transact(nlh, route_cb, &rp);
    if (rc)
        return rc;
    if (out.oif == 0)
        return -ENETUNREACH;
    return 0;
}

int Netlink::neigh(uint32_t ifindex, const IpAddr &addr, Neigh &out) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_GETNEIGH;
    auto *ndm = static_cast<ndmsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
    ndm->ndm_family = addr.family;
    ndm->ndm_ifindex = static_cast<int>(ifindex);
    mnl_attr_put(nlh, NDA_DST, addr.size(), addr.data());
    out = Neigh{};
    NeighParse np{&out, false};
    int rc = transact(nlh, neigh_cb, &np);
    if (rc)
        return rc;
    return np.found ? 0 : -ENOENT;
}

int Netlink::solicit(uint32_t ifindex, const IpAddr &addr) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWNEIGH;
    nlh->nlmsg_flags = NLM_F_CREATE;
    auto *ndm = static_cast<ndmsg *>(mnl_nlmsg_put_extra_header(nlh, sizeof(ndmsg)));
    ndm->ndm_family = addr.family;
    ndm->ndm_ifindex = static_cast<int>(ifindex);
    ndm->ndm_state = NUD_NONE;
    // NTF_USE: "use" the entry as if a packet waited for it; an unresolved entry starts
    // resolution (neigh_event_send), a resolved one is left alone.
    ndm->ndm_flags = NTF_USE;
    mnl_attr_put(nlh, NDA_DST, addr.size(), addr.data());
    return transact(
        nlh, [](const struct nlmsghdr *, void *) { return static_cast<int>(MNL_CB_OK); }, nullptr);
}

}  // namespace oobbpf::oob
