// SPDX-License-Identifier: MIT
#include "daemon_env.h"

#include "datapath.h"
#include "protocol.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace oobbpf::test {

namespace {

std::string slurp(const std::string &path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

bool Out::one_line_error() const {
    return !err.empty() && err.back() == '\n' && err.find('\n') == err.size() - 1;
}

Out run(const std::string &cmd) {
    char tmpl[] = "/tmp/oobt-err-XXXXXX";
    int efd = mkstemp(tmpl);
    if (efd >= 0)
        close(efd);
    CmdResult r = sh(cmd + " 2>" + tmpl);
    Out o;
    o.status = r.status;
    o.out = r.out;
    o.err = slurp(tmpl);
    unlink(tmpl);
    return o;
}

DaemonEnv::DaemonEnv(const std::string &addr_oob, const std::string &addr_peer)
    : veth(make_veth(oob, peer, addr_oob, addr_peer)) {
    char tmpl[] = "/tmp/oobt-daemon-XXXXXX";
    if (!mkdtemp(tmpl))
        throw std::runtime_error("mkdtemp");
    dir = tmpl;
    ensure_bpffs();
    pin_root = "/sys/fs/bpf/" + unique_name("oobt");
    socket = dir + "/oobbpfd.sock";
    state_dir = dir + "/state";
}

DaemonEnv::~DaemonEnv() {
    if (pid_ > 0)
        stop(SIGKILL);
    cleanup("--purge");
    remove_pin_root(pin_root);
    std::error_code ec;
    fs::remove_all(dir, ec);
}

std::string DaemonEnv::flags() const {
    return "--pin-root " + pin_root + " --socket " + socket + " --state-dir " + state_dir;
}

void DaemonEnv::start(const std::string &extra) {
    const std::string logfile = dir + "/oobbpfd.log";
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(logfile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        std::string cmd = "exec nsenter --net=/run/netns/" + oob.name() + " -- " OOBBPFD_BIN " " +
                          flags() + " " + extra;
        execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
        _exit(127);
    }
    pid_ = pid;
    // The verifier takes a few seconds on a busy 2-core machine: wait generously.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
        int st;
        if (waitpid(pid_, &st, WNOHANG) == pid_) {
            pid_ = -1;
            ADD_FAILURE() << "oobbpfd exited at start:\n" << log();
            throw std::runtime_error("oobbpfd did not start");
        }
        try {
            auto c = daemon::Client::connect(socket);
            if (c.call("status").ok)
                return;
        } catch (const std::exception &) {
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "oobbpfd did not answer within 60 s:\n" << log();
    throw std::runtime_error("oobbpfd did not start");
}

void DaemonEnv::stop(int sig) {
    if (pid_ <= 0)
        return;
    kill(pid_, sig);
    int st;
    waitpid(pid_, &st, 0);
    pid_ = -1;
}

std::string DaemonEnv::log() const {
    return slurp(dir + "/oobbpfd.log");
}

Out DaemonEnv::cli(const std::string &args) const {
    return run("nsenter --net=/run/netns/" + oob.name() + " -- " OOBBPF_BIN " --socket " + socket +
               " --pin-root " + pin_root + " --state-dir " + state_dir + " " + args);
}

nlohmann::json DaemonEnv::cli_json(const std::string &args) const {
    Out o = cli("-j " + args);
    if (o.status != 0) {
        ADD_FAILURE() << "oobbpf -j " << args << " failed: " << o.err;
        throw std::runtime_error("oobbpf failed");
    }
    try {
        return nlohmann::json::parse(o.out);
    } catch (const std::exception &e) {
        ADD_FAILURE() << "oobbpf -j " << args << " printed no JSON: " << o.out;
        throw;
    }
}

Out DaemonEnv::run_daemon(const std::string &extra) const {
    return run("timeout 60 nsenter --net=/run/netns/" + oob.name() + " -- " OOBBPFD_BIN " " +
               flags() + " " + extra);
}

Out DaemonEnv::cleanup(const std::string &extra) const {
    return run("nsenter --net=/run/netns/" + oob.name() + " -- " OOBBPFD_BIN " " + flags() +
               " --cleanup " + extra);
}

std::string DaemonEnv::snapshot(bool program_id) const {
    std::string s = "config: " + slurp(state_dir + "/config.json") + "\n";
    for (const char *what : {"port show", "vlan show", "divert show", "xsk show"}) {
        Out o = cli(std::string("-j ") + what);
        s += std::string(what) + ": " + o.out + o.err + "\n";
    }
    Out r = cli("-j rule show");
    try {
        auto j = nlohmann::json::parse(r.out);
        for (auto &e : j) {
            e.erase("packets");
            e.erase("bytes");
        }
        s += "rules: " + j.dump() + "\n";
    } catch (const std::exception &) {
        s += "rules: " + r.out + r.err + "\n";
    }
    for (const char *map : {"devs", "ports", "vlans", "rules", "rule_masks", "config", "xsk_regs"})
        s += std::string(map) + ": " +
             sh("bpftool -j map dump pinned " + pin_root + "/" + map).out + "\n";
    s += "links: " + sh("ls " + pin_root + "/links").out + "\n";
    if (program_id)
        s +=
            "xdp: " + oob.sh("ip -d link show " + veth.a + " | grep -o \"prog/xdp id [0-9]*\"").out;
    return s;
}

// ---- traffic --------------------------------------------------------------------------------

namespace {

int udp_socket_to(const std::string &dst, uint16_t port, sockaddr_in &sa) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sa = sockaddr_in{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, dst.c_str(), &sa.sin_addr);
    return fd;
}

}  // namespace

UdpFlow::UdpFlow(const std::string &netns, const std::string &dst, uint16_t port,
                 unsigned period_us) {
    t_ = std::thread([=, this] {
        EnterNetns in(netns);  // this thread only
        sockaddr_in sa;
        int fd = udp_socket_to(dst, port, sa);
        const char payload[32] = "oobbpf test flow";
        while (!stop_) {
            if (sendto(fd, payload, sizeof(payload), 0, reinterpret_cast<sockaddr *>(&sa),
                       sizeof(sa)) > 0)
                sent_++;
            std::this_thread::sleep_for(std::chrono::microseconds(period_us));
        }
        close(fd);
    });
}

UdpFlow::~UdpFlow() {
    stop_ = true;
    if (t_.joinable())
        t_.join();
}

void send_udp(const std::string &netns, const std::string &dst, uint16_t port, int n) {
    std::thread t([&] {
        EnterNetns in(netns);
        sockaddr_in sa;
        int fd = udp_socket_to(dst, port, sa);
        const char payload[32] = "oobbpf test datagram";
        for (int i = 0; i < n; i++) {
            sendto(fd, payload, sizeof(payload), 0, reinterpret_cast<sockaddr *>(&sa), sizeof(sa));
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        close(fd);
    });
    t.join();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

namespace {

const nlohmann::json *port_of(const nlohmann::json &stats, const std::string &dev) {
    for (const auto &p : stats["ports"])
        if (p["dev"] == dev)
            return &p;
    return nullptr;
}

}  // namespace

uint64_t port_verdict(const nlohmann::json &stats, const std::string &dev, const char *verdict) {
    const auto *p = port_of(stats, dev);
    return p ? (*p)["verdicts"][verdict]["packets"].get<uint64_t>() : 0;
}

uint64_t port_reason(const nlohmann::json &stats, const std::string &dev, const char *reason) {
    const auto *p = port_of(stats, dev);
    return p && (*p)["reasons"].contains(reason) ? (*p)["reasons"][reason].get<uint64_t>() : 0;
}

uint64_t rule_packets(const nlohmann::json &stats, uint32_t id) {
    for (const auto &r : stats["rules"])
        if (r["id"] == id)
            return r["packets"].get<uint64_t>();
    return 0;
}

}  // namespace oobbpf::test
