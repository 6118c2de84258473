// SPDX-License-Identifier: MIT
// 10,000 malformed control requests against a real oobbpfd: random bytes, truncated JSON, lines
// past the limit, deep nesting, wrong types, unknown verbs, stray file descriptors, requests
// split at random points and interleaved over many connections, clients that hang up in the
// middle of a request or before reading the answer. The daemon must stay up, answer every
// complete request with an error, change nothing, leak no descriptor, and keep answering good
// requests. Good-request latency during the storm is reported against the same measurement
// before it (a ratio; no timed assertion).
#include "daemon_env.h"
#include "protocol.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>

using namespace oobbpf;
using namespace oobbpf::test;
using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kMalformed = 10000;
constexpr int kThreads = 4;
constexpr int kConnsPerThread = 12;  // 48 connections at a time, within the daemon's 128

unsigned storm_seed() {
    const char *s = std::getenv("OOBBPF_FAULT_SEED");
    unsigned seed = s && *s ? static_cast<unsigned>(std::strtoul(s, nullptr, 0))
                            : std::random_device{}();
    std::printf("storm seed %u (OOBBPF_FAULT_SEED=%u repeats this run)\n", seed, seed);
    return seed;
}

int connect_unix(const std::string &path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path.c_str());
    if (connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

bool write_all(int fd, const std::string &s) {
    size_t off = 0;
    while (off < s.size()) {
        ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        off += static_cast<size_t>(n);
    }
    return true;
}

// Sends data with one descriptor attached (SCM_RIGHTS).
bool write_with_fd(int fd, const std::string &s, int passed) {
    iovec iov{const_cast<char *>(s.data()), s.size()};
    char ctl[CMSG_SPACE(sizeof(int))] = {};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof(ctl);
    cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &passed, sizeof(int));
    ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL);
    return n == static_cast<ssize_t>(s.size()) || (n > 0 && write_all(fd, s.substr(n)));
}

// Reads lines until n have come, the peer closes, or timeout_ms passes.
std::vector<std::string> read_lines(int fd, size_t n, int timeout_ms, std::string &buf) {
    std::vector<std::string> out;
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (out.size() < n) {
        auto nl = buf.find('\n');
        if (nl != std::string::npos) {
            out.push_back(buf.substr(0, nl));
            buf.erase(0, nl + 1);
            continue;
        }
        int left = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
        pollfd p{fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        char tmp[65536];
        ssize_t r = recv(fd, tmp, sizeof(tmp), 0);
        if (r <= 0)
            break;
        buf.append(tmp, static_cast<size_t>(r));
    }
    return out;
}

// One malformed request: the line (with its newline), and whether a complete answer is due.
struct Bad {
    std::string kind;
    std::string line;
    bool answered = true;  // false: the daemon closes the connection (line too long)
};

std::string random_bytes(std::mt19937 &rng, size_t n) {
    std::uniform_int_distribution<int> b(0, 255);
    std::string s;
    for (size_t i = 0; i < n; i++) {
        char c = static_cast<char>(b(rng));
        s += c == '\n' ? ' ' : c;
    }
    return s;
}

Bad make_bad(std::mt19937 &rng, const std::string &dev) {
    static const std::vector<std::string> valid = {
        R"({"v":1,"cmd":"port.add","args":{"dev":"DEV"}})",
        R"({"v":1,"cmd":"rule.add","args":{"rule":{"l4proto":"udp","dport":7009,"action":"divert"}}})",
        R"({"v":1,"cmd":"vlan.add","args":{"vid":42,"dev":"DEV"}})",
        R"({"v":1,"cmd":"divert.set","args":{"dev":"DEV","on":false}})",
        R"({"v":1,"cmd":"rule.replace","args":{"rules":[]}})",
    };
    static const std::vector<std::string> wrong = {
        R"({"v":1,"cmd":5})",
        R"({"v":"1","cmd":"status"})",
        R"({"v":2,"cmd":"status"})",
        R"({"v":1})",
        R"({"v":1,"cmd":"status","args":[]})",
        R"({"v":1,"cmd":"status","args":"x"})",
        R"({"v":1,"cmd":"status","extra":1})",
        R"([1,2,3])",
        R"("just a string")",
        R"(null)",
        R"({"v":1,"cmd":"port.add","args":{"dev":5}})",
        R"({"v":1,"cmd":"port.add","args":{"dev":"DEV","force":"yes"}})",
        R"({"v":1,"cmd":"port.add","args":{"dev":"DEV","typo":1}})",
        R"({"v":1,"cmd":"port.del","args":{"dev":["DEV"]}})",
        R"({"v":1,"cmd":"vlan.add","args":{"vid":-1}})",
        R"({"v":1,"cmd":"vlan.add","args":{"vid":1e30}})",
        R"({"v":1,"cmd":"vlan.add","args":{"vid":18446744073709551615}})",
        R"({"v":1,"cmd":"vlan.add","args":{"vid":4095,"dev":"DEV"}})",
        R"({"v":1,"cmd":"rule.add","args":{"rule":"udp dport 7000 action divert"}})",
        R"({"v":1,"cmd":"rule.add","args":{"rule":{"l4proto":"udp","dport":{"lo":9,"hi":2},"action":"divert"}}})",
        R"({"v":1,"cmd":"rule.add","args":{"rule":{"action":"explode"}}})",
        R"({"v":1,"cmd":"rule.del","args":{"id":-7}})",
        R"({"v":1,"cmd":"rule.replace","args":{"rules":{"not":"an array"}}})",
        R"({"v":1,"cmd":"rule.replace","args":{"rules":[1,2,3]}})",
        R"({"v":1,"cmd":"divert.set","args":{"dev":"DEV","on":"maybe"}})",
        R"({"v":1,"cmd":"divert.set","args":{"dev":"DEV","on":true,"mode":"warp"}})",
        R"({"v":1,"cmd":"load","args":{"dev":"DEV","file":"relative.o"}})",
        R"({"v":1,"cmd":"load","args":{"dev":"DEV","file":"/dev/zero"}})",
        R"({"v":1,"cmd":"xsk.register","args":{"dev":"DEV","queue":0}})",
        R"({"v":1,"cmd":"xsk.register","args":{"dev":"DEV","queue":99999}})",
        R"({"v":1,"cmd":"route.resolve","args":{"dst":"not an address"}})",
        R"({"v":1,"cmd":"port.add","args":{"dev":"\ud800"}})",
        R"({"v":1,"cmd":"port.add","args":{"dev":"../../etc/passwd"}})",
    };
    static const std::vector<std::string> verbs = {"port.explode", "", "PORT.ADD", "status ",
                                                   "rule.add.more", "shutdown", "exit", "port"};
    auto sub = [&](std::string s) {
        for (size_t p; (p = s.find("DEV")) != std::string::npos;)
            s.replace(p, 3, dev);
        return s;
    };
    std::uniform_int_distribution<int> pick(0, 99);
    const int k = pick(rng);
    Bad b;
    if (k < 25) {
        b.kind = "random bytes";
        std::uniform_int_distribution<size_t> len(1, 300);
        b.line = random_bytes(rng, len(rng));
        // A line of only blanks is skipped by the daemon without an answer.
        if (b.line.find_first_not_of(" \t\r") == std::string::npos)
            b.line = "x" + b.line;
    } else if (k < 45) {
        b.kind = "truncated JSON";
        std::string v = sub(valid[rng() % valid.size()]);
        b.line = v.substr(0, std::uniform_int_distribution<size_t>(1, v.size() - 1)(rng));
        // A cut right after a complete value is still malformed: nothing may follow the object,
        // and an object cut before its end never closes. A cut leaving only blanks is no request.
        if (b.line.find_first_not_of(" \t\r") == std::string::npos)
            b.line = "{";
    } else if (k < 75) {
        b.kind = "wrong types";
        b.line = sub(wrong[rng() % wrong.size()]);
    } else if (k < 90) {
        b.kind = "unknown verb";
        b.line = json{{"v", 1}, {"cmd", verbs[rng() % verbs.size()]}}.dump();
    } else if (k < 95) {
        b.kind = "long line";
        // Long but within the limit: a string of 256 KiB where a device name goes.
        b.line = json{{"v", 1}, {"cmd", "port.add"}, {"args", {{"dev", std::string(1 << 18, 'e')}}}}
                     .dump();
    } else {
        b.kind = "deep nesting";
        const size_t depth = 100000;
        b.line = std::string(depth, '[') + std::string(depth, ']');
    }
    b.line += "\n";
    return b;
}

struct Latency {
    std::vector<double> ms;
    int failed = 0;
    double pct(double p) {
        if (ms.empty())
            return 0;
        std::sort(ms.begin(), ms.end());
        return ms[std::min(ms.size() - 1, static_cast<size_t>(p * static_cast<double>(ms.size())))];
    }
};

// A good request, as the CLI makes it: connect, ask, read the answer.
void good_request(const std::string &socket, Latency &l) {
    auto t0 = Clock::now();
    try {
        auto c = daemon::Client::connect(socket);
        daemon::Response r = c.call("port.show");
        if (!r.ok)
            l.failed++;
    } catch (const std::exception &) {
        l.failed++;
    }
    l.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
}

size_t open_fds(pid_t pid) {
    size_t n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
         it != fs::directory_iterator(); it.increment(ec))
        n++;
    return n;
}

}  // namespace

TEST(Storm, TenThousandMalformedRequestsDaemonStaysUpAndAnswers) {
    OOBBPF_REQUIRE_PRIVILEGE();
    std::mt19937 seed_rng(storm_seed());
    DaemonEnv env;
    env.start();
    const std::string a = env.veth.a;
    ASSERT_EQ(env.cli("port add " + a).status, 0);
    ASSERT_EQ(env.cli("rule add udp dport 7000 action divert").status, 0);
    const std::string before = env.snapshot();
    // The daemon runs under nsenter, which execs it: the pid is the daemon's.
    const size_t fds_before = open_fds(env.pid());

    Latency quiet;
    for (int i = 0; i < 300; i++)
        good_request(env.socket, quiet);
    ASSERT_EQ(quiet.failed, 0);

    std::atomic<int> sent{0}, due{0}, answered{0}, answered_error{0}, answered_ok{0};
    std::atomic<int> hangups{0}, split{0}, with_fd{0}, too_long{0};
    std::mutex kinds_mu;
    std::map<std::string, int> kinds;
    std::atomic<bool> storming{true};
    Latency loud;
    std::thread good([&] {
        while (storming)
            good_request(env.socket, loud);
    });

    std::vector<std::thread> th;
    std::vector<unsigned> seeds;
    for (int t = 0; t < kThreads; t++)
        seeds.push_back(seed_rng());
    auto t_storm = Clock::now();
    for (int t = 0; t < kThreads; t++) {
        th.emplace_back([&, t] {
            std::mt19937 rng(seeds[t]);
            const int mine = kMalformed / kThreads;
            int done = 0;
            while (done < mine) {
                // A round: kConnsPerThread connections, each given a few requests, interleaved.
                struct C {
                    int fd;
                    std::string buf;
                    int expect = 0;
                    bool hangup = false, closed = false;
                };
                std::vector<C> cs;
                for (int i = 0; i < kConnsPerThread; i++) {
                    int fd = connect_unix(env.socket);
                    if (fd >= 0)
                        cs.push_back({fd, "", 0});
                }
                for (int step = 0; step < 4 && done < mine; step++) {
                    for (auto &c : cs) {
                        if (c.closed || done >= mine)
                            continue;
                        Bad b = make_bad(rng, a);
                        {
                            std::lock_guard<std::mutex> l(kinds_mu);
                            kinds[b.kind]++;
                        }
                        done++;
                        sent++;
                        const int how = static_cast<int>(rng() % 10);
                        if (how == 0) {
                            // Half a request, then hang up.
                            write_all(c.fd, b.line.substr(0, b.line.size() / 2));
                            c.hangup = c.closed = true;
                            hangups++;
                            due -= c.expect;  // answers to earlier requests go unread
                            c.expect = 0;
                            continue;
                        }
                        bool ok;
                        if (how == 1) {
                            // A stray descriptor with it: the daemon must close it.
                            int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                            ok = write_with_fd(c.fd, b.line, null);
                            close(null);
                            with_fd++;
                        } else if (how <= 4) {
                            // Split at a random point, with a pause between the halves.
                            size_t cut = rng() % b.line.size();
                            ok = write_all(c.fd, b.line.substr(0, cut));
                            std::this_thread::sleep_for(std::chrono::microseconds(200));
                            ok = ok && write_all(c.fd, b.line.substr(cut));
                            split++;
                        } else {
                            ok = write_all(c.fd, b.line);
                        }
                        if (ok && b.answered) {
                            c.expect++;
                            due++;
                        }
                        if (how == 9) {
                            // Hang up without reading the answer.
                            c.hangup = c.closed = true;
                            hangups++;
                            due -= c.expect;
                            c.expect = 0;
                        }
                    }
                }
                for (auto &c : cs) {
                    if (!c.hangup) {
                        for (const auto &line : read_lines(c.fd, c.expect, 10000, c.buf)) {
                            answered++;
                            try {
                                daemon::Response r = daemon::parse_response(line);
                                (r.ok ? answered_ok : answered_error)++;
                            } catch (const std::exception &) {
                            }
                        }
                    }
                    close(c.fd);
                }
            }
        });
    }
    // Lines past the limit (16 MiB), from their own connections: answered, then closed.
    std::thread huge([&] {
        for (int i = 0; i < 3; i++) {
            int fd = connect_unix(env.socket);
            std::string line(daemon::kMaxLine + 4096, 'x');
            write_all(fd, line + "\n");
            std::string buf;
            auto r = read_lines(fd, 1, 20000, buf);
            if (r.size() == 1 && r[0].find("request too long") != std::string::npos)
                too_long++;
            close(fd);
        }
    });
    for (auto &t : th)
        t.join();
    huge.join();
    const double storm_s = std::chrono::duration<double>(Clock::now() - t_storm).count();
    storming = false;
    good.join();

    for (const auto &[k, n] : kinds)
        std::printf("  %-15s %d\n", k.c_str(), n);
    std::printf("malformed: %d sent in %.1f s over %d threads x %d connections (%d split, %d "
                "with a stray fd, %d hang-ups); %d answers due, %d answered (%d errors, %d ok); "
                "%d of 3 lines past the limit refused\n",
                sent.load(), storm_s, kThreads, kConnsPerThread, split.load(), with_fd.load(),
                hangups.load(), due.load(), answered.load(), answered_error.load(),
                answered_ok.load(), too_long.load());
    std::printf("good requests (connect, port.show, answer): quiet p50 %.2f ms p99 %.2f ms (%zu); "
                "storm p50 %.2f ms p99 %.2f ms (%zu, %d failed); ratio p50 %.1f, p99 %.1f\n",
                quiet.pct(0.5), quiet.pct(0.99), quiet.ms.size(), loud.pct(0.5), loud.pct(0.99),
                loud.ms.size(), loud.failed, loud.pct(0.5) / quiet.pct(0.5),
                loud.pct(0.99) / quiet.pct(0.99));

    EXPECT_EQ(sent.load(), kMalformed);
    EXPECT_TRUE(env.running());
    EXPECT_EQ(kill(env.pid(), 0), 0) << "oobbpfd died:\n" << env.log();
    // Every complete request got its answer, and every answer was an error.
    EXPECT_EQ(answered.load(), due.load());
    EXPECT_EQ(answered_error.load(), answered.load());
    EXPECT_EQ(too_long.load(), 3);
    EXPECT_EQ(loud.failed, 0);
    EXPECT_GT(loud.ms.size(), 10u);
    // Nothing changed, nothing leaked.
    EXPECT_EQ(env.snapshot(), before);
    size_t fds_after = 0;
    for (int i = 0; i < 50; i++) {
        fds_after = open_fds(env.pid());
        if (fds_after == fds_before)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(fds_after, fds_before) << "descriptors leaked by the daemon";
    // Nesting is bounded before it costs anything.
    {
        int fd = connect_unix(env.socket);
        std::string buf;
        write_all(fd, std::string(100000, '[') + std::string(100000, ']') + "\n");
        auto r = read_lines(fd, 1, 5000, buf);
        ASSERT_EQ(r.size(), 1u);
        EXPECT_TRUE(r[0].find("nested deeper than 32 levels") != std::string::npos) << r[0];
        close(fd);
    }
    Latency after;
    for (int i = 0; i < 50; i++)
        good_request(env.socket, after);
    EXPECT_EQ(after.failed, 0);
}
