// SPDX-License-Identifier: MIT
// Mixed traffic for the fault tests, and where each piece of it arrived.
//
// Every UDP datagram the peer sends says who it is (flow port, sequence number) and is looked
// for at both ends of the oob namespace: an AF_XDP socket registered with the daemon (the oob
// side) and kernel UDP sockets bound to the same ports (in-band). A datagram seen on neither is
// lost; one seen on the wrong side is misclassified. Ping and a TCP stream run beside them, both
// in-band.
#pragma once

#include "daemon_env.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace oobbpf::test {

class XskSocket;

enum class Side { None, Oob, Kernel, Both };
const char *side_name(Side s);

class Traffic {
  public:
    // kernel_ports: the UDP ports that get a kernel socket in the oob namespace (every port the
    // test sends to). The AF_XDP socket is bound to queue 0 of env.veth.a and registered with
    // the running daemon.
    Traffic(const DaemonEnv &env, const std::vector<uint16_t> &kernel_ports);
    ~Traffic();
    Traffic(const Traffic &) = delete;
    Traffic &operator=(const Traffic &) = delete;

    // Registers the AF_XDP socket with the daemon (again, e.g. after its device came back).
    void register_xsk();

    // One datagram to port; returns the side it arrived on within timeout_ms.
    Side probe(uint16_t port, int timeout_ms = 1000);
    // One datagram to each port, all sent before any is awaited.
    std::map<uint16_t, Side> probe_all(const std::vector<uint16_t> &ports, int timeout_ms = 1000);

    // Continuous flows: a datagram to each port every period_us, until stop_flows().
    void start_flows(const std::vector<uint16_t> &ports, unsigned period_us);
    // Stops them, waits for the last datagrams, and returns per port how many were sent and
    // where they arrived.
    struct FlowResult {
        uint64_t sent = 0, oob = 0, kernel = 0, both = 0, lost = 0;
    };
    std::map<uint16_t, FlowResult> stop_flows(int settle_ms = 300);

    uint64_t oob_frames() const { return oob_total_; }

  private:
    void record(uint16_t port, uint32_t seq, int bit);
    Side side_of(uint16_t port, uint32_t seq) const;
    void send(uint16_t port, uint32_t seq);

    const DaemonEnv &env_;
    std::unique_ptr<XskSocket> xsk_;
    int tx_fd_ = -1;
    std::map<uint16_t, int> rx_fds_;
    std::atomic<bool> stop_{false}, flows_stop_{false};
    std::thread xsk_rx_, kernel_rx_, flows_;
    std::vector<uint16_t> flow_ports_;
    std::map<uint16_t, uint64_t> flow_sent_;
    mutable std::mutex mu_;
    std::map<uint64_t, int> seen_;  // (port << 32 | seq) -> 1 oob, 2 kernel
    std::atomic<uint32_t> probe_seq_{1u << 31};
    std::atomic<uint64_t> oob_total_{0};
};

// A command in the background (in a namespace), stopped with SIGINT; its output kept.
class Background {
  public:
    explicit Background(const std::string &cmd);
    ~Background();
    // Sends SIGINT, waits, and returns everything it printed.
    std::string stop();

  private:
    pid_t pid_ = -1;
    std::string out_;
};

// Ping's loss from its summary line ("N packets transmitted, M received"): {transmitted, received}.
std::pair<int, int> ping_counts(const std::string &out);

// A TCP stream from the peer to a kernel socket in the oob namespace: numbered 8-byte records
// every period_us; stop() returns how many were sent, how many arrived, and whether they came
// in order, whole, with no reset.
class TcpStream {
  public:
    TcpStream(const DaemonEnv &env, uint16_t port, unsigned period_us);
    ~TcpStream();
    struct Result {
        uint64_t sent = 0, received = 0;
        bool in_order = true;
        std::string error;
    };
    Result stop();

  private:
    std::atomic<bool> stop_{false};
    std::thread server_, client_;
    Result r_;                  // the server's side, and sent
    std::string client_error_;  // the client's
    int listen_fd_ = -1;
};

}  // namespace oobbpf::test
