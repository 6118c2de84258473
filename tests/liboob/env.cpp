// SPDX-License-Identifier: MIT
#include "env.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

namespace oobbpf::test {

OobTopology::OobTopology(const std::vector<uint16_t> &dports,
                         const std::vector<uint16_t> &ethertypes, bool fragments)
    : veth(make_veth(client, oob, std::string(kClientIp) + "/24", std::string(kOobIp) + "/24")) {
    client.sh_ok("ip -6 addr add " + std::string(kClientIp6) + "/64 dev " + veth.a + " nodad");
    oob.sh_ok("ip -6 addr add " + std::string(kOobIp6) + "/64 dev " + veth.b + " nodad");
    pin_root = make_pin_root();
    cls = std::make_unique<StagedClassifier>(pin_root);
    oob_ifindex = cls->attach(oob, veth.b, 0, 1);
    cls->divert_udp(dports, ethertypes, fragments);
}

OobTopology::~OobTopology() {
    cls.reset();
    remove_pin_root(pin_root);
}

namespace {

socklen_t make_addr(const std::string &ip, uint16_t port, sockaddr_storage &ss) {
    std::memset(&ss, 0, sizeof(ss));
    auto *a4 = reinterpret_cast<sockaddr_in *>(&ss);
    if (inet_pton(AF_INET, ip.c_str(), &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        return sizeof(sockaddr_in);
    }
    auto *a6 = reinterpret_cast<sockaddr_in6 *>(&ss);
    if (inet_pton(AF_INET6, ip.c_str(), &a6->sin6_addr) != 1)
        throw std::runtime_error("bad address " + ip);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    return sizeof(sockaddr_in6);
}

}  // namespace

KernelUdp::KernelUdp(const std::string &ns, const std::string &bind_ip, uint16_t port) {
    NetnsScope in(ns);
    sockaddr_storage a;
    socklen_t len = make_addr(bind_ip, port, a);
    fd_ = socket(a.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0)
        throw std::runtime_error("socket");
    if (bind(fd_, reinterpret_cast<sockaddr *>(&a), len) < 0)
        throw std::runtime_error("bind " + bind_ip + ": " + strerror(errno));
    getsockname(fd_, reinterpret_cast<sockaddr *>(&a), &len);
    port_ = ntohs(reinterpret_cast<sockaddr_in *>(&a)->sin_port);  // same offset in sin6
}

KernelUdp::~KernelUdp() {
    if (fd_ >= 0)
        close(fd_);
}

bool KernelUdp::send(const std::string &ip, uint16_t port, const std::vector<uint8_t> &data) {
    sockaddr_storage a;
    socklen_t len = make_addr(ip, port, a);
    return sendto(fd_, data.data(), data.size(), 0, reinterpret_cast<sockaddr *>(&a), len) ==
           static_cast<ssize_t>(data.size());
}

std::vector<uint8_t> KernelUdp::recv(int timeout_ms, std::string *from_ip, uint16_t *from_port) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0)
        return {};
    std::vector<uint8_t> buf(65536);
    sockaddr_storage a{};
    socklen_t len = sizeof(a);
    ssize_t n = recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr *>(&a), &len);
    if (n < 0)
        return {};
    buf.resize(static_cast<size_t>(n));
    char s[INET6_ADDRSTRLEN] = "";
    if (a.ss_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in *>(&a)->sin_addr, s, sizeof(s));
    else
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6 *>(&a)->sin6_addr, s, sizeof(s));
    if (from_ip)
        *from_ip = s;
    if (from_port)
        *from_port = ntohs(reinterpret_cast<sockaddr_in *>(&a)->sin_port);
    return buf;
}

OobEcho::OobEcho(const std::string &ns, oob::StackConfig cfg, uint16_t port) {
    t_ = std::thread([this, ns, cfg, port]() mutable {
        try {
            NetnsScope in(ns);
            oob::Stack stack(std::move(cfg));
            auto sock = stack.udp(port);
            ready_ = true;
            oob::Datagram d[32];
            while (!stop_) {
                size_t n = sock->recv(d, 32, oob::Deadline::after_ms(20), oob::Wait::Sleep);
                for (size_t i = 0; i < n; i++)
                    if (sock->reply(d[i]) == 0)
                        echoed_++;
            }
            sc_ = stack.counters();
            kc_ = sock->counters();
        } catch (const std::exception &e) {
            error_ = e.what();
        }
        done_ = true;
    });
}

bool OobEcho::wait_ready(int ms) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!ready_ && !done_ && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return ready_;
}

void OobEcho::stop() {
    stop_ = true;
    if (t_.joinable())
        t_.join();
}

OobEcho::~OobEcho() {
    stop();
}

}  // namespace oobbpf::test

#include <bpf/bpf.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

namespace oobbpf::test {

Spawn::Spawn(const std::string &ns, const std::vector<std::string> &argv) {
    char tmpl[] = "/tmp/oobt-spawn-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0)
        throw std::runtime_error("mkstemp");
    log_ = tmpl;
    std::vector<std::string> args = {"nsenter", "--net=/run/netns/" + ns, "--"};
    args.insert(args.end(), argv.begin(), argv.end());
    pid_ = fork();
    if (pid_ == 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        std::vector<char *> cargs;
        for (auto &a : args)
            cargs.push_back(const_cast<char *>(a.c_str()));
        cargs.push_back(nullptr);
        execvp(cargs[0], cargs.data());
        _exit(127);
    }
    close(fd);
}

bool Spawn::running() {
    if (pid_ <= 0)
        return false;
    int st = 0;
    pid_t r = waitpid(pid_, &st, WNOHANG);
    if (r == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        pid_ = -1;
        return false;
    }
    return true;
}

int Spawn::stop(int timeout_ms) {
    if (pid_ <= 0)
        return status_;
    kill(pid_, SIGTERM);
    for (int waited = 0; waited < timeout_ms; waited += 10) {
        if (!running())
            return status_;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid_, SIGKILL);
    int st = 0;
    waitpid(pid_, &st, 0);
    pid_ = -1;
    status_ = -1;
    return status_;
}

Spawn::~Spawn() {
    stop(1000);
    unlink(log_.c_str());
}

std::string Spawn::log() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

LearnedMaps::LearnedMaps(const std::string &pin_root, const std::string &netns_name) {
    routes_ = bpf_map_create(BPF_MAP_TYPE_HASH, "oob_routes", sizeof(oob_route_key),
                             sizeof(oob_route), 1024, nullptr);
    neighs_ = bpf_map_create(BPF_MAP_TYPE_HASH, "oob_neighs", sizeof(oob_neigh_key),
                             sizeof(oob_neigh), 1024, nullptr);
    if (routes_ < 0 || neighs_ < 0 ||
        bpf_obj_pin(routes_, (pin_root + "/" + OOB_PIN_ROUTES).c_str()) != 0 ||
        bpf_obj_pin(neighs_, (pin_root + "/" + OOB_PIN_NEIGHS).c_str()) != 0)
        throw std::runtime_error("create and pin the learned maps");
    struct stat st {};
    if (stat(("/run/netns/" + netns_name).c_str(), &st) != 0)
        throw std::runtime_error("no namespace " + netns_name);
    netns_ = static_cast<uint32_t>(st.st_ino);
}

LearnedMaps::~LearnedMaps() {
    close(routes_);
    close(neighs_);
}

void LearnedMaps::put_route(const std::string &dst, uint32_t oif, uint32_t lower, uint16_t vid,
                            const std::string &prefsrc, uint32_t seq) {
    auto d = oob::IpAddr::from(dst);
    oob_route_key k{};
    k.netns = netns_;
    k.family = d.family;
    std::memcpy(k.dst, d.data(), d.size());
    oob_route r{};
    r.oif = oif;
    r.lower_ifindex = lower;
    r.vid = vid;
    r.family = d.family;
    r.flags = OOB_ROUTE_COMPLETE;
    r.mtu = 1500;
    auto src = oob::IpAddr::from(prefsrc);
    std::memcpy(r.prefsrc, src.data(), src.size());
    r.seq = seq;
    if (bpf_map_update_elem(routes_, &k, &r, BPF_ANY) != 0)
        throw std::runtime_error("put route");
}

void LearnedMaps::put_neigh(uint32_t ifindex, const std::string &addr, const oob::Mac &mac,
                            uint32_t seq) {
    auto a = oob::IpAddr::from(addr);
    oob_neigh_key k{};
    k.ifindex = ifindex;
    k.family = a.family;
    std::memcpy(k.addr, a.data(), a.size());
    oob_neigh n{};
    std::memcpy(n.mac, mac.data(), 6);
    n.state = 0x02;  // NUD_REACHABLE
    n.seq = seq;
    if (bpf_map_update_elem(neighs_, &k, &n, BPF_ANY) != 0)
        throw std::runtime_error("put neigh");
}

oob::Mac mac_of(const Netns &ns, const std::string &dev) {
    std::string out = ns.sh_ok("ip -o link show " + dev);
    std::string s = out.substr(out.find("link/ether ") + 11, 17);
    oob::Mac m{};
    for (size_t i = 0; i < 6; i++)
        m[i] = static_cast<uint8_t>(std::stoi(s.substr(i * 3, 2), nullptr, 16));
    return m;
}

std::string build_path(const std::string &rel) {
    if (const char *b = getenv("OOBBPF_BUILD"))
        return std::string(b) + "/" + rel;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    std::string dir = n > 0 ? std::string(self, static_cast<size_t>(n)) : ".";
    dir = dir.substr(0, dir.rfind('/'));  // build/tests/liboob
    return dir + "/../../" + rel;
}

bool wait_registered(int xsk_regs_fd, uint32_t key, int ms) {
    oob_xsk_reg reg{};
    for (int waited = 0; waited < ms; waited += 10) {
        if (bpf_map_lookup_elem(xsk_regs_fd, &key, &reg) == 0)
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

}  // namespace oobbpf::test
