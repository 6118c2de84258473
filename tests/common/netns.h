// SPDX-License-Identifier: MIT
// Test environments made of throwaway network namespaces and veth pairs.
//
// Every name a test creates starts with "oobt" (namespaces) or "ot" (devices) and carries the
// process id, so parallel runs never collide and the leak check (tests/netns/leak_test) can find
// leftovers. Namespaces are entered with `nsenter --net=/run/netns/NAME`, never `ip netns exec`:
// the latter gives each process a fresh bpffs, and pins made there vanish with the process.
#pragma once

#include <string>
#include <vector>

namespace oobbpf::test {

struct CmdResult {
    int status = -1;  // exit status, or -1 when the command could not run
    std::string out;  // stdout and stderr together
};

// /bin/sh -c CMD, output captured.
CmdResult sh(const std::string &cmd);
// As sh(), but a non-zero exit is a test failure (and throws, to stop the test).
std::string sh_ok(const std::string &cmd);

// "<prefix><pid><n>", at most 15 characters (IFNAMSIZ - 1).
std::string unique_name(const std::string &prefix);

// True when this process may load BPF programs and create namespaces.
bool privileged();
// Mounts bpffs on /sys/fs/bpf if it is not mounted there.
void ensure_bpffs();
// A unique pin root under /sys/fs/bpf for one test; removed by remove_pin_root().
std::string make_pin_root();
void remove_pin_root(const std::string &root);

// A network namespace that lives as long as this object. The destructor kills what still runs
// inside and deletes the namespace (with its devices), also when the test failed.
class Netns {
public:
    Netns();
    ~Netns();
    Netns(const Netns &) = delete;
    Netns &operator=(const Netns &) = delete;

    const std::string &name() const { return name_; }
    // Prefix that runs a command inside: "nsenter --net=/run/netns/NAME -- ".
    std::string prefix() const;
    CmdResult sh(const std::string &cmd) const;
    std::string sh_ok(const std::string &cmd) const;
    int ifindex(const std::string &dev) const;

private:
    std::string name_;
};

// A veth pair between two namespaces, addressed and up. Removed with the namespaces.
struct Veth {
    std::string a;  // device in na
    std::string b;  // device in nb
};
// addr_a/addr_b in CIDR form ("10.1.0.1/24"); either may be empty. Turns TX checksum offload
// off on both sides (DESIGN.md: kernel senders on veth leave checksums unfinished).
Veth make_veth(const Netns &na, const Netns &nb, const std::string &addr_a,
               const std::string &addr_b);

}  // namespace oobbpf::test

// Skip (exit code 77 for the whole binary is not needed: GTEST_SKIP per test) when the test
// cannot run for lack of privilege; on a privileged machine the test runs and may fail.
#define OOBBPF_REQUIRE_PRIVILEGE()                                                  \
    do {                                                                            \
        if (!::oobbpf::test::privileged())                                          \
            GTEST_SKIP() << "needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)";    \
    } while (0)
