// SPDX-License-Identifier: MIT
#include "liboob/route.h"

#include "liboob/clock.h"

#include <bpf/bpf.h>
#include <oobbpf/abi.h>
#include <sys/stat.h>

#include <cstring>

namespace oobbpf::oob {

namespace {

// A value the learner may be rewriting: copy until two reads agree and seq is even.
template <class K, class V>
int read_stable(int fd, const K &key, V &out) {
    for (int attempt = 0; attempt < 8; attempt++) {
        V a{}, b{};
        if (bpf_map_lookup_elem(fd, &key, &a) < 0)
            return -ENOENT;
        if (a.seq & 1)
            continue;
        if (bpf_map_lookup_elem(fd, &key, &b) < 0)
            return -ENOENT;
        if (std::memcmp(&a, &b, sizeof(a)) == 0) {
            out = a;
            return 0;
        }
    }
    return -EAGAIN;
}

}  // namespace

uint32_t current_netns() {
    struct stat st {};
    if (stat("/proc/thread-self/ns/net", &st) != 0 && stat("/proc/self/ns/net", &st) != 0)
        return 0;
    return static_cast<uint32_t>(st.st_ino);
}

MapRouteSource::MapRouteSource(std::string pin_root) : root_(std::move(pin_root)) {
    netns_ = current_netns();
    try_open();
}

bool MapRouteSource::try_open() {
    int r = bpf_obj_get((root_ + "/" + OOB_PIN_ROUTES).c_str());
    int n = bpf_obj_get((root_ + "/" + OOB_PIN_NEIGHS).c_str());
    if (r < 0 || n < 0) {
        if (r >= 0)
            close(r);
        if (n >= 0)
            close(n);
        next_try_ns_ = now_ns() + 1000000000ULL;
        return false;
    }
    routes_.reset(r);
    neighs_.reset(n);
    return true;
}

bool MapRouteSource::available() {
    if (routes_)
        return true;
    if (now_ns() < next_try_ns_)
        return false;
    return try_open();
}

int MapRouteSource::route(const RouteQuery &q, Route &r) {
    if (!available())
        return -ENOENT;
    oob_route_key key{};
    key.netns = netns_;
    key.mark = q.mark;
    key.family = q.dst.family;
    key.tos = q.tos;
    std::memcpy(key.dst, q.dst.data(), q.dst.size());
    const bool has_src = !q.src.any();
    const struct {
        bool oif, src;
    } tries[] = {{true, true}, {true, false}, {false, true}, {false, false}};
    for (auto t : tries) {
        if ((t.oif && !q.oif) || (t.src && !has_src))
            continue;
        key.oif = t.oif ? q.oif : 0;
        std::memset(key.src, 0, sizeof(key.src));
        if (t.src)
            std::memcpy(key.src, q.src.data(), q.src.size());
        oob_route v{};
        if (read_stable(routes_.get(), key, v) != 0)
            continue;
        r = Route{};
        r.type = 1;  // RTN_UNICAST: the learner records unicast decisions only
        r.oif = v.oif;
        r.lower_ifindex = v.lower_ifindex ? v.lower_ifindex : v.oif;
        r.vid = v.vid;
        r.gateway = v.flags & OOB_ROUTE_GATEWAY;
        uint8_t fam = v.family ? v.family : q.dst.family;
        if (r.gateway) {
            r.gw.family = fam;
            std::memcpy(r.gw.bytes.data(), v.gw, 16);
        }
        if (v.flags & OOB_ROUTE_COMPLETE) {
            r.prefsrc.family = fam;
            std::memcpy(r.prefsrc.bytes.data(), v.prefsrc, 16);
            r.mtu = v.mtu;
        }
        r.table = v.table;
        return 0;
    }
    return -ENOENT;
}

int MapRouteSource::neigh(uint32_t ifindex, const IpAddr &addr, Neigh &n) {
    if (!available())
        return -ENOENT;
    oob_neigh_key key{};
    key.ifindex = ifindex;
    key.family = addr.family;
    std::memcpy(key.addr, addr.data(), addr.size());
    oob_neigh v{};
    if (read_stable(neighs_.get(), key, v) != 0 || !neigh_usable(v.state))
        return -ENOENT;
    std::memcpy(n.mac.data(), v.mac, 6);
    n.state = v.state;
    return 0;
}

const LinkInfo *NetlinkRouteSource::link(uint32_t ifindex) {
    auto it = links_.find(ifindex);
    if (it != links_.end())
        return &it->second;
    LinkInfo li;
    if (nl_.link(ifindex, li) != 0)
        return nullptr;
    return &links_.emplace(ifindex, li).first->second;
}

int NetlinkRouteSource::route(const RouteQuery &q, Route &r) {
    int rc = nl_.route(q, r);
    if (rc)
        return rc;
    const LinkInfo *li = link(r.oif);
    if (!li)
        return -ENODEV;
    r.lower_ifindex = li->lower_ifindex;
    r.vid = li->is_vlan ? li->vid : 0;
    if (!r.mtu)
        r.mtu = li->mtu;
    return 0;
}

int NetlinkRouteSource::neigh(uint32_t ifindex, const IpAddr &addr, Neigh &n) {
    int rc = nl_.neigh(ifindex, addr, n);
    if (rc)
        return rc;
    return neigh_usable(n.state) ? 0 : -ENOENT;
}

ChainRouteSource::ChainRouteSource(std::vector<std::shared_ptr<RouteSource>> sources)
    : sources_(std::move(sources)) {
    for (auto &s : sources_)
        stats_.push_back(RouteSourceStats{s->name()});
}

std::string ChainRouteSource::name() const {
    std::string n;
    for (auto &s : sources_)
        n += (n.empty() ? "" : "+") + s->name();
    return n;
}

int ChainRouteSource::route(const RouteQuery &q, Route &r) {
    int rc = -ENOENT;
    for (size_t i = 0; i < sources_.size(); i++) {
        rc = sources_[i]->route(q, r);
        if (rc == 0) {
            stats_[i].route_hits++;
            return 0;
        }
        if (rc == -ENOENT) {
            stats_[i].route_misses++;
            continue;
        }
        // A definitive answer (unreachable, prohibited): later sources would say the same.
        stats_[i].route_errors++;
        return rc;
    }
    return rc;
}

int ChainRouteSource::neigh(uint32_t ifindex, const IpAddr &addr, Neigh &n) {
    for (size_t i = 0; i < sources_.size(); i++) {
        if (sources_[i]->neigh(ifindex, addr, n) == 0) {
            stats_[i].neigh_hits++;
            return 0;
        }
        stats_[i].neigh_misses++;
    }
    return -ENOENT;
}

std::shared_ptr<ChainRouteSource> default_route_source(const std::string &pin_root) {
    return std::make_shared<ChainRouteSource>(std::vector<std::shared_ptr<RouteSource>>{
        std::make_shared<MapRouteSource>(pin_root), std::make_shared<NetlinkRouteSource>()});
}

}  // namespace oobbpf::oob
