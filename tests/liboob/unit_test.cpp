// SPDX-License-Identifier: MIT
// liboob without a kernel: checksums, the frame buffer, the receive parser and the header
// builder, against an independent reference (tests/common/packet.h builds frames its own way).
#include "packet.h"

#include <liboob/build.h>
#include <liboob/checksum.h>
#include <liboob/clock.h>
#include <liboob/frame.h>
#include <liboob/sockstats.h>
#include <liboob/wire.h>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

namespace oobbpf::oob {
namespace {

using test::Bytes;

// RFC 1071, the obvious way: big-endian 16-bit words, end-around carry.
uint16_t reference_csum(const uint8_t *p, size_t n) {
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
    if (n & 1)
        s += static_cast<uint32_t>(p[n - 1] << 8);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
}

TEST(Checksum, MatchesReferenceForEveryLengthAndAlignment) {
    std::mt19937 rng(7);
    std::vector<uint8_t> buf(2100);
    for (auto &b : buf)
        b = static_cast<uint8_t>(rng());
    for (size_t off = 0; off < 8; off++)
        for (size_t len = 0; len < 2048; len += (len < 80 ? 1 : 37)) {
            uint16_t mine = csum_fold(csum_partial(buf.data() + off, len));
            uint16_t ref = reference_csum(buf.data() + off, len);
            ASSERT_EQ(ntohs(mine), ref) << "off " << off << " len " << len;
        }
}

TEST(Checksum, AllOnesAndCarries) {
    std::vector<uint8_t> ff(1500, 0xff);
    EXPECT_EQ(ntohs(csum_fold(csum_partial(ff.data(), ff.size()))),
              reference_csum(ff.data(), ff.size()));
    // A header whose checksum is in place sums to zero (the verify rule).
    const uint8_t hdr[20] = {0x45, 0,    0,    0x73, 0, 0,    0x40, 0, 0x40, 0x11, 0xb8,
                             0x61, 0xc0, 0xa8, 0,    1, 0xc0, 0xa8, 0, 0xc7};  // a textbook example
    EXPECT_EQ(ip4_header_csum(hdr, 20), 0);
}

TEST(Frame, PushPullPutTrimStayInBounds) {
    alignas(4096) static uint8_t area[4 * 4096];
    FramePool pool(area, 4, 4096);
    uint64_t chunk = 0;
    ASSERT_TRUE(pool.get(chunk));
    EXPECT_EQ(chunk, 0u);
    {
        Frame f(&pool, chunk, 256, 0);
        EXPECT_EQ(pool.available(), 3u);
        EXPECT_EQ(f.headroom(), 256u);
        EXPECT_EQ(f.tailroom(), 4096u - 256);
        uint8_t *p = f.put(100);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(p, area + 256);
        std::memset(p, 0xab, 100);
        EXPECT_EQ(f.len(), 100u);
        EXPECT_EQ(f.put(4096), nullptr) << "no growth past the chunk";
        uint8_t *h = f.push(42);
        ASSERT_EQ(h, area + 256 - 42);
        f.mark_l2();
        EXPECT_EQ(f.len(), 142u);
        EXPECT_EQ(f.push(215), nullptr) << "no push past the chunk start";
        ASSERT_NE(f.pull(42), nullptr);
        EXPECT_EQ(f.data()[0], 0xab);
        EXPECT_EQ(f.l2(), area + 214) << "offsets survive pull";
        EXPECT_EQ(f.pull(101), nullptr);
        EXPECT_TRUE(f.trim(10));
        EXPECT_FALSE(f.trim(11)) << "trim never grows";
        EXPECT_FALSE(f.reserve(0)) << "reserve only on an empty frame";
        EXPECT_EQ(f.umem_addr(), 256u);

        Frame g = std::move(f);
        EXPECT_TRUE(f.empty());
        EXPECT_EQ(g.len(), 10u);
        EXPECT_EQ(pool.available(), 3u);
    }
    EXPECT_EQ(pool.available(), 4u) << "a destroyed frame gives its chunk back";
    ASSERT_TRUE(pool.get(chunk));
    Frame e(&pool, chunk, 0, 0);
    EXPECT_TRUE(e.reserve(128));
    EXPECT_EQ(e.headroom(), 128u);
    e.release();
    EXPECT_EQ(pool.available(), 3u) << "a released frame belongs to a ring now";
    EXPECT_EQ(pool.chunk_of(3 * 4096 + 300), 3u * 4096);
}

TEST(Frame, ReadsClassifierMetadataInFront) {
    alignas(4096) static uint8_t area[2 * 4096];
    FramePool pool(area, 2, 4096);
    uint64_t chunk = 0;
    ASSERT_TRUE(pool.get(chunk));
    oob_xdp_meta m{};
    m.classified_ns = 123456789;
    m.rule_id = 7;
    m.port_id = 3;
    std::memcpy(area + chunk + 256 - sizeof(m), &m, sizeof(m));
    Frame f(&pool, chunk, 256, 60);
    oob_xdp_meta got{};
    ASSERT_TRUE(read_xdp_meta(f, got));
    EXPECT_EQ(got.classified_ns, 123456789u);
    EXPECT_EQ(got.rule_id, 7u);
    EXPECT_EQ(got.port_id, 3);
    std::memset(area + chunk + 256 - sizeof(m), 0, sizeof(m));
    EXPECT_FALSE(read_xdp_meta(f, got)) << "zeroed spot: no metadata";
}

struct ParseCase {
    const char *what;
    Bytes frame;
    wire::Reject expect;
    uint8_t family = 0;
    uint16_t vid = 0;
};

Bytes with_ip4_csum_broken(Bytes f) {
    f[14 + 10] ^= 0x55;
    return f;
}

Bytes with_udp_csum(Bytes f, size_t l4off, uint16_t v) {
    f[l4off + 6] = static_cast<uint8_t>(v >> 8);
    f[l4off + 7] = static_cast<uint8_t>(v);
    return f;
}

TEST(Parse, Table) {
    using R = wire::Reject;
    test::Frame arp;
    arp.ethertype = 0x0806;
    arp.l3 = Bytes(28, 0);
    test::Frame v4frag;
    test::Ip4 fi;
    fi.src = "10.0.0.1";
    fi.dst = "10.0.0.2";
    fi.frag = 0x2000;  // MF
    v4frag.l3 = fi.build(test::udp(1, 2, Bytes(16, 1), "10.0.0.1", "10.0.0.2"));
    test::Frame v6frag;
    v6frag.ethertype = 0x86dd;
    test::Ip6 f6;
    f6.next = 44;
    f6.ext = {};
    Bytes fragh = {17, 0, 0, 1, 0, 0, 0, 1};
    Bytes body = fragh;
    Bytes u6 = test::udp(1, 2, Bytes(8, 1), "fd00::1", "fd00::2", true);
    body.insert(body.end(), u6.begin(), u6.end());
    v6frag.l3 = f6.build(body);
    test::Frame v6hbh;
    v6hbh.ethertype = 0x86dd;
    test::Ip6 h6;
    h6.ext = {{0, Bytes(6, 0)}};
    v6hbh.l3 = h6.build(test::udp(5, 6, Bytes(10, 2), "fd00::1", "fd00::2", true));
    test::Frame qinq3;
    qinq3.tags = {{0x88a8, 10}, {0x8100, 20}, {0x8100, 30}};
    qinq3.l3 = test::Ip4().build(test::udp(1, 2, Bytes(4, 0), "10.0.0.1", "10.0.0.2"));

    Bytes good4 = test::udp4("10.0.0.1", "10.0.0.2", 1000, 7000, 32);
    Bytes good6 = test::udp6("fd00::1", "fd00::2", 1000, 7000, 32);
    std::vector<ParseCase> cases = {
        {"udp4", good4, R::None, AF_INET},
        {"udp6", good6, R::None, AF_INET6},
        {"udp4 vlan 42", test::udp4("10.0.0.1", "10.0.0.2", 1, 7000, 8, {42}), R::None, AF_INET,
         42},
        {"udp6 qinq", test::udp6("fd00::1", "fd00::2", 1, 7000, 8, {100, 42}), R::None, AF_INET6,
         42},
        {"three tags", qinq3.build(), R::VlanDepth, 0, 20},
        {"short", test::truncate(good4, 10), R::TruncL2},
        {"ip4 truncated", test::truncate(good4, 30), R::BadIp},
        {"ip4 bad csum", with_ip4_csum_broken(good4), R::BadIpCsum, AF_INET},
        {"udp4 bad csum", with_udp_csum(good4, 34, 0x1234), R::BadUdpCsum, AF_INET},
        {"udp4 no csum", with_udp_csum(good4, 34, 0), R::None, AF_INET},
        {"udp6 zero csum", with_udp_csum(good6, 54, 0), R::BadUdpCsum, AF_INET6},
        {"udp4 fragment", v4frag.build(), R::Fragment, AF_INET},
        {"udp6 fragment", v6frag.build(), R::Fragment, AF_INET6},
        {"udp6 hop-by-hop", v6hbh.build(), R::None, AF_INET6},
        {"tcp", test::tcp4("10.0.0.1", "10.0.0.2", 1, 2), R::NotUdp, AF_INET},
        {"arp", arp.build(), R::None, 0},
    };
    for (auto &c : cases) {
        wire::Parsed p;
        EXPECT_EQ(wire::parse(c.frame.data(), c.frame.size(), p, true), c.expect) << c.what;
        EXPECT_EQ(p.family, c.family) << c.what;
        EXPECT_EQ(p.vid, c.vid) << c.what;
    }
    wire::Parsed p;
    ASSERT_EQ(wire::parse(good4.data(), good4.size(), p, true), R::None);
    EXPECT_EQ(p.sport, 1000);
    EXPECT_EQ(p.dport, 7000);
    EXPECT_EQ(p.payload_len, 32);
    EXPECT_EQ(p.payload_off, 42);
    EXPECT_EQ(p.l3proto, 0x0800);
    // Unverified parsing lets a bad checksum through (for callers that trust their source).
    Bytes bad = with_udp_csum(good4, 34, 0x1234);
    EXPECT_EQ(wire::parse(bad.data(), bad.size(), p, false), R::None);
}

class Build : public ::testing::Test {
  protected:
    alignas(4096) static inline uint8_t area_[4 * 4096];
    FramePool pool_{area_, 4, 4096};

    Frame payload(const Bytes &b) {
        uint64_t chunk = 0;
        EXPECT_TRUE(pool_.get(chunk));
        Frame f(&pool_, chunk, 256, 0);
        std::memcpy(f.put(static_cast<uint32_t>(b.size())), b.data(), b.size());
        return f;
    }
    static Path path4(uint16_t vid = 0) {
        Path p;
        p.src = IpAddr::from("10.0.0.2");
        p.dst = IpAddr::from("10.0.0.1");
        p.src_mac = {2, 0, 0, 0, 0, 2};
        p.dst_mac = {2, 0, 0, 0, 0, 1};
        p.vid = vid;
        p.mtu = 1500;
        return p;
    }
};

TEST_F(Build, Ip4UdpParsesBackWithValidChecksums) {
    Bytes pl(333);
    for (size_t i = 0; i < pl.size(); i++)
        pl[i] = static_cast<uint8_t>(i * 7);
    Frame f = payload(pl);
    uint32_t hlen = 0;
    ASSERT_EQ(build_udp(f, path4(), 7000, 40000, 0xb8, 99, hlen), 0);
    EXPECT_EQ(hlen, 42u);
    EXPECT_EQ(f.len(), 42u + pl.size());
    wire::Parsed p;
    ASSERT_EQ(wire::parse(f.data(), f.len(), p, true), wire::Reject::None);
    EXPECT_EQ(p.sport, 7000);
    EXPECT_EQ(p.dport, 40000);
    EXPECT_EQ(p.payload_len, pl.size());
    EXPECT_EQ(0, std::memcmp(f.data() + p.payload_off, pl.data(), pl.size()));
    const uint8_t *ip = f.l3();
    ASSERT_EQ(ip, f.data() + 14);
    EXPECT_EQ(ip[1], 0xb8) << "tos";
    EXPECT_EQ(ip[6] & 0x40, 0x40) << "DF";
    EXPECT_EQ((ip[4] << 8) | ip[5], 99) << "id";
    EXPECT_EQ(f.l4(), f.data() + 34);
    EXPECT_EQ(f.l2(), f.data());
    // And the independent reference agrees on the UDP checksum.
    Bytes ref = test::udp(7000, 40000, pl, "10.0.0.2", "10.0.0.1");
    EXPECT_EQ(0, std::memcmp(f.l4(), ref.data(), 8));
}

TEST_F(Build, VlanTagAndIp6) {
    Path p = path4(42);
    p.src = IpAddr::from("fd00::2");
    p.dst = IpAddr::from("fd00::1");
    Frame f = payload(Bytes(64, 9));
    uint32_t hlen = 0;
    ASSERT_EQ(build_udp(f, p, 1, 2, 0, 0, hlen), 0);
    EXPECT_EQ(hlen, 14u + 4 + 40 + 8);
    EXPECT_EQ(f.data()[12], 0x81);
    EXPECT_EQ(f.data()[13], 0x00);
    wire::Parsed q;
    ASSERT_EQ(wire::parse(f.data(), f.len(), q, true), wire::Reject::None);
    EXPECT_EQ(q.vid, 42);
    EXPECT_EQ(q.family, AF_INET6);
}

TEST_F(Build, ComputedZeroChecksumGoesOutAsAllOnes) {
    // Choose the last payload word so that the UDP sum comes to 0xffff: its checksum is 0.
    Bytes pl(20, 0x11);
    pl[18] = pl[19] = 0;
    Frame f = payload(pl);
    uint32_t hlen = 0;
    ASSERT_EQ(build_udp(f, path4(), 5, 6, 0, 0, hlen), 0);
    uint8_t c[2] = {f.l4()[6], f.l4()[7]};
    pl[18] = c[0];
    pl[19] = c[1];
    Frame g = payload(pl);
    ASSERT_EQ(build_udp(g, path4(), 5, 6, 0, 0, hlen), 0);
    EXPECT_EQ(g.l4()[6], 0xff);
    EXPECT_EQ(g.l4()[7], 0xff);
    wire::Parsed q;
    EXPECT_EQ(wire::parse(g.data(), g.len(), q, true), wire::Reject::None);
    EXPECT_FALSE(q.udp_csum_zero);
}

TEST_F(Build, RefusesAboveMtuAndWithoutHeadroom) {
    Path p = path4();
    p.mtu = 100;
    Frame f = payload(Bytes(73, 0));  // 20 + 8 + 73 = 101 > 100
    uint32_t hlen = 0;
    EXPECT_EQ(build_udp(f, p, 1, 2, 0, 0, hlen), -EMSGSIZE);
    EXPECT_EQ(f.len(), 73u) << "unchanged on failure";
    ASSERT_TRUE(f.trim(72));
    EXPECT_EQ(build_udp(f, p, 1, 2, 0, 0, hlen), 0);

    uint64_t chunk = 0;
    ASSERT_TRUE(pool_.get(chunk));
    Frame tight(&pool_, chunk, 20, 0);
    tight.put(10);
    EXPECT_EQ(build_udp(tight, path4(), 1, 2, 0, 0, hlen), -ENOSPC);
    EXPECT_EQ(tight.headroom(), 20u);
}

TEST_F(Build, RawEthernetWithTag) {
    Frame f = payload(Bytes(46, 1));
    uint32_t hlen = 0;
    ASSERT_EQ(
        push_eth(f, {2, 0, 0, 0, 0, 2}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 0x88b5, 7, hlen), 0);
    EXPECT_EQ(hlen, 18u);
    wire::Parsed q;
    EXPECT_EQ(wire::parse(f.data(), f.len(), q, true), wire::Reject::None);
    EXPECT_EQ(q.family, 0);
    EXPECT_EQ(q.l3proto, 0x88b5);
    EXPECT_EQ(q.vid, 7);
}

TEST(Addr, ParseAndFormat) {
    EXPECT_EQ(IpAddr::from("10.1.2.3").str(), "10.1.2.3");
    EXPECT_EQ(IpAddr::from("fd00::1").str(), "fd00::1");
    EXPECT_FALSE(IpAddr::parse("10.1.2"));
    EXPECT_EQ((Endpoint{IpAddr::from("fd00::1"), 7}).str(), "[fd00::1]:7");
    EXPECT_TRUE(IpAddr().any());
}

// The published latency accounting: log2 buckets, nearest-rank percentiles, a file that readers
// see while its writer lives, filter by pin root, and remove once the writer is gone.
TEST(SockStats, HistogramBucketsAndPercentiles) {
    EXPECT_EQ(oobbpf::oob::lat_bucket(0), 0);
    EXPECT_EQ(oobbpf::oob::lat_bucket(1), 0);
    EXPECT_EQ(oobbpf::oob::lat_bucket(2), 1);
    EXPECT_EQ(oobbpf::oob::lat_bucket(1023), 9);
    EXPECT_EQ(oobbpf::oob::lat_bucket(1024), 10);
    EXPECT_EQ(oobbpf::oob::lat_bucket(UINT64_MAX), oobbpf::oob::kLatBuckets - 1);
    oobbpf::oob::LatHist h{};
    EXPECT_EQ(oobbpf::oob::lat_quantile(h, 0.5), 0u);
    for (int i = 0; i < 99; i++)
        oobbpf::oob::lat_add(h, 1500);  // [1024, 2048)
    oobbpf::oob::lat_add(h, 100000);    // [65536, 131072)
    EXPECT_EQ(h.count, 100u);
    EXPECT_EQ(h.sum_ns, 99u * 1500 + 100000);
    EXPECT_EQ(h.max_ns, 100000u);
    EXPECT_EQ(oobbpf::oob::lat_quantile(h, 0.5), 2048u);
    EXPECT_EQ(oobbpf::oob::lat_quantile(h, 0.99), 2048u);
    EXPECT_EQ(oobbpf::oob::lat_quantile(h, 0.999), 100000u) << "the top bucket ends at the max";
}

TEST(SockStats, FilesLiveWithTheirWriter) {
    char tmpl[] = "/tmp/oobt-sockstats-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    const std::string dir = tmpl;
    oobbpf::oob::SockStatsData init{};
    init.magic = oobbpf::oob::kSockStatsMagic;
    init.version = oobbpf::oob::kSockStatsVersion;
    init.pid = static_cast<uint32_t>(getpid());
    init.port = 7000;
    std::snprintf(init.pin_root, sizeof(init.pin_root), "/sys/fs/bpf/a");
    {
        oobbpf::oob::SockStatsFile f(dir, init);
        ASSERT_FALSE(f.path().empty()) << f.error();
        oobbpf::oob::lat_add(f.data()->send_complete, 5000);
        auto all = oobbpf::oob::read_sock_stats(dir, "/sys/fs/bpf/a");
        ASSERT_EQ(all.size(), 1u);
        EXPECT_EQ(all[0].data.port, 7000);
        EXPECT_EQ(all[0].data.send_complete.count, 1u);
        EXPECT_TRUE(oobbpf::oob::read_sock_stats(dir, "/sys/fs/bpf/b").empty());
    }
    EXPECT_TRUE(oobbpf::oob::read_sock_stats(dir, "").empty()) << "removed with its socket";

    // A writer that dies without cleaning up: its file is skipped and removed by the next reader.
    pid_t child = fork();
    if (child == 0) {
        init.pid = static_cast<uint32_t>(getpid());
        new oobbpf::oob::SockStatsFile(dir, init);  // never destroyed
        _exit(0);
    }
    int st = 0;
    waitpid(child, &st, 0);
    size_t files = 0;
    for (const auto &e : std::filesystem::directory_iterator(dir))
        files += e.path().extension() == ".stats";
    EXPECT_EQ(files, 1u) << "left behind by the dead writer";
    EXPECT_TRUE(oobbpf::oob::read_sock_stats(dir, "").empty());
    EXPECT_TRUE(std::filesystem::is_empty(dir)) << "and removed";
    std::filesystem::remove_all(dir);

    // No usable directory: accounting goes on in private memory, with a reason.
    oobbpf::oob::SockStatsFile off("/proc/oobt-no-such-dir", init);
    EXPECT_TRUE(off.path().empty());
    EXPECT_FALSE(off.error().empty());
    oobbpf::oob::lat_add(off.data()->classify_deliver, 10);
    EXPECT_EQ(off.data()->classify_deliver.count, 1u);
}

// The per-frame clock against clock_gettime(): a thread's first milliseconds (its rate still
// measured over a short span), a busy stretch, and stretches with sleeps in between (each read
// after a sleep extrapolates from an anchor up to a millisecond old). fast <= exact <= fast, read
// in that order, within a tolerance far below what the latency accounting resolves; and never
// backwards.
TEST(FastClock, AgreesWithClockGettimeAndNeverGoesBack) {
    constexpr int64_t kTolerance = 250;  // ns
    int64_t ahead = 0, behind = 0;
    uint64_t backwards = 0, samples = 0;
    std::thread t([&] {
        uint64_t last = 0;
        const uint64_t until = now_ns() + 30000000;
        for (int i = 0; now_ns() < until; i++) {
            const uint64_t x = fast_now_ns(), y = now_ns(), z = fast_now_ns();
            ahead = std::max(ahead, static_cast<int64_t>(x) - static_cast<int64_t>(y));
            behind = std::max(behind, static_cast<int64_t>(y) - static_cast<int64_t>(z));
            backwards += x < last || z < x;
            last = z;
            samples++;
            if (i % 64 == 63)
                std::this_thread::sleep_for(std::chrono::microseconds(i % 3 ? 150 : 1100));
        }
    });
    t.join();
    EXPECT_GT(samples, 1000u);
    EXPECT_EQ(backwards, 0u);
    EXPECT_LE(ahead, kTolerance) << "the per-frame clock ran ahead of CLOCK_MONOTONIC";
    EXPECT_LE(behind, kTolerance) << "the per-frame clock fell behind CLOCK_MONOTONIC";
    std::printf("fast clock vs clock_gettime over %lu samples: ahead at most %ld ns, behind at "
                "most %ld ns\n",
                samples, ahead, behind);
}

}  // namespace
}  // namespace oobbpf::oob
