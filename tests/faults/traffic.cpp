// SPDX-License-Identifier: MIT
#include "traffic.h"

#include "datapath.h"
#include "protocol.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace oobbpf::test {

namespace {

// DaemonEnv's default addresses: the oob end of the veth.
constexpr const char *kOobAddr = "10.77.0.1";
constexpr char kMagic[4] = {'O', 'O', 'B', 'F'};
constexpr size_t kPayload = 16;  // magic, port, pad, seq, pad

sockaddr_in addr_of(const char *ip, uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, ip, &sa.sin_addr);
    return sa;
}

// The identity a datagram carries, if it is one of ours.
bool parse_payload(const uint8_t *p, size_t n, uint16_t &port, uint32_t &seq) {
    if (n < kPayload || std::memcmp(p, kMagic, 4) != 0)
        return false;
    std::memcpy(&port, p + 4, 2);
    std::memcpy(&seq, p + 8, 4);
    return true;
}

uint64_t key(uint16_t port, uint32_t seq) {
    return (static_cast<uint64_t>(port) << 32) | seq;
}

void sleep_ms(int ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace

const char *side_name(Side s) {
    switch (s) {
        case Side::Oob:
            return "oob";
        case Side::Kernel:
            return "kernel";
        case Side::Both:
            return "both";
        default:
            return "lost";
    }
}

Traffic::Traffic(const DaemonEnv &env, const std::vector<uint16_t> &kernel_ports) : env_(env) {
    {
        EnterNetns in(env.peer.name());
        tx_fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    }
    {
        EnterNetns in(env.oob.name());
        xsk_ = std::make_unique<XskSocket>(env.veth.a, 0);
        for (uint16_t port : kernel_ports) {
            int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            int big = 4 << 20;
            setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
            sockaddr_in sa = addr_of("0.0.0.0", port);
            if (bind(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0)
                throw std::runtime_error("bind UDP port " + std::to_string(port) + ": " +
                                         std::strerror(errno));
            rx_fds_[port] = fd;
        }
    }
    register_xsk();

    xsk_rx_ = std::thread([this] {
        while (!stop_) {
            for (const Bytes &f : xsk_->receive(20, 256)) {
                // Ethernet (untagged), IPv4, UDP: the peer's datagrams.
                if (f.size() < 14 + 20 + 8 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 17)
                    continue;
                const size_t l4 = 14 + static_cast<size_t>(f[14] & 0x0f) * 4;
                if (f.size() < l4 + 8)
                    continue;
                uint16_t port;
                uint32_t seq;
                if (parse_payload(f.data() + l4 + 8, f.size() - l4 - 8, port, seq)) {
                    record(port, seq, 1);
                    oob_total_++;
                }
            }
        }
    });
    kernel_rx_ = std::thread([this] {
        std::vector<pollfd> p;
        for (const auto &[port, fd] : rx_fds_)
            p.push_back({fd, POLLIN, 0});
        while (!stop_) {
            if (poll(p.data(), p.size(), 20) <= 0)
                continue;
            for (const auto &e : p) {
                if (!(e.revents & POLLIN))
                    continue;
                uint8_t buf[256];
                ssize_t n;
                while ((n = recv(e.fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
                    uint16_t port;
                    uint32_t seq;
                    if (parse_payload(buf, static_cast<size_t>(n), port, seq))
                        record(port, seq, 2);
                }
            }
        }
    });
}

Traffic::~Traffic() {
    if (flows_.joinable()) {
        flows_stop_ = true;
        flows_.join();
    }
    stop_ = true;
    xsk_rx_.join();
    kernel_rx_.join();
    for (const auto &[port, fd] : rx_fds_)
        close(fd);
    close(tx_fd_);
}

void Traffic::register_xsk() {
    auto c = daemon::Client::connect(env_.socket);
    c.call_ok("xsk.register", {{"dev", env_.veth.a}, {"queue", 0}}, nullptr, {xsk_->fd()});
}

void Traffic::record(uint16_t port, uint32_t seq, int bit) {
    std::lock_guard<std::mutex> l(mu_);
    seen_[key(port, seq)] |= bit;
}

Side Traffic::side_of(uint16_t port, uint32_t seq) const {
    std::lock_guard<std::mutex> l(mu_);
    auto it = seen_.find(key(port, seq));
    if (it == seen_.end())
        return Side::None;
    return it->second == 1 ? Side::Oob : it->second == 2 ? Side::Kernel : Side::Both;
}

void Traffic::send(uint16_t port, uint32_t seq) {
    uint8_t p[kPayload] = {};
    std::memcpy(p, kMagic, 4);
    std::memcpy(p + 4, &port, 2);
    std::memcpy(p + 8, &seq, 4);
    sockaddr_in sa = addr_of(kOobAddr, port);
    sendto(tx_fd_, p, sizeof(p), 0, reinterpret_cast<sockaddr *>(&sa), sizeof(sa));
}

Side Traffic::probe(uint16_t port, int timeout_ms) {
    return probe_all({port}, timeout_ms)[port];
}

std::map<uint16_t, Side> Traffic::probe_all(const std::vector<uint16_t> &ports, int timeout_ms) {
    std::map<uint16_t, uint32_t> seqs;
    for (uint16_t port : ports) {
        seqs[port] = probe_seq_++;
        send(port, seqs[port]);
        // A short gap keeps a burst from overrunning the receiving rings.
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    std::map<uint16_t, Side> out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        bool all = true;
        for (auto [port, seq] : seqs) {
            out[port] = side_of(port, seq);
            all = all && out[port] != Side::None;
        }
        if (all || std::chrono::steady_clock::now() > deadline)
            return out;
        sleep_ms(2);
    }
}

void Traffic::start_flows(const std::vector<uint16_t> &ports, unsigned period_us) {
    flow_ports_ = ports;
    flow_sent_.clear();
    flows_stop_ = false;
    flows_ = std::thread([this, period_us] {
        while (!flows_stop_) {
            for (uint16_t port : flow_ports_)
                send(port, static_cast<uint32_t>(flow_sent_[port]++));
            std::this_thread::sleep_for(std::chrono::microseconds(period_us));
        }
    });
}

std::map<uint16_t, Traffic::FlowResult> Traffic::stop_flows(int settle_ms) {
    flows_stop_ = true;
    flows_.join();
    sleep_ms(settle_ms);
    std::map<uint16_t, FlowResult> out;
    for (auto [port, sent] : flow_sent_) {
        FlowResult &r = out[port];
        r.sent = sent;
        for (uint64_t s = 0; s < sent; s++) {
            switch (side_of(port, static_cast<uint32_t>(s))) {
                case Side::Oob:
                    r.oob++;
                    break;
                case Side::Kernel:
                    r.kernel++;
                    break;
                case Side::Both:
                    r.both++;
                    break;
                default:
                    r.lost++;
            }
        }
    }
    return out;
}

// ---- Background -------------------------------------------------------------------------------

Background::Background(const std::string &cmd) {
    char tmpl[] = "/tmp/oobt-bg-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0)
        throw std::runtime_error("mkstemp");
    out_ = tmpl;
    pid_ = fork();
    if (pid_ == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), nullptr);
        _exit(127);
    }
    close(fd);
}

Background::~Background() {
    if (pid_ > 0)
        stop();
    unlink(out_.c_str());
}

std::string Background::stop() {
    if (pid_ > 0) {
        kill(pid_, SIGINT);
        int st;
        waitpid(pid_, &st, 0);
        pid_ = -1;
    }
    std::ifstream in(out_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::pair<int, int> ping_counts(const std::string &out) {
    int tx = -1, rx = -1;
    auto p = out.find(" packets transmitted, ");
    if (p != std::string::npos) {
        auto b = out.rfind('\n', p);
        tx = std::stoi(out.substr(b == std::string::npos ? 0 : b + 1));
        rx = std::stoi(out.substr(p + std::strlen(" packets transmitted, ")));
    }
    return {tx, rx};
}

// ---- TcpStream --------------------------------------------------------------------------------

TcpStream::TcpStream(const DaemonEnv &env, uint16_t port, unsigned period_us) {
    {
        EnterNetns in(env.oob.name());
        listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        sockaddr_in sa = addr_of("0.0.0.0", port);
        if (bind(listen_fd_, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0 ||
            listen(listen_fd_, 1) < 0)
            throw std::runtime_error("TCP listen: " + std::string(std::strerror(errno)));
    }
    server_ = std::thread([this] {
        pollfd p{listen_fd_, POLLIN, 0};
        if (poll(&p, 1, 10000) <= 0) {
            r_.error = "no TCP connection came";
            return;
        }
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        uint64_t expect = 0;
        uint8_t buf[8];
        size_t have = 0;
        for (;;) {
            ssize_t n = recv(fd, buf + have, sizeof(buf) - have, 0);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                r_.error = "TCP receive: " + std::string(std::strerror(errno));
                break;
            }
            if (n == 0)
                break;
            have += static_cast<size_t>(n);
            if (have == sizeof(buf)) {
                uint64_t v;
                std::memcpy(&v, buf, 8);
                r_.in_order = r_.in_order && v == expect;
                expect++;
                r_.received++;
                have = 0;
            }
        }
        close(fd);
    });
    client_ = std::thread([this, &env, port, period_us] {
        int fd;
        {
            EnterNetns in(env.peer.name());
            fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        }
        sockaddr_in sa = addr_of(kOobAddr, port);
        if (connect(fd, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0) {
            client_error_ = "TCP connect: " + std::string(std::strerror(errno));
            close(fd);
            return;
        }
        uint64_t seq = 0;
        while (!stop_) {
            if (::send(fd, &seq, sizeof(seq), MSG_NOSIGNAL) != sizeof(seq)) {
                client_error_ = "TCP send: " + std::string(std::strerror(errno));
                break;
            }
            seq++;
            r_.sent = seq;
            std::this_thread::sleep_for(std::chrono::microseconds(period_us));
        }
        shutdown(fd, SHUT_WR);
        close(fd);
    });
}

TcpStream::~TcpStream() {
    stop();
}

TcpStream::Result TcpStream::stop() {
    stop_ = true;
    if (client_.joinable())
        client_.join();
    if (server_.joinable())
        server_.join();
    if (listen_fd_ >= 0) {
        close(listen_fd_);
        listen_fd_ = -1;
    }
    Result r = r_;
    if (!client_error_.empty())
        r.error += (r.error.empty() ? "" : "; ") + client_error_;
    return r;
}

}  // namespace oobbpf::test
