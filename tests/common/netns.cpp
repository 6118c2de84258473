// SPDX-License-Identifier: MIT
#include "netns.h"

#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tuple>

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace oobbpf::test {

namespace {
constexpr long kBpfFsMagic = 0xcafe4a11;
std::atomic<int> counter{0};
}  // namespace

CmdResult sh(const std::string &cmd) {
    CmdResult r;
    std::string full = "(" + cmd + ") 2>&1";
    FILE *p = popen(full.c_str(), "r");
    if (!p)
        return r;
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0)
        r.out.append(buf.data(), n);
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

std::string sh_ok(const std::string &cmd) {
    CmdResult r = sh(cmd);
    if (r.status != 0) {
        ADD_FAILURE() << "command failed (" << r.status << "): " << cmd << "\n" << r.out;
        throw std::runtime_error("command failed: " + cmd);
    }
    return r.out;
}

std::string unique_name(const std::string &prefix) {
    std::string s = prefix + std::to_string(getpid() % 100000) + "x" + std::to_string(counter++);
    if (s.size() > 15)
        s = s.substr(s.size() - 15);
    return s;
}

bool privileged() { return geteuid() == 0; }

void ensure_bpffs() {
    struct statfs st{};
    if (statfs("/sys/fs/bpf", &st) == 0 && st.f_type == kBpfFsMagic)
        return;
    mkdir("/sys/fs/bpf", 0700);
    if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0)
        throw std::runtime_error("cannot mount bpffs on /sys/fs/bpf");
}

std::string make_pin_root() {
    ensure_bpffs();
    std::string root = "/sys/fs/bpf/" + unique_name("oobt");
    std::filesystem::create_directories(root);
    return root;
}

void remove_pin_root(const std::string &root) {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
}

Netns::Netns() : name_(unique_name("oobt")) { oobbpf::test::sh_ok("ip netns add " + name_); }

Netns::~Netns() {
    // Kill what still runs inside, then delete the namespace and its devices.
    // Never this process itself, which may have entered the namespace with setns().
    oobbpf::test::sh("ip netns pids " + name_ + " | grep -vx " + std::to_string(getpid()) +
                     " | xargs -r kill -9");
    oobbpf::test::sh("ip netns del " + name_);
}

std::string Netns::prefix() const { return "nsenter --net=/run/netns/" + name_ + " -- "; }

CmdResult Netns::sh(const std::string &cmd) const {
    return oobbpf::test::sh(prefix() + "sh -c '" + cmd + "'");
}

std::string Netns::sh_ok(const std::string &cmd) const {
    return oobbpf::test::sh_ok(prefix() + "sh -c '" + cmd + "'");
}

int Netns::ifindex(const std::string &dev) const {
    // Not /sys/class/net: nsenter --net keeps the host's sysfs mount.
    return std::stoi(sh_ok("ip -o link show dev " + dev + " | cut -d: -f1"));
}

Veth make_veth(const Netns &na, const Netns &nb, const std::string &addr_a,
               const std::string &addr_b) {
    Veth v{unique_name("ot"), unique_name("ot")};
    sh_ok("ip link add " + v.a + " netns " + na.name() + " type veth peer name " + v.b +
          " netns " + nb.name());
    for (auto [ns, dev, addr] : {std::tuple{&na, v.a, addr_a}, std::tuple{&nb, v.b, addr_b}}) {
        ns->sh_ok("ip link set lo up; ip link set " + dev + " up; ethtool -K " + dev +
                  " tx off >/dev/null");
        if (!addr.empty())
            ns->sh_ok("ip addr add " + addr + " dev " + dev);
    }
    return v;
}

}  // namespace oobbpf::test
