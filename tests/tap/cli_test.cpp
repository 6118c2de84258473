// SPDX-License-Identifier: MIT
// `oobbpf tap` with the real daemon during real traffic: the pcapng it writes to stdout, read by
// tshark, holds exactly the diverted frames with their verdicts plus oob-echo's replies as
// dir=tx; a tap is switched on for as long as its process lives (several at once share the
// device's bit; SIGKILL of the last one clears it); bad devices get one clear line. The same
// traffic shows up in `oobbpf stats` as oob-echo's socket histograms.
#include "daemon_env.h"

#include <gtest/gtest.h>
#include <oobbpf/abi.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

namespace oobbpf::test {
namespace {

using nlohmann::json;

// A command running in the background in a namespace (nsenter keeps the host's bpffs), its
// stdout and stderr in files. Killed (SIGKILL) when destroyed, if still running.
class Bg {
  public:
    Bg(const std::string &ns, const std::string &cmd, const std::string &dir,
       const std::string &name)
        : out_(dir + "/" + name + ".out"), err_(dir + "/" + name + ".err") {
        pid_ = fork();
        if (pid_ == 0) {
            int o = open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            int e = open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
            dup2(o, 1);
            dup2(e, 2);
            const std::string c = "exec nsenter --net=/run/netns/" + ns + " -- " + cmd;
            execl("/bin/sh", "sh", "-c", c.c_str(), nullptr);
            _exit(127);
        }
    }
    ~Bg() {
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            wait(-1);
        }
    }
    pid_t pid() const { return pid_; }
    // Waits up to ms for the end; the exit status, or -1 when it still runs.
    int wait(int ms) {
        for (int i = 0; pid_ > 0 && (ms < 0 || i <= ms / 20); i++) {
            int st = 0;
            if (waitpid(pid_, &st, WNOHANG) == pid_) {
                pid_ = -1;
                status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                return status_;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return pid_ > 0 ? -1 : status_;
    }
    void signal(int sig) const { kill(pid_, sig); }
    std::string out() const { return slurp(out_); }
    std::string err() const { return slurp(err_); }

  private:
    static std::string slurp(const std::string &p) {
        std::ifstream in(p);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    pid_t pid_ = -1;
    int status_ = -1;
    std::string out_, err_;
};

bool eventually(const std::function<bool()> &cond, int ms = 5000) {
    for (int i = 0; i <= ms / 50; i++) {
        if (cond())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

// The device's flags as the daemon's map holds them ("divert,port,tap").
std::string dev_flags(const DaemonEnv &env, const std::string &dev) {
    Out o = env.cli("-j divert show " + dev);
    if (o.status != 0)
        return "";
    return json::parse(o.out)[0].value("flags", std::string());
}

bool tapped(const DaemonEnv &env, const std::string &dev) {
    return dev_flags(env, dev).find("tap") != std::string::npos;
}

std::string oobbpf(const DaemonEnv &env) {
    return std::string(OOBBPF_BIN) + " " + env.flags();
}

std::string tool(const std::string &rel) {
    return std::string(OOBBPF_BUILD_DIR) + "/" + rel;
}

// oob-echo's socket (UDP port) in `oobbpf -j stats`, or null.
json socket_stats(const DaemonEnv &env, uint16_t port) {
    json st = env.cli_json("stats");
    for (const auto &s : st["sockets"])
        if (s["port"] == port)
            return s;
    return json();
}

std::vector<std::string> lines_of(const std::string &text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        if (!l.empty())
            out.push_back(l);
    return out;
}

TEST(TapCli, PcapngToTsharkHoldsDivertedAndSentFramesAndStatsShowTheSocket) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    env.start();
    const std::string a = env.veth.a;
    ASSERT_EQ(env.cli("port add " + a).status, 0);
    ASSERT_EQ(env.cli("rule add udp dport 7000 action divert").status, 0);
    // The oob side knows its peer (the learner mirrors the neighbour): replies go oob from the
    // first one.
    env.oob.sh_ok("ping -c1 -W2 10.77.0.2 >/dev/null");

    Bg echo(env.oob.name(),
            tool("tools/oob-echo/oob-echo") + " --dev " + a + " --port 7000 --pin-root " +
                env.pin_root + " --wait sleep --miss error -j",
            env.dir, "echo");
    ASSERT_TRUE(eventually([&] { return !env.cli_json("xsk show").empty(); })) << echo.err();

    // Warm-up: three requests, three oob replies, seen in the socket's published statistics.
    send_udp(env.peer.name(), "10.77.0.1", 7000, 3);
    ASSERT_TRUE(eventually([&] {
        json s = socket_stats(env, 7000);
        return !s.is_null() && s["tx_packets"] == 3;
    })) << env.cli("-j stats").out
        << echo.err();

    // The tap: pcapng to stdout, straight into tshark; 10 diverted requests + 10 sent replies.
    const std::string fields = env.dir + "/fields.txt";
    Bg tap(env.oob.name(),
           "sh -c '" + oobbpf(env) + " tap " + a +
               " -w - -c 20 verdict divert | tshark -r - -T fields -e frame.comment "
               "-e udp.srcport -e udp.dstport -E separator=\\; > " +
               fields + "'",
           env.dir, "tap");
    ASSERT_TRUE(eventually([&] { return tapped(env, a); })) << tap.err();
    send_udp(env.peer.name(), "10.77.0.1", 7001, 5);  // PASS: not in a divert tap
    send_udp(env.peer.name(), "10.77.0.1", 7000, 10);
    ASSERT_EQ(tap.wait(15000), 0) << tap.err();
    EXPECT_NE(tap.err().find("20 frames captured, 0 dropped by the ring"), std::string::npos)
        << tap.err();

    std::ifstream in(fields);
    std::stringstream ss;
    ss << in.rdbuf();
    int rx = 0, tx = 0;
    for (const auto &l : lines_of(ss.str())) {
        if (l.find("dir=tx") != std::string::npos) {
            tx++;
            EXPECT_NE(l.find("oobbpf port=1 queue=0 dir=tx"), std::string::npos) << l;
            EXPECT_NE(l.find(";7000;"), std::string::npos) << "a reply from port 7000: " << l;
        } else {
            rx++;
            EXPECT_NE(l.find("verdict=DIVERT reason=rule rule=1 port=1 queue=0 dir=rx"),
                      std::string::npos)
                << l;
            EXPECT_EQ(l.substr(l.size() - 5), ";7000") << l;
        }
    }
    EXPECT_EQ(rx, 10) << ss.str();
    EXPECT_EQ(tx, 10) << ss.str();
    // The tap ended with its process: the device's bit is off again.
    EXPECT_TRUE(eventually([&] { return !tapped(env, a); })) << dev_flags(env, a);

    // oob-echo's latency accounting, read from its published file while it runs.
    json s;
    ASSERT_TRUE(eventually([&] {
        s = socket_stats(env, 7000);
        return !s.is_null() && s["send_complete"]["count"] == 13;
    })) << s.dump();
    EXPECT_EQ(s["pid"], echo.pid());
    EXPECT_EQ(s["dev"], a);
    EXPECT_EQ(s["rx_packets"], 13);
    EXPECT_EQ(s["classify_deliver"]["count"], 13) << "every request carried the classifier's stamp";
    EXPECT_GT(s["classify_deliver"]["p50_ns"].get<uint64_t>(), 0u);
    EXPECT_LE(s["classify_deliver"]["p50_ns"].get<uint64_t>(),
              2 * s["classify_deliver"]["max_ns"].get<uint64_t>());
    uint64_t in_buckets = 0;
    for (const auto &b : s["send_complete"]["buckets"])
        in_buckets += b[1].get<uint64_t>();
    EXPECT_EQ(in_buckets, 13u);
    Out text = env.cli("stats");
    EXPECT_NE(text.out.find("classify->deliver"), std::string::npos) << text.out;
    Out prom = env.cli("stats --prometheus -");
    EXPECT_NE(prom.out.find("oobbpf_socket_classify_deliver_seconds_count{pid=\"" +
                            std::to_string(echo.pid()) + "\",dev=\"" + a + "\",port=\"7000\"} 13"),
              std::string::npos)
        << prom.out;
    EXPECT_NE(prom.out.find("oobbpf_socket_send_complete_seconds_bucket{"), std::string::npos);

    // Gone with its process: no stale socket in the statistics.
    echo.signal(SIGTERM);
    EXPECT_EQ(echo.wait(5000), 0) << echo.err();
    EXPECT_TRUE(socket_stats(env, 7000).is_null());
}

TEST(TapCli, TapsLiveWithTheirProcessAndBadDevicesGetOneLine) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    env.start();
    const std::string a = env.veth.a;
    ASSERT_EQ(env.cli("port add " + a).status, 0);
    EXPECT_FALSE(tapped(env, a));

    // Two taps of one device, text lines: both see the traffic, each through its own ring.
    Bg t1(env.oob.name(), oobbpf(env) + " tap " + a, env.dir, "t1");
    Bg t2(env.oob.name(), oobbpf(env) + " tap " + a + " verdict pass", env.dir, "t2");
    ASSERT_TRUE(eventually([&] { return tapped(env, a); })) << t1.err() << t2.err();
    ASSERT_TRUE(eventually([&] {
        return t1.err().find("tapping") != std::string::npos &&
               t2.err().find("tapping") != std::string::npos;
    }));
    send_udp(env.peer.name(), "10.77.0.1", 7001, 3);
    for (Bg *t : {&t1, &t2})
        EXPECT_TRUE(eventually([&] {
            std::string o = t->out();
            size_t n = 0;
            for (size_t p = 0; (p = o.find(".7001: UDP", p)) != std::string::npos; p++)
                n++;
            return n == 3;
        })) << t->out();
    EXPECT_NE(t1.out().find(" In  PASS (default) q0 IP 10.77.0.2."), std::string::npos) << t1.out();

    // SIGKILL leaves no chance to say goodbye; the daemon sees the connection close. The bit
    // stays while the other tap runs, and goes with the last one.
    t1.signal(SIGKILL);
    t1.wait(2000);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_TRUE(tapped(env, a));
    t2.signal(SIGKILL);
    t2.wait(2000);
    EXPECT_TRUE(eventually([&] { return !tapped(env, a); })) << dev_flags(env, a);
    // As bpftool sees the pinned maps: no OOB_DEV_TAP (8), no session left.
    std::string devs = run("bpftool -j map dump pinned " + env.pin_root + "/devs").out;
    json dj = json::parse(devs);
    ASSERT_EQ(dj.size(), 1u) << devs;
    EXPECT_EQ(dj[0]["formatted"]["value"]["flags"].get<uint32_t>() & OOB_DEV_TAP, 0u) << devs;
    json sj = json::parse(run("bpftool -j map dump pinned " + env.pin_root + "/tap_sess").out);
    for (const auto &e : sj)
        EXPECT_EQ(e["formatted"]["value"]["ifindex"], 0) << e.dump();

    // Bad input: one line, non-zero, nothing changed.
    const std::string before = env.snapshot();
    for (const std::string &args : {std::string("tap nosuchdev0"), std::string("tap lo"),
                                    "tap " + a + " verdict sometimes"}) {
        Out o = env.cli(args);
        EXPECT_NE(o.status, 0) << args;
        EXPECT_TRUE(o.one_line_error()) << args << ": " << o.err;
    }
    EXPECT_NE(env.cli("tap lo").err.find("lo does not divert"), std::string::npos);
    EXPECT_EQ(env.snapshot(), before);
}

}  // namespace
}  // namespace oobbpf::test
