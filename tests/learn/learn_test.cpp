// SPDX-License-Identifier: MIT
// Route and neighbour learning against the real in-band stack, in namespaces this test makes:
// policy routing (ip rule from / fwmark / tos / table N / fall-through to main), gateway and
// on-link routes, a VLAN port, IPv6, invalidation on route/rule/link changes, neighbour
// resolution, failure and flush, both back-ends agreeing, the pinned maps as bpftool prints
// them, and the lock-free cache over the real mmap'ed maps.
#include "error.h"
#include "kmod_backend.h"
#include "learner.h"
#include "netns.h"
#include "route_cache.h"
#include "store.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/neighbour.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <thread>

using namespace oobbpf;
using namespace oobbpf::learn;
using namespace oobbpf::test;
using Clock = std::chrono::steady_clock;

namespace {

// Host namespace (where the learner runs) and a peer, joined by two veth pairs:
//   v0: 10.1.0.1/24 fd00:1::1/64 -- 10.1.0.2/24 fd00:1::2/64   (oob port)
//   v0.42: 10.42.0.1/24 -- 10.42.0.2/24                          (VLAN oob port, lower v0)
//   v1: 10.2.0.1/24 -- 10.2.0.2/24                              (in-band only)
// The peer owns 10.9.0.9 and fd00:9::9 behind the gateways.
// Host routing:
//   main:      10.9.0.0/24 via 10.1.0.2 dev v0; fd00:9::/64 via fd00:1::2 dev v0
//   table 100: 10.9.0.0/24 via 10.42.0.2 dev v0.42
//   table 200: 10.8.0.0/24 via 10.1.0.2 (no 10.9/24: lookups fall through to main)
//   table 300: 10.9.0.0/24 via 10.2.0.2 dev v1
//   rules: from 10.42.0.1 -> 100; fwmark 7 -> 100; tos 0x10 -> 100; from 10.1.0.1 -> 200;
//          fwmark 9 -> 300
struct Topo {
    Netns host, peer;
    Veth v0, v1;
    std::string a42, b42;
    bool real_vlan = false;
    uint32_t a0 = 0, a1 = 0, a42i = 0;
    std::string root;

    Topo() {
        v0 = make_veth(host, peer, "10.1.0.1/24", "10.1.0.2/24");
        v1 = make_veth(host, peer, "10.2.0.1/24", "10.2.0.2/24");
        a42 = v0.a + ".42";
        b42 = v0.b + ".42";
        // A VLAN port is (device, lower device, VID) from the port configuration, whatever
        // the upper device is. Kernels built without 802.1Q get a macvlan upper device as the
        // stand-in (the peer then answers on its plain device).
        real_vlan =
            host.sh("ip link add link " + v0.a + " name " + a42 + " type vlan id 42").status == 0;
        if (real_vlan) {
            peer.sh_ok("ip link add link " + v0.b + " name " + b42 + " type vlan id 42 && " +
                       "ip link set " + b42 + " up && ip addr add 10.42.0.2/24 dev " + b42);
        } else {
            host.sh_ok("ip link add link " + v0.a + " name " + a42 + " type macvlan mode bridge");
            b42 = v0.b;
            peer.sh_ok("ip addr add 10.42.0.2/24 dev " + b42);
        }
        host.sh_ok("ip link set " + a42 + " up && ip addr add 10.42.0.1/24 dev " + a42);
        host.sh_ok("ip -6 addr add fd00:1::1/64 dev " + v0.a + " nodad");
        peer.sh_ok("ip -6 addr add fd00:1::2/64 dev " + v0.b + " nodad");
        peer.sh_ok("ip addr add 10.9.0.9/32 dev lo && ip -6 addr add fd00:9::9/128 dev lo");
        host.sh_ok("ip route add 10.9.0.0/24 via 10.1.0.2 dev " + v0.a);
        host.sh_ok("ip -6 route add fd00:9::/64 via fd00:1::2 dev " + v0.a);
        host.sh_ok("ip route add 10.9.0.0/24 via 10.42.0.2 dev " + a42 + " table 100");
        host.sh_ok("ip route add 10.8.0.0/24 via 10.1.0.2 dev " + v0.a + " table 200");
        host.sh_ok("ip route add 10.9.0.0/24 via 10.2.0.2 dev " + v1.a + " table 300");
        host.sh_ok("ip rule add from 10.42.0.1 lookup 100 pref 100");
        host.sh_ok("ip rule add fwmark 7 lookup 100 pref 101");
        host.sh_ok("ip rule add tos 0x10 lookup 100 pref 102");
        host.sh_ok("ip rule add from 10.1.0.1 lookup 200 pref 103");
        host.sh_ok("ip rule add fwmark 9 lookup 300 pref 104");
        a0 = uint32_t(host.ifindex(v0.a));
        a1 = uint32_t(host.ifindex(v1.a));
        a42i = uint32_t(host.ifindex(a42));
        root = make_pin_root();
    }
    ~Topo() { remove_pin_root(root); }

    uint32_t netns() const {
        struct stat st {};
        stat(("/run/netns/" + host.name()).c_str(), &st);
        return uint32_t(st.st_ino);
    }

    std::vector<PortDev> ports() const { return {{a0, a0, 0}, {a42i, a0, 42}}; }

    Config config(const std::string &backend, const std::string &pin_root = "") const {
        Config c;
        c.pin_root = pin_root.empty() ? root : pin_root;
        c.backend = backend;
        c.ports = ports();
        c.netns = "/run/netns/" + host.name();
        return c;
    }

    std::string peer_mac(const std::string &dev) const {
        std::string out = peer.sh_ok("ip -o link show dev " + dev);
        auto p = out.find("link/ether ");
        return p == std::string::npos ? "" : out.substr(p + 11, 17);
    }
};

std::array<uint8_t, 16> addr16(const std::string &s, uint8_t *family = nullptr) {
    std::array<uint8_t, 16> a{};
    if (inet_pton(AF_INET, s.c_str(), a.data()) == 1) {
        if (family)
            *family = AF_INET;
    } else if (inet_pton(AF_INET6, s.c_str(), a.data()) == 1) {
        if (family)
            *family = AF_INET6;
    } else {
        ADD_FAILURE() << "bad address " << s;
    }
    return a;
}

ResolveRequest req(const std::string &dst, const std::string &from = "", uint32_t mark = 0,
                   uint8_t tos = 0) {
    ResolveRequest r;
    r.dst = addr16(dst, &r.family);
    if (!from.empty())
        r.src = addr16(from);
    r.mark = mark;
    r.tos = tos;
    r.timeout = std::chrono::milliseconds(4000);
    return r;
}

oob_route_key key_in(uint32_t netns, const std::string &dst, const std::string &from = "",
                     uint32_t mark = 0, uint8_t tos = 0, uint32_t oif = 0) {
    uint8_t family = AF_INET;
    auto d = addr16(dst, &family);
    std::array<uint8_t, 16> s{};
    if (!from.empty())
        s = addr16(from);
    return route_key(netns, family, d.data(), from.empty() ? nullptr : s.data(), mark, tos, oif);
}

oob_route_key key_of(const Learner &l, const std::string &dst, const std::string &from = "",
                     uint32_t mark = 0, uint8_t tos = 0) {
    return key_in(l.netns(), dst, from, mark, tos);
}

std::optional<oob_route> find_route(const Learner &l, const oob_route_key &k) {
    for (const auto &[rk, r] : l.routes())
        if (std::memcmp(&rk, &k, sizeof(k)) == 0)
            return r;
    return std::nullopt;
}

std::optional<oob_neigh> find_neigh(const Learner &l, uint32_t ifindex, const std::string &addr) {
    uint8_t family = AF_INET;
    auto a = addr16(addr, &family);
    oob_neigh_key k = neigh_key(ifindex, family, a.data());
    for (const auto &[nk, n] : l.neighs())
        if (std::memcmp(&nk, &k, sizeof(k)) == 0)
            return n;
    return std::nullopt;
}

// Polls until pred holds; returns the time it took, or -1 ms when it never did.
std::chrono::milliseconds wait_for(const std::function<bool()> &pred,
                                   std::chrono::milliseconds limit = std::chrono::seconds(3)) {
    const auto t0 = Clock::now();
    while (Clock::now() - t0 < limit) {
        if (pred())
            return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return std::chrono::milliseconds(-1);
}

std::string ip(uint8_t family, const __be32 *a) {
    return addr_text(family, a);
}

std::string mac(const uint8_t *m) {
    char b[18];
    snprintf(b, sizeof(b), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
    return b;
}

// The content that must agree between back-ends (not the time or change counter).
std::string describe(const oob_route_key &k, const oob_route &r) {
    return ip(k.family, k.dst) + " from " + ip(k.family, k.src) + " mark " +
           std::to_string(k.mark) + " tos " + std::to_string(k.tos) + " oif " +
           std::to_string(k.oif) + " -> dev " + std::to_string(r.oif) + " lower " +
           std::to_string(r.lower_ifindex) + " vid " + std::to_string(r.vid) + " flags " +
           std::to_string(r.flags) + " gw " + ip(k.family, r.gw) + " src " +
           ip(k.family, r.prefsrc) + " mtu " + std::to_string(r.mtu) + " table " +
           std::to_string(r.table);
}

// Invalidation bound asserted here; docs/routes.md states the design figure (settle_max plus
// one RTM_GETROUTE per known flow), this leaves room for a loaded 2-core test machine.
constexpr auto kBound = std::chrono::milliseconds(1000);

class LearnBackend : public ::testing::TestWithParam<std::string> {};

}  // namespace

// ---- policy routing: the whole RPDB, because the kernel decides ---------------------------------

TEST_P(LearnBackend, PolicyRoutingRulesTablesAndFallThrough) {
    OOBBPF_REQUIRE_PRIVILEGE();
    Topo t;
    Learner l(t.config(GetParam()));
    l.start();
    EXPECT_EQ(l.backend(), GetParam());

    // main: via the plain port
    Resolved r = l.resolve(req("10.9.0.9"));
    EXPECT_EQ(r.route.oif, t.a0);
    EXPECT_EQ(r.route.vid, 0);
    EXPECT_EQ(r.route.table, 254U);
    EXPECT_EQ(ip(AF_INET, r.route.gw), "10.1.0.2");
    EXPECT_EQ(ip(AF_INET, r.route.prefsrc), "10.1.0.1");
    EXPECT_EQ(r.route.flags, OOB_ROUTE_GATEWAY | OOB_ROUTE_COMPLETE);
    EXPECT_EQ(r.route.mtu, 1500U);
    EXPECT_EQ(r.dev, t.v0.a);

    // from 10.42.0.1 -> table 100 -> the VLAN port
    r = l.resolve(req("10.9.0.9", "10.42.0.1"));
    EXPECT_EQ(r.route.table, 100U);
    EXPECT_EQ(r.route.oif, t.a42i);
    EXPECT_EQ(r.route.lower_ifindex, t.a0);
    EXPECT_EQ(r.route.vid, 42);
    EXPECT_EQ(ip(AF_INET, r.route.gw), "10.42.0.2");
    EXPECT_EQ(ip(AF_INET, r.route.prefsrc), "10.42.0.1");
    EXPECT_EQ(r.dev, t.a42);
    EXPECT_EQ(r.lower_dev, t.v0.a);

    // fwmark 7 -> table 100
    r = l.resolve(req("10.9.0.9", "", 7));
    EXPECT_EQ(r.route.table, 100U);
    EXPECT_EQ(r.route.oif, t.a42i);
    EXPECT_EQ(ip(AF_INET, r.route.prefsrc), "10.42.0.1");

    // tos 0x10 -> table 100
    r = l.resolve(req("10.9.0.9", "", 0, 0x10));
    EXPECT_EQ(r.route.table, 100U);
    EXPECT_EQ(r.key.tos, 0x10);

    // from 10.1.0.1 -> table 200 has no route for 10.9/24 -> falls through to main
    r = l.resolve(req("10.9.0.9", "10.1.0.1"));
    EXPECT_EQ(r.route.table, 254U);
    EXPECT_EQ(r.route.oif, t.a0);

    // oif fixes the device: main's route leaves by another one, so the kernel takes the
    // destination as on-link through the given device (as `ip route get ... oif DEV` says)
    ResolveRequest oif = req("10.9.0.9");
    oif.oif = t.a42;
    r = l.resolve(oif);
    EXPECT_EQ(r.key.oif, t.a42i);
    EXPECT_EQ(r.route.oif, t.a42i);
    EXPECT_FALSE(r.route.flags & OOB_ROUTE_GATEWAY);
    EXPECT_EQ(r.oif_dev, t.a42);
    oif.oif = "nosuchdev0";
    EXPECT_THROW(l.resolve(oif), Error);

    // fwmark 9 -> table 300 -> the in-band-only device: no entry, a clear error
    try {
        l.resolve(req("10.9.0.9", "", 9));
        ADD_FAILURE() << "a route via a non-port device was accepted";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("not an oob port"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(find_route(l, key_of(l, "10.9.0.9", "", 9)));
    // no route at all
    EXPECT_THROW(l.resolve(req("192.0.2.1")), Error);

    // Two flows to one destination that the RPDB routes differently have their own entries.
    auto plain = find_route(l, key_of(l, "10.9.0.9"));
    auto marked = find_route(l, key_of(l, "10.9.0.9", "", 7));
    ASSERT_TRUE(plain && marked);
    EXPECT_EQ(plain->oif, t.a0);
    EXPECT_EQ(marked->oif, t.a42i);
    EXPECT_EQ(l.routes().size(), 6U);

    // What `oobbpf route show` and `oobbpf status` print.
    const auto entries = l.entries();
    EXPECT_EQ(entries.size(), 6U);
    for (const auto &e : entries)
        EXPECT_TRUE(e.dev == t.v0.a || e.dev == t.a42) << e.dev;
    const nlohmann::json st = status_json(l);
    EXPECT_EQ(st["backend"], GetParam());
    EXPECT_EQ(st["routes"], 6);
    EXPECT_EQ(st["netns"], t.netns());
}

// ---- gateway vs on-link, neighbours -------------------------------------------------------------

TEST_P(LearnBackend, GatewayAndOnLinkWithTheirNeighbours) {
    OOBBPF_REQUIRE_PRIVILEGE();
    Topo t;
    Learner l(t.config(GetParam()));
    l.start();

    Resolved on = l.resolve(req("10.1.0.2"));
    EXPECT_FALSE(on.route.flags & OOB_ROUTE_GATEWAY);
    EXPECT_EQ(ip(AF_INET, on.nh.addr), "10.1.0.2");  // next hop = destination
    ASSERT_TRUE(on.neigh) << "neighbour did not resolve: " << nud_state_name(on.neigh_state);
    EXPECT_EQ(mac(on.neigh->mac), t.peer_mac(t.v0.b));

    Resolved gw = l.resolve(req("10.9.0.9"));
    EXPECT_TRUE(gw.route.flags & OOB_ROUTE_GATEWAY);
    EXPECT_EQ(ip(AF_INET, gw.nh.addr), "10.1.0.2");  // next hop = gateway
    ASSERT_TRUE(gw.neigh);

    // The VLAN port's next hop is a neighbour of the VLAN device.
    Resolved vl = l.resolve(req("10.9.0.9", "10.42.0.1"));
    EXPECT_EQ(vl.nh.ifindex, t.a42i);
    ASSERT_TRUE(vl.neigh);
    EXPECT_EQ(mac(vl.neigh->mac), t.peer_mac(t.b42));
    auto n = find_neigh(l, t.a42i, "10.42.0.2");
    ASSERT_TRUE(n);
    EXPECT_TRUE(n->state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE));

    // Output for the CLI names the devices.
    const std::string text = to_text(vl);
    EXPECT_NE(text.find("dev " + t.a42 + " lower " + t.v0.a + " vlan 42"), std::string::npos)
        << text;
    EXPECT_EQ(to_json(vl)["neigh"]["lladdr"], t.peer_mac(t.b42));
}

TEST_P(LearnBackend, Ipv6) {
    OOBBPF_REQUIRE_PRIVILEGE();
    Topo t;
    Learner l(t.config(GetParam()));
    l.start();
    Resolved r = l.resolve(req("fd00:9::9"));
    EXPECT_EQ(r.key.family, AF_INET6);
    EXPECT_EQ(r.route.oif, t.a0);
    EXPECT_EQ(ip(AF_INET6, r.route.gw), "fd00:1::2");
    EXPECT_EQ(ip(AF_INET6, r.route.prefsrc), "fd00:1::1");
    EXPECT_EQ(r.route.table, 254U);
    EXPECT_TRUE(r.route.flags & OOB_ROUTE_COMPLETE);
    ASSERT_TRUE(r.neigh) << nud_state_name(r.neigh_state);
    EXPECT_EQ(mac(r.neigh->mac), t.peer_mac(t.v0.b));
    Resolved on = l.resolve(req("fd00:1::2"));
    EXPECT_FALSE(on.route.flags & OOB_ROUTE_GATEWAY);
}

// ---- invalidation ------------------------------------------------------------------------------

TEST_P(LearnBackend, RouteRuleAndLinkChangesInvalidate) {
    OOBBPF_REQUIRE_PRIVILEGE();
    Topo t;
    Learner l(t.config(GetParam()));
    l.start();
    const auto plain = key_of(l, "10.9.0.9");
    const auto from42 = key_of(l, "10.9.0.9", "10.42.0.1");
    const auto mark7 = key_of(l, "10.9.0.9", "", 7);
    l.resolve(req("10.9.0.9"));
    l.resolve(req("10.9.0.9", "10.42.0.1"));
    l.resolve(req("10.9.0.9", "", 7));

    // ip route replace: the entry follows (now via the VLAN port)
    t.host.sh_ok("ip route replace 10.9.0.0/24 via 10.42.0.2 dev " + t.a42);
    auto took = wait_for([&] {
        auto r = find_route(l, plain);
        return r && r->oif == t.a42i && r->vid == 42;
    });
    EXPECT_GE(took.count(), 0) << "route replace not followed";
    EXPECT_LE(took, kBound);
    std::cout << "[ bound ] route replace followed in " << took.count() << " ms\n";

    // ip route del: the entry goes
    t.host.sh_ok("ip route del 10.9.0.0/24");
    took = wait_for([&] { return !find_route(l, plain); });
    EXPECT_GE(took.count(), 0) << "route del not followed";
    EXPECT_LE(took, kBound);
    std::cout << "[ bound ] route del followed in " << took.count() << " ms\n";

    // ... and comes back when the route does (the flow stays watched)
    t.host.sh_ok("ip route add 10.9.0.0/24 via 10.1.0.2 dev " + t.v0.a);
    took = wait_for([&] {
        auto r = find_route(l, plain);
        return r && r->oif == t.a0;
    });
    EXPECT_GE(took.count(), 0) << "route add not followed";

    // ip rule del: from 10.42.0.1 now falls through to main
    ASSERT_EQ(find_route(l, from42)->table, 100U);
    t.host.sh_ok("ip rule del from 10.42.0.1 lookup 100");
    took = wait_for([&] {
        auto r = find_route(l, from42);
        return r && r->table == 254U;
    });
    EXPECT_GE(took.count(), 0) << "rule del not followed";
    EXPECT_LE(took, kBound);
    std::cout << "[ bound ] rule del followed in " << took.count() << " ms\n";

    // link down: a flow only the VLAN port reaches loses its entry; the fwmark 7 flow follows
    // the kernel to main (table 100's route went with the device) and so to the plain port.
    const auto onlink42 = key_of(l, "10.42.0.2");
    l.resolve(req("10.42.0.2"));
    ASSERT_EQ(find_route(l, mark7)->oif, t.a42i);
    t.host.sh_ok("ip link set " + t.a42 + " down");
    took = wait_for([&] {
        auto r = find_route(l, mark7);
        return !find_route(l, onlink42) && r && r->oif == t.a0 && r->table == 254U;
    });
    EXPECT_GE(took.count(), 0) << "link down not followed";
    EXPECT_LE(took, kBound);
    std::cout << "[ bound ] link down followed in " << took.count() << " ms\n";
    EXPECT_TRUE(find_route(l, plain));  // unaffected

    // carrier loss on the lower device (peer side down) takes the plain port's entries too
    t.peer.sh_ok("ip link set " + t.v0.b + " down");
    took = wait_for([&] { return !find_route(l, plain); });
    EXPECT_GE(took.count(), 0) << "carrier loss not followed";
    t.peer.sh_ok("ip link set " + t.v0.b + " up");
    took = wait_for([&] { return bool(find_route(l, plain)); });
    EXPECT_GE(took.count(), 0) << "carrier back not followed";
}

TEST_P(LearnBackend, NeighbourFailureChangeAndFlush) {
    OOBBPF_REQUIRE_PRIVILEGE();
    Topo t;
    Learner l(t.config(GetParam()));
    l.start();

    // Nobody owns 10.1.0.77: the route is learned, the neighbour fails and has no entry.
    ResolveRequest rq = req("10.1.0.77");
    rq.timeout = std::chrono::milliseconds(6000);
    const auto t0 = Clock::now();
    Resolved r = l.resolve(rq);
    EXPECT_FALSE(r.neigh);
    EXPECT_EQ(r.neigh_state, NUD_FAILED);
    EXPECT_LT(Clock::now() - t0, std::chrono::milliseconds(5500)) << "waited past the failure";
    EXPECT_FALSE(find_neigh(l, t.a0, "10.1.0.77"));
    EXPECT_TRUE(find_route(l, key_of(l, "10.1.0.77")));

    // A resolved neighbour, then changed in-band: the mirror follows.
    r = l.resolve(req("10.1.0.2"));
    ASSERT_TRUE(r.neigh);
    t.host.sh_ok("ip neigh replace 10.1.0.2 lladdr 02:00:00:00:00:99 dev " + t.v0.a +
                 " nud permanent");
    auto took = wait_for([&] {
        auto n = find_neigh(l, t.a0, "10.1.0.2");
        return n && mac(n->mac) == "02:00:00:00:00:99" && n->state == NUD_PERMANENT;
    });
    EXPECT_GE(took.count(), 0) << "neighbour change not mirrored";

    // ip neigh flush: gone (flush skips permanent entries, so make it reachable again first)
    t.host.sh_ok("ip neigh replace 10.1.0.2 lladdr 02:00:00:00:00:98 dev " + t.v0.a +
                 " nud reachable");
    ASSERT_GE(wait_for([&] {
                  auto n = find_neigh(l, t.a0, "10.1.0.2");
                  return n && n->state == NUD_REACHABLE;
              }).count(),
              0);
    t.host.sh_ok("ip neigh flush dev " + t.v0.a);
    took = wait_for([&] { return !find_neigh(l, t.a0, "10.1.0.2"); });
    EXPECT_GE(took.count(), 0) << "neighbour flush not mirrored";
    EXPECT_LE(took, kBound);
    std::cout << "[ bound ] neigh flush followed in " << took.count() << " ms\n";
}

INSTANTIATE_TEST_SUITE_P(Backends, LearnBackend, ::testing::Values("tp_btf", "netlink"),
                         [](const auto &p) { return p.param; });

// ---- tp_btf: decisions taken by applications are learned without asking -------------------------

TEST(LearnTpBtf, LearnsDecisionsOfInBandTraffic) {
    OOBBPF_REQUIRE_PRIVILEGE();
    Topo t;
    Learner l(t.config("tp_btf"));
    l.start();
    ASSERT_EQ(l.backend(), "tp_btf");

    t.host.sh_ok(
        "bash -c \"echo x > /dev/udp/10.9.0.9/9; echo x > /dev/udp/10.2.0.2/9;"
        " echo x > /dev/udp/fd00:9::9/9\"");
    const auto k4 = key_of(l, "10.9.0.9");
    const auto k6 = key_of(l, "fd00:9::9");
    auto took = wait_for([&] { return find_route(l, k4) && find_route(l, k6); });
    ASSERT_GE(took.count(), 0) << "decisions of in-band traffic not learned";
    auto r = find_route(l, k4);
    EXPECT_EQ(r->oif, t.a0);
    EXPECT_EQ(ip(AF_INET, r->gw), "10.1.0.2");
    EXPECT_EQ(ip(AF_INET, r->prefsrc), "10.1.0.1");
    EXPECT_EQ(r->mtu, 1500U);
    EXPECT_EQ(r->table, 254U);
    // connect() looks up again with the chosen source: that flow is an entry of its own
    EXPECT_TRUE(find_route(l, key_of(l, "10.9.0.9", "10.1.0.1")));
    // Not towards an oob port: not learned.
    for (const auto &[k, v] : l.routes())
        EXPECT_NE(ip(k.family, k.dst), "10.2.0.2");
    // The kernel resolved the gateway while sending: mirrored.
    EXPECT_GE(wait_for([&] { return bool(find_neigh(l, t.a0, "10.1.0.2")); }).count(), 0);

    // A marked socket follows the fwmark rule.
    // SO_MARK is SOL_SOCKET (1) option 36.
    t.host.sh_ok("echo x | socat -u - UDP4-SENDTO:10.9.0.9:9,setsockopt-int=1:36:7");
    took = wait_for([&] { return bool(find_route(l, key_of(l, "10.9.0.9", "", 7))); });
    ASSERT_GE(took.count(), 0) << "marked flow not learned";
    EXPECT_EQ(find_route(l, key_of(l, "10.9.0.9", "", 7))->oif, t.a42i);
    EXPECT_GT(l.stats().decisions, 0U);
}

// ---- both back-ends: same decisions, same entries
// ------------------------------------------------

TEST(LearnBackends, SameEntriesForSameDecisions) {
    OOBBPF_REQUIRE_PRIVILEGE();
    Topo t;
    const std::vector<ResolveRequest> rqs = {
        req("10.9.0.9"),
        req("10.9.0.9", "10.42.0.1"),
        req("10.9.0.9", "", 7),
        req("10.9.0.9", "", 0, 0x10),
        req("10.9.0.9", "10.1.0.1"),
        req("10.1.0.2"),
        req("fd00:9::9"),
        req("fd00:1::2"),
    };
    std::map<std::string, std::set<std::string>> seen;
    for (const std::string backend : {"tp_btf", "netlink"}) {
        const std::string root = make_pin_root();
        {
            Learner l(t.config(backend, root));
            l.start();
            ASSERT_EQ(l.backend(), backend);
            for (const auto &rq : rqs)
                l.resolve(rq);
            l.settle();
            for (const auto &[k, r] : l.routes())
                seen[backend].insert(describe(k, r));
        }
        remove_pin_root(root);
    }
    EXPECT_EQ(seen["tp_btf"].size(), rqs.size());
    EXPECT_EQ(seen["tp_btf"], seen["netlink"]);
}

TEST(LearnBackends, KmodWithoutTheModuleSaysSo) {
    OOBBPF_REQUIRE_PRIVILEGE();
    if (access("/dev/oobbpf", F_OK) == 0)
        GTEST_SKIP() << "the module is loaded here";
    Topo t;
    Config c = t.config("kmod");
    c.kmod = kmod_factory(MapFds{});
    Learner l(c);
    try {
        l.start();
        ADD_FAILURE() << "kmod started without the module";
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("kmod: /dev/oobbpf (module not loaded)"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_FALSE(l.running());
    // auto takes tp_btf first, as the probe order says.
    Learner a(t.config("auto"));
    a.start();
    EXPECT_EQ(a.backend(), "tp_btf");
}

// ---- the pinned maps: bpftool prints them with field names
// ---------------------------------------

TEST(LearnMaps, BpftoolPrettyPrintsRoutesAndNeighbours) {
    OOBBPF_REQUIRE_PRIVILEGE();
    Topo t;
    Learner l(t.config("auto"));
    l.start();
    l.resolve(req("10.9.0.9", "10.42.0.1"));

    auto dump = [&](const char *name) {
        return nlohmann::json::parse(sh_ok("bpftool -j map dump pinned " + t.root + "/" + name));
    };
    nlohmann::json routes = dump(OOB_PIN_ROUTES);
    ASSERT_EQ(routes.size(), 1U) << routes.dump();
    const auto &f = routes[0]["formatted"];
    for (const char *field : {"netns", "oif", "mark", "family", "tos", "dst", "src"})
        EXPECT_TRUE(f["key"].contains(field)) << field << " in " << f.dump();
    for (const char *field : {"oif", "lower_ifindex", "vid", "family", "flags", "table", "mtu",
                              "gw", "prefsrc", "learned_ns", "seq"})
        EXPECT_TRUE(f["value"].contains(field)) << field << " in " << f.dump();
    EXPECT_EQ(f["value"]["vid"], 42);
    EXPECT_EQ(f["value"]["table"], 100);
    EXPECT_EQ(f["key"]["netns"], l.netns());

    nlohmann::json neighs = dump(OOB_PIN_NEIGHS);
    ASSERT_GE(neighs.size(), 1U);
    bool found = false;
    for (const auto &e : neighs) {
        const auto &nf = e["formatted"];
        for (const char *field : {"ifindex", "family", "addr"})
            EXPECT_TRUE(nf["key"].contains(field)) << field;
        for (const char *field : {"mac", "state", "updated_ns", "seq"})
            EXPECT_TRUE(nf["value"].contains(field)) << field;
        found = found || nf["key"]["ifindex"] == t.a42i;
    }
    EXPECT_TRUE(found) << neighs.dump();

    // The plain text dump names the fields too.
    const std::string text = sh_ok("bpftool map dump pinned " + t.root + "/" + OOB_PIN_ROUTES);
    EXPECT_NE(text.find("\"prefsrc\""), std::string::npos) << text;
    EXPECT_NE(text.find("\"lower_ifindex\""), std::string::npos) << text;
}

// ---- lock-free reads over the pinned caches
// ------------------------------------------------------

TEST(LearnCache, ReaderSeesWhatTheMapsHold) {
    OOBBPF_REQUIRE_PRIVILEGE();
    Topo t;
    Learner l(t.config("auto"));
    l.start();
    l.resolve(req("10.9.0.9"));
    l.resolve(req("10.9.0.9", "", 7));
    l.resolve(req("fd00:9::9"));

    CacheReader c = CacheReader::open(t.root);
    EXPECT_EQ(c.netns(), l.netns());
    const int routes_fd = bpf_obj_get((t.root + "/" + OOB_PIN_ROUTES).c_str());
    ASSERT_GE(routes_fd, 0);
    size_t n = 0;
    for (const auto &[k, r] : l.routes()) {
        oob_route cached{}, mapped{};
        ASSERT_EQ(c.route(k, &cached), Lookup::hit);
        ASSERT_EQ(bpf_map_lookup_elem(routes_fd, &k, &mapped), 0);
        EXPECT_EQ(std::memcmp(&cached, &mapped, sizeof(mapped)), 0);
        oob_neigh nb{};
        EXPECT_EQ(c.neigh(next_hop(k, cached), &nb), Lookup::hit)
            << ip(k.family, k.dst) << ": next hop not in the neighbour cache";
        n++;
    }
    close(routes_fd);
    EXPECT_EQ(n, 3U);
    oob_route none{};
    EXPECT_EQ(c.route(key_of(l, "10.9.0.8"), &none), Lookup::miss);

    // Invalidation reaches the cache too.
    t.host.sh_ok("ip route del 10.9.0.0/24");
    EXPECT_GE(
        wait_for([&] { return c.route(key_of(l, "10.9.0.9"), &none) == Lookup::miss; }).count(), 0);
}

TEST(LearnCache, RestartedLearnerAdoptsPinnedEntries) {
    OOBBPF_REQUIRE_PRIVILEGE();
    Topo t;
    oob_route before{};
    {
        Learner l(t.config("auto"));
        l.start();
        before = l.resolve(req("10.9.0.9")).route;
    }
    // Stopped: the entries stay pinned and readable.
    CacheReader c = CacheReader::open(t.root);
    oob_route got{};
    ASSERT_EQ(c.route(key_in(t.netns(), "10.9.0.9"), &got), Lookup::hit);
    Learner l(t.config("auto"));
    l.start();
    auto r = find_route(l, key_of(l, "10.9.0.9"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->learned_ns, before.learned_ns) << "an unchanged decision was rewritten";
}

// A reader mapping the pinned cache in its own mapping, racing the learner's writer (Store) on
// the real BPF arrays: no torn entry, no lost entry.
TEST(LearnCache, ReaderRacingWriterOnRealMaps) {
    OOBBPF_REQUIRE_PRIVILEGE();
    struct PinRoot {
        std::string path = make_pin_root();
        ~PinRoot() { remove_pin_root(path); }
    } pins;
    const std::string &root = pins.path;
    struct MapSpec {
        const char *pin;
        bpf_map_type type;
        uint32_t key, value, entries, flags;
    };
    const MapSpec specs[] = {
        {OOB_PIN_ROUTES, BPF_MAP_TYPE_HASH, sizeof(oob_route_key), sizeof(oob_route),
         OOB_MAX_ROUTES, 0},
        {OOB_PIN_NEIGHS, BPF_MAP_TYPE_HASH, sizeof(oob_neigh_key), sizeof(oob_neigh),
         OOB_MAX_NEIGHS, 0},
        {OOB_PIN_ROUTE_CACHE, BPF_MAP_TYPE_ARRAY, 4, sizeof(oob_route_slot), OOB_ROUTE_SLOTS,
         BPF_F_MMAPABLE},
        {OOB_PIN_NEIGH_CACHE, BPF_MAP_TYPE_ARRAY, 4, sizeof(oob_neigh_slot), OOB_NEIGH_SLOTS,
         BPF_F_MMAPABLE},
        {OOB_PIN_CACHE_STATE, BPF_MAP_TYPE_ARRAY, 4, sizeof(oob_cache_state), 1, BPF_F_MMAPABLE},
    };
    struct Fds {
        int fd[5] = {-1, -1, -1, -1, -1};
        ~Fds() {
            for (int f : fd)
                if (f >= 0)
                    close(f);
        }
    } maps;
    int *fds = maps.fd;
    for (int i = 0; i < 5; i++) {
        LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = specs[i].flags);
        fds[i] = bpf_map_create(specs[i].type, nullptr, specs[i].key, specs[i].value,
                                specs[i].entries, &o);
        ASSERT_GE(fds[i], 0) << specs[i].pin;
        ASSERT_EQ(bpf_obj_pin(fds[i], (root + "/" + specs[i].pin).c_str()), 0);
    }
    {
        StateFds sf{fds[0], fds[1], fds[2], fds[3], fds[4]};
        Store store(sf, 1);
        CacheReader reader = CacheReader::open(root);
        auto key_n = [](uint32_t n) {
            uint32_t dst = htonl(0x0a000000U + n);
            return route_key(1, AF_INET, &dst);
        };
        auto value_of = [](uint32_t n, uint32_t v) {
            oob_route r{};
            r.oif = n;
            r.table = v;
            r.mtu = n ^ v;
            r.gw[0] = r.gw[3] = v * 7919U;
            r.prefsrc[1] = n + v;
            return r;
        };
        constexpr uint32_t kStable = 64, kChurn = 512;
        for (uint32_t n = 0; n < kStable; n++)
            store.put_route(key_n(n), value_of(n, 0));
        std::atomic<bool> stop{false};
        std::atomic<uint64_t> hits{0}, bad{0}, lost{0};
        std::thread rd([&] {
            uint64_t i = 0;
            while (!stop.load(std::memory_order_relaxed)) {
                const uint32_t n = uint32_t(i++ % (kStable + kChurn));
                oob_route r{};
                Lookup res = reader.route(key_n(n), &r);
                if (res == Lookup::hit) {
                    hits++;
                    if (r.oif != n || r.mtu != (n ^ r.table) || r.gw[0] != r.table * 7919U ||
                        r.gw[3] != r.gw[0] || r.prefsrc[1] != n + r.table)
                        bad++;
                } else if (res == Lookup::miss && n < kStable) {
                    lost++;
                }
            }
        });
        for (uint32_t v = 1; v < 300; v++) {
            for (uint32_t n = 0; n < kStable; n++)
                store.put_route(key_n(n), value_of(n, v));
            for (uint32_t n = kStable; n < kStable + kChurn; n++) {
                if (v % 2)
                    store.put_route(key_n(n), value_of(n, v));
                else
                    store.del_route(key_n(n));
            }
        }
        stop = true;
        rd.join();
        EXPECT_GT(hits.load(), 1000U);
        EXPECT_EQ(bad.load(), 0U);
        EXPECT_EQ(lost.load(), 0U);
    }
}
