// SPDX-License-Identifier: MIT
// The two-namespace topology of liboob's netns tests: a client namespace with a kernel UDP
// stack, an oob namespace whose device runs the classifier (staged like the daemon would) and
// an oob application on liboob.
#pragma once

#include "netns.h"
#include "stage.h"

#include <liboob/stack.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace oobbpf::test {

struct OobTopology {
    Netns client, oob;
    Veth veth;  // a: client side, b: oob side
    std::string pin_root;
    std::unique_ptr<StagedClassifier> cls;
    uint32_t oob_ifindex = 0;
    static constexpr const char *kClientIp = "10.77.0.1", *kOobIp = "10.77.0.2";

    static constexpr const char *kClientIp6 = "fd77::1", *kOobIp6 = "fd77::2";

    // Addresses (IPv4 and IPv6), the classifier on the oob side with the device as port 1 and
    // a rule diverting each of dports (and each of ethertypes).
    explicit OobTopology(const std::vector<uint16_t> &dports,
                         const std::vector<uint16_t> &ethertypes = {}, bool fragments = false);
    ~OobTopology();
};

// A kernel UDP socket inside a namespace (created there; usable from any thread); IPv4 or
// IPv6 by the address it binds to.
class KernelUdp {
  public:
    KernelUdp(const std::string &ns, const std::string &bind_ip, uint16_t port = 0);
    ~KernelUdp();
    bool send(const std::string &ip, uint16_t port, const std::vector<uint8_t> &data);
    // Waits at most timeout_ms; empty when nothing came.
    std::vector<uint8_t> recv(int timeout_ms, std::string *from_ip = nullptr,
                              uint16_t *from_port = nullptr);
    uint16_t port() const { return port_; }
    int fd() const { return fd_; }

  private:
    int fd_ = -1;
    uint16_t port_ = 0;
};

// liboob echo in a thread of the oob namespace: every datagram goes back to its sender.
class OobEcho {
  public:
    OobEcho(const std::string &ns, oob::StackConfig cfg, uint16_t port);
    ~OobEcho();
    void stop();
    uint64_t echoed() const { return echoed_; }
    // Snapshots taken when stopped.
    oob::StackCounters stack_counters() const { return sc_; }
    oob::SocketCounters socket_counters() const { return kc_; }
    std::string error() const { return error_; }
    bool ready() const { return ready_; }
    // Waits until the socket is registered (or failed).
    bool wait_ready(int ms = 5000);

  private:
    std::thread t_;
    std::atomic<bool> stop_{false}, ready_{false}, done_{false};
    std::atomic<uint64_t> echoed_{0};
    oob::StackCounters sc_;
    oob::SocketCounters kc_;
    std::string error_;
};

}  // namespace oobbpf::test

namespace oobbpf::test {

// The learned route and neighbour maps as the learner pins them (<root>/routes, <root>/neighs,
// abi.h layouts), filled by hand.
class LearnedMaps {
  public:
    // netns_name: the namespace whose routes these are (its inode keys the entries).
    LearnedMaps(const std::string &pin_root, const std::string &netns_name);
    ~LearnedMaps();
    void put_route(const std::string &dst, uint32_t oif, uint32_t lower, uint16_t vid,
                   const std::string &prefsrc, uint32_t seq = 2);
    void put_neigh(uint32_t ifindex, const std::string &addr, const oob::Mac &mac,
                   uint32_t seq = 2);

  private:
    int routes_ = -1, neighs_ = -1;
    uint32_t netns_ = 0;
};

// The MAC of dev in ns.
oob::Mac mac_of(const Netns &ns, const std::string &dev);

// A program running in the background inside a namespace (nsenter --net), its stdout and
// stderr in a log file. Stopped with SIGTERM (then SIGKILL) when destroyed.
class Spawn {
  public:
    Spawn(const std::string &ns, const std::vector<std::string> &argv);
    ~Spawn();
    // SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the exit status (-1 if killed).
    int stop(int timeout_ms = 3000);
    bool running();
    std::string log() const;
    int pid() const { return pid_; }

  private:
    int pid_ = -1, status_ = -1;
    std::string log_;
};

// A program of this build: $OOBBPF_BUILD/<rel> (set by ctest), else next to the test binary.
std::string build_path(const std::string &rel);

// Waits until the XSKMAP mirror holds key (a socket registered), or ms pass.
bool wait_registered(int xsk_regs_fd, uint32_t key, int ms = 5000);

}  // namespace oobbpf::test
