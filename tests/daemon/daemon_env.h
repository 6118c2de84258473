// SPDX-License-Identifier: MIT
// A real oobbpfd in a throwaway namespace, and the real CLI next to it.
//
// Two namespaces joined by veth ("oob" side with the daemon, "peer" side sending), the daemon
// entered with `nsenter --net=` (so the host's bpffs is shared) and given its own --pin-root,
// --socket and --state-dir. The destructor kills the daemon, runs `oobbpfd --cleanup --purge`,
// removes every path the test used and the namespaces, also when the test failed.
#pragma once

#include "netns.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <signal.h>
#include <sys/types.h>
#include <thread>

namespace oobbpf::test {

struct Out {
    int status = -1;
    std::string out;  // stdout
    std::string err;  // stderr
    // stderr is exactly one non-empty line.
    bool one_line_error() const;
};

// Runs a shell command, stdout and stderr apart.
Out run(const std::string &cmd);

inline bool contains(const std::string &s, const std::string &needle) {
    return s.find(needle) != std::string::npos;
}

class DaemonEnv {
  public:
    // addr_oob/addr_peer: CIDR addresses of the two veth ends.
    explicit DaemonEnv(const std::string &addr_oob = "10.77.0.1/24",
                       const std::string &addr_peer = "10.77.0.2/24");
    ~DaemonEnv();
    DaemonEnv(const DaemonEnv &) = delete;
    DaemonEnv &operator=(const DaemonEnv &) = delete;

    // Starts oobbpfd (extra: more options) and waits until it answers. Fails the test (and
    // throws) with the daemon's log when it does not come up.
    void start(const std::string &extra = "");
    // Sends sig and waits for the daemon to end.
    void stop(int sig = SIGTERM);
    bool running() const { return pid_ > 0; }
    pid_t pid() const { return pid_; }
    std::string log() const;

    // `oobbpf ARGS` in the oob namespace, pointed at this daemon.
    Out cli(const std::string &args) const;
    // As cli(), parsing stdout as JSON; a failure or unparsable output fails the test.
    nlohmann::json cli_json(const std::string &args) const;
    // `oobbpfd --cleanup [...]` in the oob namespace.
    Out cleanup(const std::string &extra = "") const;
    // oobbpfd in the oob namespace, in the foreground, for a start that is expected to fail:
    // its exit status and output (given up after 60 s).
    Out run_daemon(const std::string &extra = "") const;

    // What a user can observe of the configured state (the saved configuration, ports, VLAN sets,
    // rules without their counters, diverting devices and their attachments, pinned map dumps;
    // with program_id, the id of the XDP program on the oob device too).
    std::string snapshot(bool program_id = true) const;

    Netns oob, peer;
    Veth veth;
    std::string dir, pin_root, socket, state_dir;
    std::string flags() const;  // --pin-root ... --socket ... --state-dir ...

  private:
    pid_t pid_ = -1;
};

// Sends UDP datagrams from the peer namespace to dst:port, one every period_us, until stopped.
class UdpFlow {
  public:
    UdpFlow(const std::string &netns, const std::string &dst, uint16_t port,
            unsigned period_us = 1000);
    ~UdpFlow();
    uint64_t sent() const { return sent_; }

  private:
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> sent_{0};
    std::thread t_;
};

// Sends n datagrams from the peer namespace and returns when they are out.
void send_udp(const std::string &netns, const std::string &dst, uint16_t port, int n);

// Counters from `oobbpf -j stats`: packets of a verdict, or of a reason, for the port of dev.
uint64_t port_verdict(const nlohmann::json &stats, const std::string &dev, const char *verdict);
uint64_t port_reason(const nlohmann::json &stats, const std::string &dev, const char *reason);
uint64_t rule_packets(const nlohmann::json &stats, uint32_t id);

}  // namespace oobbpf::test
