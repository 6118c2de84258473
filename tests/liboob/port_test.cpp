// SPDX-License-Identifier: MIT
// The oob port from the application's side: VLAN ports (tagged egress), IPv6, raw frames of a
// non-IP protocol, several queues, the XSKMAP registration and its mirror, and what liboob
// refuses on receive (fragments, bad checksums), counted, with the in-band twin catching what
// the classifier left in-band.
#include "env.h"
#include "error.h"
#include "packet.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

namespace oobbpf::test {
namespace {

constexpr uint16_t kPort = 7000;
using test::Bytes;

oob::StackConfig config(const std::string &dev, const std::string &pin_root) {
    oob::StackConfig cfg;
    cfg.dev = dev;
    cfg.pin_root = pin_root;
    return cfg;
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; i++)
        v[i] = static_cast<uint8_t>(seed + i * 13);
    return v;
}

// AF_PACKET on the client side: raw frames.
class PacketSocket {
  public:
    PacketSocket(const std::string &ns, const std::string &dev, uint16_t ethertype) {
        NetnsScope in(ns);
        fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ethertype));
        sockaddr_ll a{};
        a.sll_family = AF_PACKET;
        a.sll_protocol = htons(ethertype);
        a.sll_ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
        ifindex_ = a.sll_ifindex;
        if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr *>(&a), sizeof(a)) < 0)
            throw std::runtime_error("packet socket");
    }
    ~PacketSocket() { close(fd_); }
    bool send(const std::vector<uint8_t> &frame) {
        return ::send(fd_, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size());
    }
    std::vector<uint8_t> recv(int ms) {
        pollfd p{fd_, POLLIN, 0};
        std::vector<uint8_t> b(2048);
        while (poll(&p, 1, ms) > 0) {
            sockaddr_ll from{};
            socklen_t len = sizeof(from);
            ssize_t n =
                recvfrom(fd_, b.data(), b.size(), 0, reinterpret_cast<sockaddr *>(&from), &len);
            if (n > 0 && from.sll_pkttype != PACKET_OUTGOING) {
                b.resize(static_cast<size_t>(n));
                return b;
            }
        }
        return {};
    }

  private:
    int fd_ = -1, ifindex_ = 0;
};

bool have_vlan_devices() {
    std::string a = unique_name("ot");
    bool ok = sh("ip link add " + a + " type veth peer name " + a + "p && ip link add link " + a +
                 " name " + a + ".9 type vlan id 9")
                  .status == 0;
    sh("ip link del " + a);
    return ok;
}

// With kernel VLAN devices on both sides: the port is eth.42, the route goes through it.
TEST(LiboobPort, VlanPortRepliesTagged) {
    OOBBPF_REQUIRE_PRIVILEGE();
    if (!have_vlan_devices())
        GTEST_SKIP() << "this kernel has no 802.1Q devices (8021q); VlanTagFromLearnedRoute "
                        "covers tagged egress";
    Netns client, oobns;
    Veth v = make_veth(client, oobns, "", "");
    // The client's VLAN device puts the tag in the frame (txvlan off) so the classifier sees it.
    client.sh_ok("ip link add link " + v.a + " name " + v.a + ".42 type vlan id 42 && ethtool -K " +
                 v.a + " txvlan off >/dev/null && ip addr add 10.78.0.1/24 dev " + v.a +
                 ".42 && ip link set " + v.a + ".42 up && ethtool -K " + v.a +
                 ".42 tx off >/dev/null");
    oobns.sh_ok("ip link add link " + v.b + " name " + v.b +
                ".42 type vlan id 42 && ip addr add "
                "10.78.0.2/24 dev " +
                v.b + ".42 && ip link set " + v.b + ".42 up");
    std::string pin_root = make_pin_root();
    const std::string pcap = "/tmp/" + unique_name("oobt") + ".pcap";
    {
        StagedClassifier cls(pin_root);
        uint32_t lower = cls.attach(oobns, v.b, 0, 1, /*untagged_port=*/false);
        cls.add_vlan_port(lower, 42, static_cast<uint32_t>(ifindex_in(oobns, v.b + ".42")), 2);
        cls.divert_udp({kPort});
        Spawn cap(client.name(), {"tcpdump", "-i", v.a, "--immediate-mode", "-U", "-w", pcap});
        OobEcho echo(oobns.name(), config(v.b + ".42", pin_root), kPort);
        ASSERT_TRUE(echo.wait_ready()) << echo.error();
        std::this_thread::sleep_for(std::chrono::milliseconds(500));

        KernelUdp udp(client.name(), "10.78.0.1");
        for (int i = 0; i < 20; i++) {
            auto msg = pattern(100 + static_cast<size_t>(i) * 50, static_cast<uint8_t>(i));
            ASSERT_TRUE(udp.send("10.78.0.2", kPort, msg));
            ASSERT_EQ(udp.recv(1000), msg) << i;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        cap.stop();
        echo.stop();
        EXPECT_EQ(echo.echoed(), 20u) << echo.error();
        EXPECT_GE(cls.port_stats(2).verdict_packets[OOB_DIVERT], 20u)
            << "diverted on the VLAN port";
        EXPECT_EQ(cls.port_stats(1).verdict_packets[OOB_DIVERT], 0u);
    }
    std::string out = sh_ok("tshark -r " + pcap +
                            " -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE"
                            " -Y 'udp.srcport == 7000' -T fields -e vlan.id -e ip.checksum.status"
                            " -e udp.checksum.status 2>/dev/null");
    std::istringstream in(out);
    std::string line;
    int frames = 0;
    while (std::getline(in, line)) {
        if (line.empty())
            continue;
        frames++;
        EXPECT_EQ(line, "42\t1\t1") << "tagged 42, checksums good";
    }
    EXPECT_EQ(frames, 20) << out;
    unlink(pcap.c_str());
    remove_pin_root(pin_root);
}

// The learned route carries the VID (the learner records it for VLAN ports): the reply goes
// out tagged on the lower device. The client speaks raw tagged frames (AF_PACKET), so this runs
// on kernels without 802.1Q devices too.
TEST(LiboobPort, VlanTagFromLearnedRoute) {
    OOBBPF_REQUIRE_PRIVILEGE();
    OobTopology t({kPort});
    t.cls->add_vlan_port(t.oob_ifindex, 42, t.oob_ifindex, 2);
    const oob::Mac client_mac = mac_of(t.client, t.veth.a), oob_mac = mac_of(t.oob, t.veth.b);
    LearnedMaps maps(t.pin_root, t.oob.name());
    maps.put_route("10.78.0.1", t.oob_ifindex, t.oob_ifindex, 42, "10.78.0.2");
    maps.put_neigh(t.oob_ifindex, "10.78.0.1", client_mac);
    const std::string pcap = "/tmp/" + unique_name("oobt") + ".pcap";
    Spawn cap(t.client.name(), {"tcpdump", "-i", t.veth.a, "--immediate-mode", "-U", "-w", pcap});
    PacketSocket ps(t.client.name(), t.veth.a, 0x8100);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    {
        NetnsScope in(t.oob.name());
        oob::Stack stack(config(t.veth.b, t.pin_root));
        auto sock = stack.udp(kPort);
        for (int i = 0; i < 10; i++) {
            Bytes req =
                udp4("10.78.0.1", "10.78.0.2", 5555, kPort, 100 + static_cast<size_t>(i), {42});
            std::memcpy(req.data(), oob_mac.data(), 6);
            std::memcpy(req.data() + 6, client_mac.data(), 6);
            ASSERT_TRUE(ps.send(req));
            oob::Datagram d[2];
            ASSERT_EQ(sock->recv(d, 2, oob::Deadline::after_ms(2000), oob::Wait::Sleep), 1u) << i;
            EXPECT_EQ(d[0].frame.info().vid, 42);
            EXPECT_EQ(d[0].frame.info().port_id, 2) << "the classifier's port, from its metadata";
            EXPECT_EQ(d[0].local.addr.str(), "10.78.0.2");
            ASSERT_EQ(sock->reply(d[0]), 0);
        }
        EXPECT_EQ(stack.counters().tx_frames, 10u);
        EXPECT_GE(t.cls->port_stats(2).verdict_packets[OOB_DIVERT], 10u);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cap.stop();
    std::string out = sh_ok("tshark -r " + pcap +
                            " -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE"
                            " -Y 'udp.srcport == 7000' -T fields -e vlan.id -e ip.checksum.status"
                            " -e udp.checksum.status -e eth.dst -e ip.src 2>/dev/null");
    std::istringstream in(out);
    std::string line;
    int frames = 0;
    const std::string want = "42\t1\t1\t" + oob::mac_str(client_mac) + "\t10.78.0.2";
    while (std::getline(in, line)) {
        if (line.empty())
            continue;
        frames++;
        EXPECT_EQ(line, want);
    }
    EXPECT_EQ(frames, 10) << out;
    unlink(pcap.c_str());
}

TEST(LiboobPort, Ip6Echo) {
    OOBBPF_REQUIRE_PRIVILEGE();
    OobTopology t({kPort});
    OobEcho echo(t.oob.name(), config(t.veth.b, t.pin_root), kPort);
    ASSERT_TRUE(echo.wait_ready()) << echo.error();
    KernelUdp client(t.client.name(), OobTopology::kClientIp6);
    for (int i = 0; i < 20; i++) {
        auto msg = pattern(64 + static_cast<size_t>(i), static_cast<uint8_t>(i));
        ASSERT_TRUE(client.send(OobTopology::kOobIp6, kPort, msg));
        std::string from;
        ASSERT_EQ(client.recv(2000, &from), msg) << i;
        EXPECT_EQ(from, OobTopology::kOobIp6);
    }
    echo.stop();
    EXPECT_EQ(echo.socket_counters().rx_inband, 0u);
    EXPECT_EQ(echo.stack_counters().tx_frames, 20u);
}

TEST(LiboobPort, RawFramesOfANonIpProtocol) {
    OOBBPF_REQUIRE_PRIVILEGE();
    constexpr uint16_t kType = 0x88b5;  // IEEE local experimental
    OobTopology t({kPort}, {kType});
    const oob::Mac client_mac = mac_of(t.client, t.veth.a), oob_mac = mac_of(t.oob, t.veth.b);
    PacketSocket ps(t.client.name(), t.veth.a, kType);

    NetnsScope in(t.oob.name());
    oob::Stack stack(config(t.veth.b, t.pin_root));
    auto raw = stack.raw(kType);
    std::vector<uint8_t> frame(14);
    std::memcpy(frame.data(), oob_mac.data(), 6);
    std::memcpy(frame.data() + 6, client_mac.data(), 6);
    frame[12] = 0x88;
    frame[13] = 0xb5;
    auto body = pattern(50, 3);
    frame.insert(frame.end(), body.begin(), body.end());
    ASSERT_TRUE(ps.send(frame));

    oob::Frame got[4];
    ASSERT_EQ(raw->recv(got, 4, oob::Deadline::after_ms(2000), oob::Wait::Sleep), 1u);
    ASSERT_EQ(got[0].len(), frame.size());
    EXPECT_EQ(0, std::memcmp(got[0].data(), frame.data(), frame.size()));
    EXPECT_EQ(got[0].l3(), got[0].data() + 14);
    EXPECT_TRUE(got[0].info().has_meta);
    EXPECT_EQ(raw->counters().rx_packets, 1u);

    // Answer: drop the Ethernet header, send the body back with a fresh one.
    got[0].pull(14);
    got[0].data()[0] = 0xee;
    ASSERT_EQ(raw->send_to(got[0], client_mac), 0);
    auto back = ps.recv(2000);
    ASSERT_EQ(back.size(), frame.size());
    EXPECT_EQ(0, std::memcmp(back.data(), client_mac.data(), 6));
    EXPECT_EQ(0, std::memcmp(back.data() + 6, oob_mac.data(), 6));
    EXPECT_EQ(back[14], 0xee);
    EXPECT_EQ(raw->counters().tx_packets, 1u);
}

TEST(LiboobPort, RegistrationIsMirroredAndGuarded) {
    OOBBPF_REQUIRE_PRIVILEGE();
    OobTopology t({kPort});
    NetnsScope in(t.oob.name());
    const int regs = t.cls->xsk_regs_fd();
    const uint32_t key = 0;  // slot 0, queue 0
    oob_xsk_reg reg{};
    {
        oob::Stack stack(config(t.veth.b, t.pin_root));
        ASSERT_EQ(bpf_map_lookup_elem(regs, &key, &reg), 0);
        EXPECT_EQ(reg.ifindex, t.oob_ifindex);
        EXPECT_EQ(reg.queue, 0u);
        EXPECT_EQ(reg.pid, static_cast<uint32_t>(getpid()));
        EXPECT_GT(reg.registered_ns, 0u);
        EXPECT_EQ(stack.xsk_slot(0), key);
    }
    EXPECT_NE(bpf_map_lookup_elem(regs, &key, &reg), 0) << "removed with the stack";

    // A live process holds the slot: refused, unless forced.
    oob_xsk_reg other{};
    other.ifindex = t.oob_ifindex;
    other.pid = 1;
    ASSERT_EQ(bpf_map_update_elem(regs, &key, &other, BPF_ANY), 0);
    try {
        oob::Stack stack(config(t.veth.b, t.pin_root));
        ADD_FAILURE() << "registered over a live holder";
    } catch (const oobbpf::Error &e) {
        EXPECT_EQ(e.err(), EBUSY) << e.what();
        EXPECT_NE(std::string(e.what()).find("held by process 1"), std::string::npos) << e.what();
    }
    oob::StackConfig forced = config(t.veth.b, t.pin_root);
    forced.force = true;
    EXPECT_NO_THROW(oob::Stack stack(forced));

    // A device without a diversion record is refused with a clear message.
    t.cls->tables().del_dev(t.oob_ifindex);
    try {
        oob::Stack stack(config(t.veth.b, t.pin_root));
        ADD_FAILURE() << "registered on a device without diversion";
    } catch (const oobbpf::Error &e) {
        EXPECT_EQ(e.err(), ENODEV) << e.what();
    }
}

TEST(LiboobPort, SeveralQueuesOneSocketEach) {
    OOBBPF_REQUIRE_PRIVILEGE();
    Netns client, oobns;
    const std::string a = unique_name("ot"), b = unique_name("ot");
    sh_ok("ip link add " + a + " numtxqueues 2 numrxqueues 2 netns " + client.name() +
          " type veth peer name " + b + " numtxqueues 2 numrxqueues 2 netns " + oobns.name());
    client.sh_ok("ip link set " + a + " up && ip addr add 10.79.0.1/24 dev " + a +
                 " && ethtool -K " + a + " tx off >/dev/null");
    oobns.sh_ok("ip link set " + b + " up && ip addr add 10.79.0.2/24 dev " + b);
    std::string pin_root = make_pin_root();
    {
        StagedClassifier cls(pin_root);
        cls.attach(oobns, b, 0, 1);
        cls.divert_udp({kPort});
        oob::StackConfig cfg = config(b, pin_root);
        cfg.queues = {0, 1};
        std::atomic<bool> stop{false};
        std::atomic<uint64_t> q0{0}, q1{0}, echoed{0};
        std::string error;
        std::thread server([&] {
            try {
                NetnsScope in(oobns.name());
                oob::Stack stack(cfg);
                auto sock = stack.udp(kPort);
                oob::Datagram d[32];
                while (!stop) {
                    size_t n = sock->recv(d, 32, oob::Deadline::after_ms(20), oob::Wait::Sleep);
                    for (size_t i = 0; i < n; i++)
                        (d[i].frame.queue() == 0 ? q0 : q1)++;
                    echoed += sock->reply_batch(d, n);
                }
            } catch (const std::exception &e) {
                error = e.what();
            }
        });
        ASSERT_TRUE(wait_registered(cls.xsk_regs_fd(), 1)) << error;
        EXPECT_TRUE(wait_registered(cls.xsk_regs_fd(), 0));
        std::vector<std::unique_ptr<KernelUdp>> flows;
        for (int i = 0; i < 32; i++)
            flows.push_back(std::make_unique<KernelUdp>(client.name(), "10.79.0.1"));
        for (auto &f : flows) {
            auto msg = pattern(80, static_cast<uint8_t>(f->port()));
            ASSERT_TRUE(f->send("10.79.0.2", kPort, msg));
            EXPECT_EQ(f->recv(1000), msg);
        }
        stop = true;
        server.join();
        EXPECT_EQ(error, "");
        EXPECT_EQ(echoed, 32u);
        EXPECT_GT(q0, 0u) << "32 flows spread over both queues";
        EXPECT_GT(q1, 0u) << "32 flows spread over both queues";
    }
    remove_pin_root(pin_root);
}

TEST(LiboobPort, FragmentsAndBadChecksumsAreRefusedAndCounted) {
    OOBBPF_REQUIRE_PRIVILEGE();
    OobTopology t({kPort}, {}, /*fragments=*/true);
    KernelUdp client(t.client.name(), OobTopology::kClientIp);
    NetnsScope in(t.oob.name());
    oob::Stack stack(config(t.veth.b, t.pin_root));
    auto sock = stack.udp(kPort);
    oob::Datagram d[8];

    // 3000 bytes over a 1500 MTU: three fragments, each diverted by the fragment rule.
    ASSERT_TRUE(client.send(OobTopology::kOobIp, kPort, pattern(3000, 1)));
    EXPECT_EQ(sock->recv(d, 8, oob::Deadline::after_ms(500), oob::Wait::Sleep), 0u);
    EXPECT_EQ(stack.counters().rx_reject[static_cast<size_t>(oob::wire::Reject::Fragment)], 3u);

    // A kernel sender with TX checksum offload on leaves a partial UDP checksum (veth).
    t.client.sh_ok("ethtool -K " + t.veth.a + " tx on >/dev/null");
    ASSERT_TRUE(client.send(OobTopology::kOobIp, kPort, pattern(100, 2)));
    EXPECT_EQ(sock->recv(d, 8, oob::Deadline::after_ms(500), oob::Wait::Sleep), 0u);
    EXPECT_EQ(stack.counters().rx_reject[static_cast<size_t>(oob::wire::Reject::BadUdpCsum)], 1u);
    EXPECT_EQ(sock->counters().rx_packets, 0u);
}

// Without a rule naming fragments, the classifier leaves them in-band: the kernel reassembles
// the datagram and the socket's in-band twin delivers it. The answer is above the MTU: the
// oob path never fragments, so under MissPolicy::InBand it goes through the in-band stack.
TEST(LiboobPort, FragmentsLeftInBandArriveReassembled) {
    OOBBPF_REQUIRE_PRIVILEGE();
    OobTopology t({kPort});
    KernelUdp client(t.client.name(), OobTopology::kClientIp);
    NetnsScope in(t.oob.name());
    oob::Stack stack(config(t.veth.b, t.pin_root));
    auto sock = stack.udp(kPort);
    const auto big = pattern(3000, 6);
    ASSERT_TRUE(client.send(OobTopology::kOobIp, kPort, big));
    oob::Datagram d[2];
    ASSERT_EQ(sock->recv(d, 2, oob::Deadline::after_ms(2000), oob::Wait::Sleep), 1u);
    EXPECT_TRUE(d[0].inband);
    ASSERT_EQ(d[0].frame.len(), big.size());
    EXPECT_EQ(0, std::memcmp(d[0].frame.data(), big.data(), big.size()));
    EXPECT_EQ(stack.counters().rx_reject[static_cast<size_t>(oob::wire::Reject::Fragment)], 0u);
    EXPECT_GE(t.cls->port_stats(1).reason[OOB_R_FRAGMENT], 3u) << "passed in-band as fragments";

    EXPECT_EQ(sock->reply(d[0]), 0);
    EXPECT_EQ(sock->counters().tx_too_big, 1u);
    EXPECT_EQ(sock->counters().tx_inband, 1u);
    EXPECT_EQ(client.recv(2000), big);

    // Larger than a frame: dropped and counted, never cut short.
    ASSERT_TRUE(client.send(OobTopology::kOobIp, kPort, pattern(5000, 7)));
    EXPECT_EQ(sock->recv(d, 2, oob::Deadline::after_ms(1000), oob::Wait::Sleep), 0u);
    EXPECT_EQ(sock->counters().rx_inband_too_big, 1u);
}

TEST(LiboobPort, SocketOutlivingItsStackFailsCleanly) {
    OOBBPF_REQUIRE_PRIVILEGE();
    OobTopology t({kPort});
    KernelUdp client(t.client.name(), OobTopology::kClientIp);
    NetnsScope in(t.oob.name());
    auto stack = std::make_unique<oob::Stack>(config(t.veth.b, t.pin_root));
    auto sock = stack->udp(kPort);
    ASSERT_TRUE(client.send(OobTopology::kOobIp, kPort, pattern(10, 1)));
    for (int i = 0; i < 200 && sock->queued() == 0; i++) {
        stack->poll();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(sock->queued(), 1u) << "a datagram waits in the socket";
    stack.reset();
    EXPECT_EQ(sock->stack(), nullptr);
    EXPECT_EQ(sock->queued(), 0u) << "its frame went with the stack's UMEM";
    oob::Datagram d[1];
    EXPECT_EQ(sock->recv(d, 1, oob::Deadline::immediate()), 0u);
    EXPECT_EQ(sock->send_copy("x", 1, {oob::IpAddr::from(OobTopology::kClientIp), 9}), -ENOTCONN);
}

TEST(LiboobPort, WhatTheClassifierLeavesInBandReachesTheTwin) {
    OOBBPF_REQUIRE_PRIVILEGE();
    OobTopology t({kPort});
    KernelUdp client(t.client.name(), OobTopology::kClientIp);
    NetnsScope in(t.oob.name());
    // Registered elsewhere: the classifier finds no socket on the queue (OOB_R_NO_XSK) and
    // passes the frames in-band, where the socket's in-band twin receives them.
    oob::StackConfig cfg = config(t.veth.b, t.pin_root);
    cfg.register_xsk = false;
    oob::Stack stack(cfg);
    auto sock = stack.udp(kPort);
    // And a port no rule diverts at all.
    auto other = stack.udp(kPort + 1);
    ASSERT_TRUE(client.send(OobTopology::kOobIp, kPort, pattern(40, 4)));
    ASSERT_TRUE(client.send(OobTopology::kOobIp, kPort + 1, pattern(41, 5)));
    oob::Datagram d[4];
    ASSERT_EQ(sock->recv(d, 4, oob::Deadline::after_ms(2000), oob::Wait::Sleep), 1u);
    EXPECT_TRUE(d[0].inband);
    EXPECT_EQ(d[0].frame.len(), 40u);
    EXPECT_EQ(d[0].remote.port, client.port());
    EXPECT_EQ(d[0].local.addr.str(), OobTopology::kOobIp);
    ASSERT_EQ(sock->reply(d[0]), 0) << "answered through the oob path";
    EXPECT_EQ(client.recv(1000), pattern(40, 4));
    ASSERT_EQ(other->recv(d, 4, oob::Deadline::after_ms(2000), oob::Wait::Sleep), 1u);
    EXPECT_TRUE(d[0].inband);
    EXPECT_EQ(sock->counters().rx_inband, 1u);
    EXPECT_EQ(other->counters().rx_inband, 1u);
    EXPECT_GE(t.cls->port_stats(1).reason[OOB_R_NO_XSK], 1u);
}

}  // namespace
}  // namespace oobbpf::test
