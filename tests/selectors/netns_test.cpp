// SPDX-License-Identifier: MIT
// Selectors on a real device: the classifier attached (native XDP) to a veth in a namespace the
// test creates, the loader installing users' objects in its slot, real traffic from the peer
// namespace (kernel UDP sockets and raw frames). Verdicts are checked where a user sees them:
// the port counters, the selectors' own maps, and what reaches a socket on the device.
// Then 100 replacements under traffic, with every misjudged frame counted.
#include "env.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef OOBBPF_HAVE_LIBOOB
#include "liboob/registry.h"
#include "liboob/xsk.h"
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace oobbpf;
using namespace oobbpf::selectors;
using namespace oobbpf::test;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint32_t kPort = 1;
const std::string kDutIp = "10.77.0.1", kPeerIp = "10.77.0.2";

// A UDP socket bound in a namespace; counts what the in-band stack delivers to it.
class UdpSink {
  public:
    UdpSink(const Netns &ns, uint16_t port) {
        InNetns in(ns);
        fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int big = 4 << 20;
        setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr *>(&a), sizeof(a)) != 0)
            throw std::runtime_error("cannot bind UDP port " + std::to_string(port));
    }
    ~UdpSink() { close(fd_); }
    // Datagrams received so far (waits up to quiet_ms for stragglers).
    uint64_t drain(int quiet_ms = 200) {
        char buf[2048];
        pollfd p{fd_, POLLIN, 0};
        while (poll(&p, 1, quiet_ms) > 0)
            while (recv(fd_, buf, sizeof(buf), 0) >= 0)
                n_++;
        return n_;
    }

  private:
    int fd_ = -1;
    uint64_t n_ = 0;
};

// Kernel UDP datagrams from a namespace (a real sender: routing, ARP, checksums in software).
class UdpSource {
  public:
    explicit UdpSource(const Netns &ns, const std::string &bind_ip = {}) {
        InNetns in(ns);
        fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (!bind_ip.empty()) {
            sockaddr_in a{};
            a.sin_family = AF_INET;
            inet_pton(AF_INET, bind_ip.c_str(), &a.sin_addr);
            bind(fd_, reinterpret_cast<sockaddr *>(&a), sizeof(a));
        }
    }
    ~UdpSource() { close(fd_); }
    void send(const std::string &ip, uint16_t port, int count = 1) {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(port);
        inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
        char payload[32] = "oobbpf selector test";
        for (int i = 0; i < count; i++)
            ASSERT_EQ(sendto(fd_, payload, sizeof(payload), 0, reinterpret_cast<sockaddr *>(&a),
                             sizeof(a)),
                      static_cast<ssize_t>(sizeof(payload)));
    }

  private:
    int fd_ = -1;
};

class SelectorNetns : public ::testing::Test {
  protected:
    void SetUp() override {
        OOBBPF_REQUIRE_PRIVILEGE();
        dut_ = std::make_unique<Netns>();
        peer_ = std::make_unique<Netns>();
        veth_ = make_veth(*dut_, *peer_, kDutIp + "/24", kPeerIp + "/24");
        cls_ = std::make_unique<Classifier>();
        // In-process: /sys/class/net under nsenter --net still shows the host's devices.
        {
            InNetns in(*dut_);
            ifindex_ = if_nametoindex(veth_.a.c_str());
        }
        ASSERT_NE(ifindex_, 0u);
        std::string link = dut_->sh_ok("ip -o link show " + veth_.a);
        size_t at = link.find("link/ether ");
        ASSERT_NE(at, std::string::npos) << link;
        parse_mac(link.substr(at + 11, 17), mac_);
        cls_->divert(ifindex_, 0, kPort);
        {
            InNetns in(*dut_);
            cls_->attach(static_cast<int>(ifindex_));
        }
        // Neighbours resolved up front, so the measured traffic is only ours.
        peer_->sh_ok("ping -c1 -W2 " + kDutIp + " >/dev/null");
    }

    void TearDown() override {
        cls_.reset();
        peer_.reset();
        dut_.reset();
    }

    // The loader as the daemon runs it: in the device's namespace.
    Installed load_sel(const std::string &obj, const std::string &section = {}) {
        InNetns in(*dut_);
        return load(cls_->pin_root(), veth_.a, bpf_object_path(obj), section);
    }

    oob_port_stats stats() { return cls_->tables().port_stats(kPort); }

    Bytes raw_udp(const std::string &src, uint16_t dport) {
        return to_mac(udp4(src, kDutIp, 40000, dport), mac_);
    }

    std::unique_ptr<Netns> dut_, peer_;
    Veth veth_;
    std::unique_ptr<Classifier> cls_;
    uint32_t ifindex_ = 0;
    uint8_t mac_[6] = {};
};

oob_port_stats delta(const oob_port_stats &a, const oob_port_stats &b) {
    oob_port_stats d{};
    for (int i = 0; i < OOB_VERDICT_MAX; i++)
        d.verdict_packets[i] = b.verdict_packets[i] - a.verdict_packets[i];
    for (int i = 0; i < OOB_REASON_MAX; i++)
        d.reason[i] = b.reason[i] - a.reason[i];
    return d;
}

}  // namespace

TEST_F(SelectorNetns, UdpRangeOnRealTraffic) {
    Installed in = load_sel("sel_udp_range");
    ASSERT_TRUE(cls_->dev(ifindex_).flags & OOB_DEV_SELECTOR);
    UdpSink in_range(*dut_, 47100), outside(*dut_, 48100);
    UdpSource src(*peer_);

    oob_port_stats s0 = stats();
    src.send(kDutIp, 47100, 20);
    src.send(kDutIp, 48100, 10);
    // Diverted with no oob socket on the queue: counted, then passed in-band, never lost.
    EXPECT_EQ(in_range.drain(), 20u);
    EXPECT_EQ(outside.drain(), 10u);
    oob_port_stats d = delta(s0, stats());
    EXPECT_EQ(d.reason[OOB_R_NO_XSK], 20u);
    EXPECT_EQ(d.reason[OOB_R_DEFAULT], 10u);

    // Reconfigured at run time through its pinned map: 47100-47100, DROP. Seen from the socket.
    ASSERT_EQ(in.map_pins.size(), 1u);
    sh_ok("bpftool map update pinned " + in.map_pins[0] +
          " key hex 00 00 00 00 value hex fc b7 fc b7 02 00 00 00");
    s0 = stats();
    src.send(kDutIp, 47100, 20);
    src.send(kDutIp, 48100, 10);
    EXPECT_EQ(in_range.drain(), 20u) << "nothing more arrived: the 20 were dropped";
    EXPECT_EQ(outside.drain(), 20u);
    d = delta(s0, stats());
    EXPECT_EQ(d.verdict_packets[OOB_DROP], 20u);
    EXPECT_EQ(d.reason[OOB_R_SELECTOR], 20u);
    EXPECT_EQ(d.reason[OOB_R_DEFAULT], 10u);
}

#ifdef OOBBPF_HAVE_LIBOOB
// With an oob socket on the queue, a selector's DIVERT ends in the socket, stamped by the
// selector's finishing call exactly as the classifier stamps its own (reason, port), and the
// in-band stack never sees those datagrams.
TEST_F(SelectorNetns, DivertReachesTheOobSocket) {
    load_sel("sel_udp_range");
    std::unique_ptr<oob::XskQueue> q;
    oob::XskRegistration reg;
    {
        InNetns in(*dut_);
        oob::XskConfig c;
        c.ifname = veth_.a;
        c.queue = 0;
        c.frames = 256;
        c.fill_size = c.comp_size = c.rx_size = c.tx_size = 128;
        q = std::make_unique<oob::XskQueue>(c);
        reg = oob::XskRegistration(cls_->pin_root(), ifindex_, 0, q->fd());
    }
    UdpSink in_range(*dut_, 47200), outside(*dut_, 48200);
    UdpSource src(*peer_);
    oob_port_stats s0 = stats();
    src.send(kDutIp, 47200, 20);
    src.send(kDutIp, 48200, 10);

    std::vector<oob::Frame> got;
    auto deadline = Clock::now() + std::chrono::seconds(2);
    while (got.size() < 20 && Clock::now() < deadline) {
        oob::Frame f[32];
        size_t n = q->rx(f, 32);
        for (size_t i = 0; i < n; i++)
            got.push_back(std::move(f[i]));
        if (!n)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(got.size(), 20u);
    for (const auto &f : got) {
        EXPECT_TRUE(f.info().has_meta);
        EXPECT_EQ(f.info().reason, OOB_R_SELECTOR);
        EXPECT_EQ(f.info().port_id, kPort);
        // Ethernet + IPv4 (20) + UDP: destination port at 14 + 20 + 2.
        ASSERT_GE(f.len(), 42u);
        EXPECT_EQ((f.data()[36] << 8) | f.data()[37], 47200);
    }
    EXPECT_EQ(in_range.drain(), 0u) << "diverted datagrams never reach the in-band stack";
    EXPECT_EQ(outside.drain(), 10u);
    oob_port_stats d = delta(s0, stats());
    EXPECT_EQ(d.verdict_packets[OOB_DIVERT], 20u);
    EXPECT_EQ(d.reason[OOB_R_SELECTOR], 20u);
    EXPECT_EQ(d.reason[OOB_R_NO_XSK], 0u);
}
#endif

TEST_F(SelectorNetns, EtherCatRawFrames) {
    load_sel("sel_ethercat");
    RawSocket raw(*peer_, veth_.b);
    auto ecat = [&](uint8_t type) {
        Frame f;
        f.ethertype = 0x88a4;
        f.l3 = {44, static_cast<uint8_t>(type << 4)};
        f.l3.resize(46, 0);
        return to_mac(f.build(), mac_);
    };
    oob_port_stats s0 = stats();
    for (int i = 0; i < 25; i++)
        raw.send(ecat(1));
    for (int i = 0; i < 5; i++)
        raw.send(ecat(5));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    oob_port_stats d = delta(s0, stats());
    EXPECT_EQ(d.reason[OOB_R_NO_XSK], 25u) << "EtherCAT commands diverted";
    EXPECT_EQ(d.reason[OOB_R_NOT_IP], 5u) << "mailbox gateway frames left to the default";
    oob_last l{};
    for (unsigned cpu = 0; cpu < possible_cpus(); cpu++) {
        oob_last c = cls_->tables().last(cpu);
        if (c.seq && c.ifindex == ifindex_)
            l = c;
    }
    EXPECT_EQ(l.port_id, kPort);
}

namespace {
struct SrcKey {
    uint8_t family, pad[3];
    uint32_t addr[4];
};
struct SrcBudget {
    uint32_t rate_pps, burst;
    uint64_t tokens_milli, last_ns, diverted, dropped;
};
}  // namespace

TEST_F(SelectorNetns, AllowListWithRateLimit) {
    Installed in = load_sel("sel_allow_src");
    ASSERT_EQ(in.map_pins.size(), 1u);
    int fd = bpf_obj_get(in.map_pins[0].c_str());
    ASSERT_GE(fd, 0);
    SrcKey peer{2, {}, {}};
    inet_pton(AF_INET, kPeerIp.c_str(), peer.addr);
    SrcBudget budget{};
    budget.rate_pps = 10;
    budget.burst = 5;
    ASSERT_EQ(bpf_map_update_elem(fd, &peer, &budget, BPF_ANY), 0);

    UdpSink sink(*dut_, 7000);
    UdpSource src(*peer_);
    RawSocket raw(*peer_, veth_.b);
    oob_port_stats s0 = stats();
    // 40 datagrams in a burst from the listed peer: the bucket admits its depth (5) plus what
    // accrues meanwhile at 10/s; the rest is dropped.
    auto t0 = Clock::now();
    src.send(kDutIp, 7000, 40);
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    // 10 frames from a source not on the list: the default.
    for (int i = 0; i < 10; i++)
        raw.send(raw_udp("10.77.0.9", 7001));
    uint64_t got = sink.drain();

    SrcBudget b{};
    ASSERT_EQ(bpf_map_lookup_elem(fd, &peer, &b), 0);
    close(fd);
    EXPECT_EQ(b.diverted + b.dropped, 40u);
    EXPECT_GE(b.diverted, 5u);
    EXPECT_LE(b.diverted, 5u + static_cast<uint64_t>(secs * 10) + 1);
    EXPECT_EQ(got, b.diverted) << "what was diverted (no socket) reached the stack, the rest not";
    oob_port_stats d = delta(s0, stats());
    EXPECT_EQ(d.reason[OOB_R_NO_XSK], b.diverted);
    EXPECT_EQ(d.verdict_packets[OOB_DROP], b.dropped);
    EXPECT_EQ(d.reason[OOB_R_DEFAULT], 10u);

    // The selector's map, as a user inspects it.
    std::string dump = sh_ok("bpftool -j map dump pinned " + in.map_pins[0]);
    EXPECT_NE(dump.find("\"diverted\":" + std::to_string(b.diverted)), std::string::npos) << dump;
}

// 100 replacements while frames flow. Both selectors drop the probe flow, so a probe frame that
// is not dropped was misjudged: during a replacement no frame may meet neither selector. Counted
// three ways: the port's DROP counter against the probes sent, a socket bound to the probe port
// (a probe that slipped through reaches it), and OOB_R_SELECTOR_ERR / OOB_R_DEFAULT.
TEST_F(SelectorNetns, HundredHotReplacementsUnderTraffic) {
    constexpr int kReplacements = 100;
    Installed first = load_sel("fx_two", "probe_a");
    UdpSink probe_sink(*dut_, 9999);
    RawSocket raw(*peer_, veth_.b);
    const Bytes probe = raw_udp(kPeerIp, 9999), marker = raw_udp(kPeerIp, 9000);

    oob_port_stats s0 = stats();
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> probes{0}, markers{0};
    std::string sender_error;
    std::thread sender([&] {
        // Paced bursts: fast enough that every replacement happens under traffic, slow enough
        // that the veth ring never overflows (a frame lost there is never judged at all).
        try {
            while (!stop.load()) {
                for (int i = 0; i < 16; i++) {
                    raw.send(probe);
                    raw.send(marker);
                }
                probes += 16;
                markers += 16;
                std::this_thread::sleep_for(std::chrono::microseconds(500));
            }
        } catch (const std::exception &e) {
            sender_error = e.what();
        }
    });
    // Stops and joins the sender however the test leaves this scope (a failed ASSERT, a throw).
    struct Joiner {
        std::atomic<bool> &stop;
        std::thread &t;
        ~Joiner() {
            stop = true;
            if (t.joinable())
                t.join();
        }
    } joiner{stop, sender};

    uint32_t prev = first.prog_id;
    int refused = 0;
    std::vector<double> load_ms;
    auto t0 = Clock::now();
    for (int i = 0; i < kReplacements; i++) {
        auto t = Clock::now();
        Installed in = load_sel("fx_two", i % 2 ? "probe_a" : "probe_b");
        load_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
        EXPECT_EQ(in.replaced_prog_id, prev) << "replacement " << i;
        EXPECT_EQ(cls_->slot_prog(0), in.prog_id);
        prev = in.prog_id;
        if (i % 10 == 5) {
            // A load that fails under traffic changes nothing either.
            try {
                load_sel("fx_verifier");
            } catch (const SelectorError &e) {
                refused += e.failure() == Failure::Verifier;
            }
            EXPECT_EQ(cls_->slot_prog(0), prev);
        }
    }
    double total_s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop = true;
    sender.join();
    ASSERT_EQ(sender_error, "");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));

    oob_port_stats d = delta(s0, stats());
    uint64_t slipped = probe_sink.drain();
    std::sort(load_ms.begin(), load_ms.end());
    std::printf(
        "%d replacements in %.2f s (load p50 %.1f ms, max %.1f ms); %lu probe and %lu "
        "marker frames sent; probes dropped %lu, probes that reached the stack %lu; "
        "markers passed by probe_a %lu, diverted by probe_b %lu\n",
        kReplacements, total_s, load_ms[load_ms.size() / 2], load_ms.back(),
        static_cast<unsigned long>(probes.load()), static_cast<unsigned long>(markers.load()),
        static_cast<unsigned long>(d.verdict_packets[OOB_DROP]),
        static_cast<unsigned long>(slipped),
        static_cast<unsigned long>(d.reason[OOB_R_SELECTOR] - d.verdict_packets[OOB_DROP]),
        static_cast<unsigned long>(d.reason[OOB_R_NO_XSK]));

    EXPECT_EQ(refused, kReplacements / 10);
    EXPECT_EQ(slipped, 0u) << "probe frames that reached the in-band stack";
    EXPECT_EQ(d.verdict_packets[OOB_DROP], probes.load()) << "every probe judged and dropped";
    EXPECT_EQ(d.reason[OOB_R_SELECTOR_ERR], 0u) << "frames that found the slot empty";
    EXPECT_EQ(d.reason[OOB_R_DEFAULT], 0u) << "frames no selector judged";
    // Every marker judged by one selector or the other, and both took turns.
    uint64_t passed = d.reason[OOB_R_SELECTOR] - d.verdict_packets[OOB_DROP];
    EXPECT_EQ(passed + d.reason[OOB_R_NO_XSK], markers.load());
    EXPECT_GT(passed, 0u);
    EXPECT_GT(d.reason[OOB_R_NO_XSK], 0u);
    EXPECT_GE(probes.load(), static_cast<uint64_t>(kReplacements) * 16)
        << "traffic flowed during the replacements";
}

namespace {

// The code block of docs/selectors.md that starts with first_line.
std::string doc_block(const std::string &first_line) {
    std::ifstream f(std::string(OOBBPF_SOURCE_DIR) + "/docs/selectors.md");
    std::string doc{std::istreambuf_iterator<char>(f), {}};
    size_t b = doc.find("```c\n" + first_line);
    if (b == std::string::npos)
        return {};
    b += 5;
    size_t e = doc.find("```", b);
    return doc.substr(b, e - b);
}

}  // namespace

// docs/selectors.md, followed as written: its selector, its compile command, its traffic, its
// bpftool dump. If the guide stops working, this fails.
TEST_F(SelectorNetns, GuideWalkthrough) {
    const std::string code = doc_block("// my_sel.bpf.c");
    const std::string raw = doc_block("OOB_SELECTOR_SEC");
    ASSERT_FALSE(code.empty()) << "no my_sel.bpf.c block in docs/selectors.md";
    ASSERT_FALSE(raw.empty()) << "no hand-written entry point block in docs/selectors.md";
    const std::string dir = "/tmp/oobsel-guide-" + std::to_string(getpid());
    sh_ok("mkdir -p " + dir);
    std::ofstream(dir + "/my_sel.bpf.c") << code;
    std::ofstream(dir + "/raw_sel.bpf.c")
        << "#include \"vmlinux.h\"\n#include <oobbpf/selector.h>\n"
        << raw << "char LICENSE[] SEC(\"license\") = \"GPL\";\n";
    const std::string inc = " -I" + std::string(OOBBPF_SOURCE_DIR) + "/include";
    // Section 2, from a source tree.
    sh_ok("cd " + dir + " && bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux.h");
    sh_ok("cd " + dir + " && clang -g -O2 -target bpf -mcpu=v3 -I." + inc +
          " -c my_sel.bpf.c -o my_sel.bpf.o");
    sh_ok("cd " + dir + " && clang -g -O2 -target bpf -mcpu=v3 -I." + inc +
          " -c raw_sel.bpf.c -o raw_sel.bpf.o");
    // The UAPI variant.
    sh_ok("cd " + dir +
          " && grep -v '#include \"vmlinux.h\"' my_sel.bpf.c > uapi_sel.bpf.c && "
          "clang -g -O2 -target bpf -mcpu=v3 -I/usr/include/$(uname -m)-linux-gnu" +
          inc + " -c uapi_sel.bpf.c -o uapi_sel.bpf.o");

    // Section 4 and 5.
    Installed in;
    {
        InNetns ns(*dut_);
        in = load(cls_->pin_root(), veth_.a, dir + "/my_sel.bpf.o");
    }
    const std::string map = cls_->pin_root() + "/selector/" + veth_.a + "/maps/my_verdicts";
    EXPECT_EQ(in.map_pins, std::vector<std::string>{map});
    oob_port_stats s0 = stats();
    peer_->sh_ok("bash -c \"for i in \\$(seq 10); do echo hello > /dev/udp/" + kDutIp +
                 "/7000; done; for i in \\$(seq 5); do echo other > /dev/udp/" + kDutIp +
                 "/7001; done\"");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::string dump = sh_ok("bpftool -j map dump pinned " + map);
    EXPECT_NE(dump.find("{\"key\":1,\"value\":10}"), std::string::npos) << dump;
    oob_port_stats d = delta(s0, stats());
    EXPECT_EQ(d.reason[OOB_R_NO_XSK], 10u);
    EXPECT_GE(d.reason[OOB_R_DEFAULT], 5u);

    // The hand-written entry point replaces it: raw EtherCAT diverted, UDP 7000 no longer.
    {
        InNetns ns(*dut_);
        Installed r = load(cls_->pin_root(), veth_.a, dir + "/raw_sel.bpf.o");
        EXPECT_EQ(r.replaced_prog_id, in.prog_id);
        EXPECT_TRUE(r.map_pins.empty());
    }
    EXPECT_FALSE(std::filesystem::exists(map)) << "the old selector's map pins went with it";
    RawSocket sock(*peer_, veth_.b);
    Frame f;
    f.ethertype = 0x88a4;
    f.l3.assign(46, 0x10);
    s0 = stats();
    for (int i = 0; i < 4; i++)
        sock.send(to_mac(f.build(), mac_));
    sock.send(raw_udp(kPeerIp, 7000));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    d = delta(s0, stats());
    EXPECT_EQ(d.reason[OOB_R_NO_XSK], 4u);
    EXPECT_EQ(d.reason[OOB_R_DEFAULT], 1u);
    {
        InNetns ns(*dut_);
        unload(cls_->pin_root(), veth_.a);
    }
    sh("rm -rf " + dir);
}
