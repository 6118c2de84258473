// SPDX-License-Identifier: MIT
// oob-echo: a UDP echo on the oob path. Every datagram that the classifier diverts to PORT on
// DEV goes back to its sender from user space, zero copy (the reply is built in the request's
// frame). With --sockperf it answers sockperf's ping-pong and under-load clients the way a
// sockperf server does. With --kernel it is the same echo on a plain kernel socket, the
// baseline of the benchmark.
//
//   oob-echo --dev DEV --port N [--queue Q]... [--pin-root P] [--sockperf]
//            [--wait busy|sleep] [--mode copy|zerocopy|auto] [--miss inband|error]
//            [--count N] [--duration S] [--cpu N] [--force] [--no-register] [-j]
//   oob-echo --kernel --port N [--dev DEV] [--sockperf] [--wait busy|sleep] [--cpu N] ...
#include "common.h"
#include "sockperf.h"

#include <CLI/CLI.hpp>
#include <liboob/stack.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

using namespace oobbpf;
using oobbpf::tools::g_stop;

namespace {

struct Options {
    std::string dev, pin_root, wait = "busy", mode = "auto", miss = "inband";
    uint16_t port = 0;
    std::vector<uint32_t> queues;
    bool sockperf = false, kernel = false, force = false, no_register = false, json = false;
    uint64_t count = 0;
    double duration = 0;
    int cpu = -1;
};

bool expired(const Options &o, uint64_t start, uint64_t echoed) {
    return g_stop || (o.count && echoed >= o.count) ||
           (o.duration > 0 && oob::now_ns() - start >= static_cast<uint64_t>(o.duration * 1e9));
}

int run_oob(const Options &o) {
    oob::StackConfig cfg;
    cfg.dev = o.dev;
    cfg.queues = o.queues.empty() ? std::vector<uint32_t>{0} : o.queues;
    cfg.pin_root = o.pin_root;
    cfg.force = o.force;
    cfg.register_xsk = !o.no_register;
    cfg.xsk.mode = o.mode == "copy"       ? oob::BindMode::Copy
                   : o.mode == "zerocopy" ? oob::BindMode::ZeroCopy
                                          : oob::BindMode::Auto;
    cfg.miss = o.miss == "error" ? oob::MissPolicy::Error : oob::MissPolicy::InBand;
    oob::Stack stack(cfg);
    auto sock = stack.udp(o.port);
    const oob::Wait wait = o.wait == "sleep" ? oob::Wait::Sleep : oob::Wait::Busy;
    std::fprintf(stderr, "oob-echo: %s port %u, %zu queue(s) on %s%s, routes from %s\n",
                 o.dev.c_str(), o.port, stack.nqueues(), stack.lower().name.c_str(),
                 stack.queue(0).zero_copy() ? " (zero-copy)" : " (copy)",
                 stack.route_source().c_str());

    const uint64_t start = oob::now_ns();
    uint64_t echoed = 0, ignored = 0;
    oob::Datagram d[64];
    while (!expired(o, start, echoed)) {
        size_t n = sock->recv(d, 64, oob::Deadline::after_ms(100), wait);
        if (!n)
            continue;
        if (o.sockperf) {
            size_t m = 0;
            for (size_t i = 0; i < n; i++) {
                if (tools::sockperf_answer(d[i].frame.data(), d[i].frame.len())) {
                    if (m != i)
                        d[m] = std::move(d[i]);
                    m++;
                } else {
                    d[i].frame.reset();
                    ignored++;
                }
            }
            n = m;
        }
        // Stamps asked for by oob-ping (common.h): when the request was judged and delivered,
        // and when the reply goes out.
        const uint64_t now = oob::fast_now_ns();
        for (size_t i = 0; i < n; i++) {
            oob::Frame &f = d[i].frame;
            uint64_t magic;
            if (f.len() < tools::kStampEnd)
                continue;
            std::memcpy(&magic, f.data() + tools::kStampMagicOff, 8);
            if (magic != tools::kStampMagic)
                continue;
            const tools::EchoStamps st{f.info().classified_ns, f.info().delivered_ns, now};
            std::memcpy(f.data() + tools::kStampOff, &st, sizeof(st));
        }
        echoed += sock->reply_batch(d, n);
    }

    const auto &sc = sock->counters();
    const auto st = stack.counters();
    const auto qc = stack.queue_counters();
    if (o.json) {
        nlohmann::json j = {{"echoed", echoed},
                            {"ignored", ignored},
                            {"socket",
                             {{"rx_packets", sc.rx_packets},
                              {"rx_dropped", sc.rx_dropped},
                              {"rx_inband", sc.rx_inband},
                              {"tx_packets", sc.tx_packets},
                              {"tx_inband", sc.tx_inband},
                              {"tx_errors", sc.tx_errors},
                              {"route_misses", sc.route_misses},
                              {"neigh_misses", sc.neigh_misses}}},
                            {"stack",
                             {{"rx_frames", st.rx_frames},
                              {"rx_meta", st.rx_meta},
                              {"rx_no_socket", st.rx_no_socket},
                              {"tx_frames", st.tx_frames},
                              {"path_hits", st.path_hits},
                              {"path_lookups", st.path_lookups}}},
                            {"xsk",
                             {{"kernel_rx_dropped", qc.kernel_rx_dropped},
                              {"kernel_fill_empty", qc.kernel_fill_empty},
                              {"tx_kicks", qc.tx_kicks}}}};
        std::cout << j.dump() << std::endl;
    } else {
        std::fprintf(stderr,
                     "oob-echo: echoed %lu, ignored %lu; rx %lu (in-band %lu, dropped %lu), "
                     "tx %lu (in-band %lu, errors %lu), misses route %lu neigh %lu\n",
                     echoed, ignored, sc.rx_packets, sc.rx_inband, sc.rx_dropped, sc.tx_packets,
                     sc.tx_inband, sc.tx_errors, sc.route_misses, sc.neigh_misses);
    }
    return 0;
}

int run_kernel(const Options &o) {
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    int zero = 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (!o.dev.empty() && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, o.dev.c_str(),
                                     static_cast<socklen_t>(o.dev.size())) < 0) {
        std::perror("SO_BINDTODEVICE");
        return 1;
    }
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(o.port);
    if (bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) < 0) {
        std::perror("bind");
        return 1;
    }
    const bool busy = o.wait == "busy";
    std::fprintf(stderr, "oob-echo: kernel socket port %u (%s)\n", o.port,
                 busy ? "busy" : "blocking");
    timeval tv{0, 100000};
    if (!busy)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    const uint64_t start = oob::now_ns();
    uint64_t echoed = 0, ignored = 0;
    std::vector<uint8_t> buf(65536);
    while (!expired(o, start, echoed)) {
        sockaddr_in6 from{};
        socklen_t flen = sizeof(from);
        ssize_t n = recvfrom(fd, buf.data(), buf.size(), busy ? MSG_DONTWAIT : 0,
                             reinterpret_cast<sockaddr *>(&from), &flen);
        if (n < 0)
            continue;
        if (o.sockperf && !tools::sockperf_answer(buf.data(), static_cast<size_t>(n))) {
            ignored++;
            continue;
        }
        if (sendto(fd, buf.data(), static_cast<size_t>(n), 0, reinterpret_cast<sockaddr *>(&from),
                   flen) == n)
            echoed++;
    }
    close(fd);
    if (o.json)
        std::cout << nlohmann::json{{"echoed", echoed}, {"ignored", ignored}}.dump() << std::endl;
    else
        std::fprintf(stderr, "oob-echo: echoed %lu, ignored %lu\n", echoed, ignored);
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    Options o;
    CLI::App app{"UDP echo on the oob path (or, with --kernel, on a kernel socket)"};
    app.add_option("--dev", o.dev, "oob port device (a VLAN device for a VLAN port)");
    app.add_option("--port", o.port, "UDP port")->required();
    app.add_option("--queue", o.queues,
                   "RX queue(s) of the device, one AF_XDP socket each (default 0)");
    app.add_option("--pin-root", o.pin_root,
                   "where the daemon pinned the classifier's maps (default: the daemon of this "
                   "network namespace)");
    app.add_flag("--sockperf", o.sockperf,
                 "answer sockperf clients (clear the client flag; no answer to warm-ups)");
    app.add_option("--wait", o.wait, "busy: spin on the rings; sleep: poll(2)")
        ->check(CLI::IsMember({"busy", "sleep"}));
    app.add_option("--mode", o.mode, "AF_XDP bind mode")
        ->check(CLI::IsMember({"copy", "zerocopy", "auto"}));
    app.add_option("--miss", o.miss,
                   "on a route or neighbour miss: send in-band, or drop with an error")
        ->check(CLI::IsMember({"inband", "error"}));
    app.add_option("--count", o.count, "exit after this many echoes");
    app.add_option("--duration", o.duration, "exit after this many seconds");
    app.add_option("--cpu", o.cpu, "pin to this CPU");
    app.add_flag("--force", o.force, "take a queue registered by another live process");
    app.add_flag("--no-register", o.no_register, "do not write the XSKMAP (someone else does)");
    app.add_flag("--kernel", o.kernel, "a plain kernel UDP socket instead of the oob path");
    app.add_flag("-j,--json", o.json, "counters as JSON on stdout at exit");
    CLI11_PARSE(app, argc, argv);
    if (!o.kernel && o.dev.empty()) {
        std::fprintf(stderr, "oob-echo: --dev is required on the oob path\n");
        return 2;
    }
    tools::on_stop_signals();
    if (!tools::pin_cpu(o.cpu))
        return 1;
    try {
        return o.kernel ? run_kernel(o) : run_oob(o);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "oob-echo: %s\n", e.what());
        return 1;
    }
}
