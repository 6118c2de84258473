// SPDX-License-Identifier: MIT
// oob-echo as users run it: answering a real sockperf client (ping-pong and under-load), and
// what it puts on the wire judged by tshark with checksum validation on.
#include "env.h"

#include <liboob/build.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>

namespace oobbpf::test {
namespace {

constexpr uint16_t kPort = 7000;

// oob-ping on the client's device (its classifier staged under croot) to oob-echo's port on the
// oob address; args: the rest of its command line.
std::string oob_ping(const OobTopology &t, const std::string &croot, const std::string &args) {
    return t.client.sh_ok(build_path("tools/oob-ping/oob-ping") + " --dev " + t.veth.a +
                          " --pin-root " + croot + " --to " + OobTopology::kOobIp + " --port " +
                          std::to_string(kPort) + " " + args);
}

std::vector<std::string> echo_args(const OobTopology &t, std::vector<std::string> extra = {}) {
    std::vector<std::string> a = {build_path("tools/oob-echo/oob-echo"),
                                  "--dev",
                                  t.veth.b,
                                  "--port",
                                  std::to_string(kPort),
                                  "--pin-root",
                                  t.pin_root,
                                  "--wait",
                                  "sleep",
                                  "-j"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

// "SentMessages=N; ReceivedMessages=M" of a sockperf client run.
std::pair<long, long> sockperf_counts(const std::string &out) {
    std::smatch m;
    std::regex re("SentMessages=([0-9]+); ReceivedMessages=([0-9]+)");
    if (!std::regex_search(out, m, re))
        return {-1, -1};
    return {std::stol(m[1]), std::stol(m[2])};
}

nlohmann::json last_json(const std::string &log) {
    std::istringstream in(log);
    std::string line, last;
    while (std::getline(in, line))
        if (!line.empty() && line[0] == '{')
            last = line;
    return last.empty() ? nlohmann::json() : nlohmann::json::parse(last);
}

TEST(OobEchoTool, AnswersSockperfPingPong) {
    OOBBPF_REQUIRE_PRIVILEGE();
    OobTopology t({kPort});
    Spawn echo(t.oob.name(), echo_args(t, {"--sockperf"}));
    ASSERT_TRUE(wait_registered(t.cls->xsk_regs_fd(), 0)) << echo.log();

    std::string out =
        t.client.sh_ok(std::string("timeout 30 sockperf ping-pong -i ") + OobTopology::kOobIp +
                       " -p " + std::to_string(kPort) + " -t 2 -m 64 2>&1");
    auto [sent, received] = sockperf_counts(out);
    EXPECT_GT(received, 1000) << out;
    EXPECT_LE(sent - received, 1) << "at most the one in flight when the window closed\n" << out;
    EXPECT_NE(out.find("# dropped messages = 0"), std::string::npos) << out;

    // Under load, only one message in --reply-every asks for an answer.
    out = t.client.sh_ok(std::string("timeout 30 sockperf under-load -i ") + OobTopology::kOobIp +
                         " -p " + std::to_string(kPort) +
                         " -t 2 -m 200 --mps 5000 --reply-every 50 2>&1");
    auto [sent2, received2] = sockperf_counts(out);
    EXPECT_GT(sent2, 5000) << out;
    EXPECT_GT(received2, 0) << out;
    EXPECT_NEAR(static_cast<double>(received2), static_cast<double>(sent2) / 50,
                sent2 / 50 * 0.1 + 2)
        << out;

    EXPECT_EQ(echo.stop(), 0) << echo.log();
    auto j = last_json(echo.log());
    ASSERT_FALSE(j.is_null()) << echo.log();
    // sockperf counts what falls in its measured window; a message or two lands outside it.
    EXPECT_GE(j["echoed"].get<long>(), received + received2) << echo.log();
    EXPECT_LE(j["echoed"].get<long>(), received + received2 + 10) << echo.log();
    EXPECT_GT(j["ignored"].get<long>(), 0) << "warm-ups and no-pong messages are not answered";
    EXPECT_EQ(j["socket"]["rx_inband"].get<long>(), 0);
    EXPECT_EQ(j["socket"]["tx_inband"].get<long>(), 0);
    EXPECT_EQ(j["stack"]["rx_meta"], j["stack"]["rx_frames"]) << "all diverted by the classifier";
}

// The payload whose reply (from the oob side's port to the client's) has a UDP sum of 0xffff,
// i.e. a computed checksum of 0, which must go out as 0xffff.
std::vector<uint8_t> zero_sum_payload(uint16_t client_port) {
    alignas(4096) static uint8_t area[4096];
    oob::FramePool pool(area, 1, 4096);
    std::vector<uint8_t> pl(30, 0x5a);
    pl[28] = pl[29] = 0;
    uint64_t chunk = 0;
    pool.get(chunk);
    oob::Frame f(&pool, chunk, 256, 0);
    std::memcpy(f.put(30), pl.data(), 30);
    oob::Path p;
    p.src = oob::IpAddr::from(OobTopology::kOobIp);
    p.dst = oob::IpAddr::from(OobTopology::kClientIp);
    p.mtu = 1500;
    uint32_t hlen = 0;
    oob::build_udp(f, p, kPort, client_port, 0, 0, hlen);
    pl[28] = f.l4()[6];
    pl[29] = f.l4()[7];
    return pl;
}

TEST(OobEchoTool, WireFramesPassTsharkChecksumValidation) {
    OOBBPF_REQUIRE_PRIVILEGE();
    OobTopology t({kPort});
    const std::string pcap = "/tmp/" + unique_name("oobt") + ".pcap";
    Spawn cap(t.client.name(), {"tcpdump", "-i", t.veth.a, "--immediate-mode", "-U", "-w", pcap,
                                "udp", "port", std::to_string(kPort)});
    Spawn echo(t.oob.name(), echo_args(t));
    ASSERT_TRUE(wait_registered(t.cls->xsk_regs_fd(), 0)) << echo.log();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // tcpdump is up

    KernelUdp client(t.client.name(), OobTopology::kClientIp);
    const std::vector<size_t> sizes = {1, 2, 3, 17, 64, 255, 512, 1000, 1471, 1472};
    size_t replies = 0;
    for (size_t n : sizes) {
        std::vector<uint8_t> msg(n);
        for (size_t i = 0; i < n; i++)
            msg[i] = static_cast<uint8_t>(n * 31 + i);
        ASSERT_TRUE(client.send(OobTopology::kOobIp, kPort, msg));
        ASSERT_EQ(client.recv(1000), msg) << n;
        replies++;
    }
    auto zero = zero_sum_payload(client.port());
    ASSERT_TRUE(client.send(OobTopology::kOobIp, kPort, zero));
    ASSERT_EQ(client.recv(1000), zero);
    replies++;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cap.stop();
    echo.stop();
    SCOPED_TRACE(cap.log());

    // Every frame liboob sent: IP and UDP checksums judged Good (1), the UDP checksum never 0.
    std::string out =
        sh_ok("tshark -r " + pcap +
              " -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE"
              " -Y 'udp.srcport == " +
              std::to_string(kPort) +
              "'"
              " -T fields -e ip.checksum.status -e udp.checksum.status -e udp.checksum"
              " -e udp.length 2>/dev/null");
    std::istringstream in(out);
    std::string line;
    size_t frames = 0;
    bool saw_ffff = false;
    while (std::getline(in, line)) {
        if (line.empty())
            continue;
        frames++;
        std::istringstream f(line);
        std::string ip_status, udp_status, csum, len;
        f >> ip_status >> udp_status >> csum >> len;
        EXPECT_EQ(ip_status, "1") << line;
        EXPECT_EQ(udp_status, "1") << line;
        EXPECT_NE(csum, "0x0000") << line;
        if (len == "38")
            saw_ffff = csum == "0xffff";
    }
    EXPECT_EQ(frames, replies) << out;
    EXPECT_TRUE(saw_ffff) << "the reply whose checksum computes to 0 carries 0xffff\n" << out;
    unlink(pcap.c_str());
}

// oob-ping on the oob path at both ends: the client's classifier diverts the replies (UDP to
// oob-ping's port) to its socket. And both tools on kernel sockets, the benchmark's baseline.
// Timestamps through the socket API, as oob-ping records them per round trip (--stamps): at each
// end the classifier's stamp comes before delivery to the application, the send's queueing before
// its completion, the server's delivery before its reply; each component fits in the measured
// round trip; and oob-ping's summary of where the time went adds up to no more than it.
TEST(OobPingTool, TimestampsAreMonotonicAndFitTheRoundTrip) {
    OOBBPF_REQUIRE_PRIVILEGE();
    OobTopology t({kPort});
    const std::string croot = make_pin_root();
    const std::string file = "/tmp/" + unique_name("oobt-stamps") + ".txt";
    {
        StagedClassifier ccls(croot);
        ccls.attach(t.client, t.veth.a, 0, 1);
        ccls.divert_udp({9000});
        Spawn echo(t.oob.name(), echo_args(t));
        ASSERT_TRUE(wait_registered(t.cls->xsk_regs_fd(), 0)) << echo.log();
        std::string out = oob_ping(t, croot,
                                   "--local-port 9000 --size 64 --count 200 --warmup 10 "
                                   "--wait sleep -j --stamps " +
                                       file);
        auto j = last_json(out);
        ASSERT_FALSE(j.is_null()) << out;
        ASSERT_EQ(j["count"], 200) << out;
        for (const char *part :
             {"client send->complete (overlaps)", "server classifier->delivery",
              "server turnaround", "client classifier->delivery", "wire and other"}) {
            ASSERT_TRUE(j["where"].contains(part)) << part << "\n" << out;
            EXPECT_EQ(j["where"][part]["count"], 200) << part;
        }
        // The disjoint parts add up to the round trip (the send's completion overlaps the wire).
        double parts = 0;
        for (auto &[k, v] : j["where"].items())
            if (k != "client send->complete (overlaps)")
                parts += v["mean_ns"].get<double>();
        EXPECT_NEAR(parts, j["mean_ns"].get<double>(), j["mean_ns"].get<double>() * 0.01) << out;
        EXPECT_EQ(echo.stop(), 0);
    }
    remove_pin_root(croot);

    std::ifstream in(file);
    std::string line;
    int trips = 0;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#')
            continue;
        std::istringstream ls(line);
        uint64_t seq, t0, t1, cq, cc, sc, sd, sq, kc, kd;
        ASSERT_TRUE(ls >> seq >> t0 >> t1 >> cq >> cc >> sc >> sd >> sq >> kc >> kd) << line;
        trips++;
        const uint64_t rtt = t1 - t0;
        SCOPED_TRACE(line);
        // Every stamp is there (the server is oob-echo on the oob path, the reply was diverted).
        for (uint64_t v : {cq, cc, sc, sd, sq, kc, kd})
            ASSERT_NE(v, 0u);
        // This end: sent after t0, queued before completed, the reply stamped before delivered,
        // delivered before t1.
        EXPECT_LE(t0, cq);
        EXPECT_LE(cq, cc);
        EXPECT_LE(kc, kd);
        EXPECT_LE(kd, t1);
        // The server (same clock here: both ends on one host): the request judged after it was
        // sent, delivered after judged, the reply sent after delivery and judged here after that.
        EXPECT_LE(cq, sc);
        EXPECT_LE(sc, sd);
        EXPECT_LE(sd, sq);
        EXPECT_LE(sq, kc);
        // Each component fits in the round trip.
        for (uint64_t part : {cc - cq, sd - sc, sq - sd, kd - kc})
            EXPECT_LE(part, rtt);
    }
    std::remove(file.c_str());
    EXPECT_EQ(trips, 200);
}

TEST(OobPingTool, RoundTripsOverTheOobPathAndKernelSockets) {
    OOBBPF_REQUIRE_PRIVILEGE();
    OobTopology t({kPort});
    const std::string croot = make_pin_root();
    {
        StagedClassifier ccls(croot);
        ccls.attach(t.client, t.veth.a, 0, 1);
        ccls.divert_udp({9000});
        Spawn echo(t.oob.name(), echo_args(t));
        ASSERT_TRUE(wait_registered(t.cls->xsk_regs_fd(), 0)) << echo.log();
        std::string out = oob_ping(
            t, croot, "--local-port 9000 --size 200 --count 300 --warmup 10 --wait sleep -j");
        auto j = last_json(out);
        ASSERT_FALSE(j.is_null()) << out;
        EXPECT_EQ(j["path"], "oob");
        EXPECT_EQ(j["count"], 300) << out;
        EXPECT_EQ(j["lost"], 0) << out;
        EXPECT_GT(j["p50_ns"].get<long>(), 0);
        EXPECT_LE(j["min_ns"].get<long>(), j["p50_ns"].get<long>());
        EXPECT_LE(j["p99_ns"].get<long>(), j["max_ns"].get<long>());
        EXPECT_TRUE(j.contains("rx_classify_to_app_p50_ns")) << "replies carry the client's stamp";
        EXPECT_EQ(echo.stop(), 0);
        EXPECT_EQ(last_json(echo.log())["echoed"], 310) << echo.log();

        // The text form with its histogram.
        Spawn echo2(t.oob.name(), echo_args(t));
        ASSERT_TRUE(wait_registered(t.cls->xsk_regs_fd(), 0)) << echo2.log();
        out = oob_ping(t, croot, "--count 100 --wait sleep --histogram");
        EXPECT_NE(out.find("rtt us: min"), std::string::npos) << out;
        EXPECT_NE(out.find("p99.9"), std::string::npos) << out;
        EXPECT_NE(out.find("%  #"), std::string::npos) << "a histogram bar\n" << out;
    }
    remove_pin_root(croot);

    Spawn kecho(t.oob.name(), {build_path("tools/oob-echo/oob-echo"), "--kernel", "--port", "7001",
                               "--wait", "sleep", "-j"});
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::string out =
        t.client.sh_ok(build_path("tools/oob-ping/oob-ping") + " --kernel --to " +
                       OobTopology::kOobIp + " --port 7001 --count 200 --warmup 5 -j");
    auto j = last_json(out);
    EXPECT_EQ(j["path"], "kernel") << out;
    EXPECT_EQ(j["count"], 200) << out;
    EXPECT_EQ(j["lost"], 0) << out;
}

}  // namespace
}  // namespace oobbpf::test
