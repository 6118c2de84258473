// SPDX-License-Identifier: MIT
// oob-ping: UDP ping-pong, one request in flight, over the oob path (liboob on DEV; the
// classifier must divert the replies, i.e. UDP to --local-port, to this device) or over a plain
// kernel socket (--kernel). Prints min/p50/p90/p99/p99.9/max of the round-trip time and a
// histogram; on the oob path also where a round trip's time went: this end's send -> TX
// completion, the classifier's stamp -> delivery at both ends (the server's when it is oob-echo,
// which stamps requests of 48 bytes or more: common.h), the server's turnaround, and the rest
// (wire, kernel, the server's send).
//
//   oob-ping --dev DEV --to IP --port N [--local-port P] [--queue Q] [--pin-root P]
//            [--size BYTES] [--count N] [--warmup N] [--interval-us US] [--timeout-ms MS]
//            [--wait busy|sleep] [--cpu N] [--histogram] [--stamps FILE] [-j]
//   oob-ping --kernel --to IP --port N [--local-port P] [...]
#include "common.h"

#include <CLI/CLI.hpp>
#include <liboob/latency.h>
#include <liboob/stack.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>
#include <vector>

using namespace oobbpf;
using oobbpf::tools::g_stop;

namespace {

struct Options {
    std::string dev, to, pin_root, wait = "busy", stamps;
    uint16_t port = 0, local_port = 9000;
    uint32_t queue = 0;
    size_t size = 64;
    uint64_t count = 10000, warmup = 100, interval_us = 0, timeout_ms = 1000, resolve_ms = 1000;
    int cpu = -1;
    bool kernel = false, histogram = false, json = false;
};

// One measured round trip's timestamps (CLOCK_MONOTONIC; s_* are the server's, 0 when unknown).
struct Trip {
    uint64_t seq = 0, t0 = 0, t1 = 0;
    uint64_t tx_id = 0, c_queued = 0, c_completed = 0;
    uint64_t s_classified = 0, s_delivered = 0, s_queued = 0;
    uint64_t c_classified = 0, c_polled = 0, c_delivered = 0;
};

struct Result {
    oob::LatencyRecorder rtt, rx_stack;
    // Where the time went: this end's send -> completion, the server's classifier -> delivery,
    // its turnaround (delivery -> reply sent), this end's classifier -> delivery, the rest.
    oob::LatencyRecorder c_tx, s_rx, s_turn, c_rx, other;
    // This end's classifier -> delivery in two: the kernel (stamp -> liboob takes the frame off
    // the RX ring) and liboob (ring -> recv() returns it).
    oob::LatencyRecorder c_ring, c_lib;
    std::vector<Trip> trips;
    uint64_t sent = 0, lost = 0, stale = 0;
};

// The payload: sequence number, send time, then a fixed pattern (copied, not recomputed).
void fill(uint8_t *p, size_t size, uint64_t seq, uint64_t t0) {
    static const std::vector<uint8_t> pattern = [] {
        std::vector<uint8_t> v(65536);
        for (size_t i = 0; i < v.size(); i++)
            v[i] = static_cast<uint8_t>(i);
        return v;
    }();
    std::memcpy(p, &seq, 8);
    std::memcpy(p + 8, &t0, 8);
    if (size > 16)
        std::memcpy(p + 16, pattern.data() + 16, size - 16);
    if (size >= tools::kStampEnd) {
        // Ask an oob-echo server for its stamps; zeros stay when it gives none.
        std::memcpy(p + tools::kStampMagicOff, &tools::kStampMagic, 8);
        std::memset(p + tools::kStampOff, 0, sizeof(tools::EchoStamps));
    }
}

uint64_t seq_of(const uint8_t *p) {
    uint64_t s;
    std::memcpy(&s, p, 8);
    return s;
}

// Splits each round trip into what was measured at both ends; the rest is wire and other.
// Differences are taken on one host each, so the two ends' clocks need not agree. The server's
// stamped stretch and this end's receive are disjoint parts of the round trip; the send's
// completion is not: it overlaps the wire (on veth the peer even receives inside the send), so it
// is shown beside them and not subtracted.
void breakdown(Result &r) {
    for (const Trip &t : r.trips) {
        uint64_t known = 0;
        if (t.c_completed >= t.c_queued && t.c_queued)
            r.c_tx.add(t.c_completed - t.c_queued);
        if (t.s_classified && t.s_delivered >= t.s_classified) {
            r.s_rx.add(t.s_delivered - t.s_classified);
            known += t.s_delivered - t.s_classified;
        }
        if (t.s_delivered && t.s_queued >= t.s_delivered) {
            r.s_turn.add(t.s_queued - t.s_delivered);
            known += t.s_queued - t.s_delivered;
        }
        if (t.c_classified && t.c_delivered >= t.c_classified) {
            r.c_rx.add(t.c_delivered - t.c_classified);
            known += t.c_delivered - t.c_classified;
            if (t.c_polled >= t.c_classified && t.c_delivered >= t.c_polled) {
                r.c_ring.add(t.c_polled - t.c_classified);
                r.c_lib.add(t.c_delivered - t.c_polled);
            }
        }
        const uint64_t rtt = t.t1 - t.t0;
        r.other.add(rtt > known ? rtt - known : 0);
    }
}

void write_stamps(const std::string &file, const Result &r) {
    std::ofstream out(file);
    out << "# seq t0 t1 c_queued c_completed s_classified s_delivered s_queued c_classified "
           "c_delivered (ns, CLOCK_MONOTONIC; s_* on the server, 0: not measured)\n";
    for (const Trip &t : r.trips)
        out << t.seq << ' ' << t.t0 << ' ' << t.t1 << ' ' << t.c_queued << ' ' << t.c_completed
            << ' ' << t.s_classified << ' ' << t.s_delivered << ' ' << t.s_queued << ' '
            << t.c_classified << ' ' << t.c_delivered << '\n';
    if (!out)
        throw std::runtime_error("cannot write " + file);
}

void pause_between(const Options &o) {
    if (o.interval_us)
        std::this_thread::sleep_for(std::chrono::microseconds(o.interval_us));
}

int run_oob(const Options &o, Result &r) {
    oob::StackConfig cfg;
    cfg.dev = o.dev;
    cfg.queues = {o.queue};
    cfg.pin_root = o.pin_root;
    cfg.miss = oob::MissPolicy::Error;
    oob::Stack stack(cfg);
    auto sock = stack.udp(o.local_port);
    const oob::Endpoint to{oob::IpAddr::from(o.to), o.port};
    // Setup time: resolve now (soliciting the neighbour if needed), so the loop never misses.
    if (int rc = stack.resolve(to.addr, {}, oob::Deadline::after_ms(o.resolve_ms)); rc) {
        std::fprintf(stderr, "oob-ping: no path to %s: %s\n", o.to.c_str(), std::strerror(-rc));
        return 1;
    }
    const oob::Wait wait = o.wait == "sleep" ? oob::Wait::Sleep : oob::Wait::Busy;
    sock->enable_tx_timestamps(4096);
    std::map<uint64_t, size_t> pending_tx;  // send id -> trip still waiting for its completion
    oob::TxTimestamp ts[64];
    auto take_tx_timestamps = [&] {
        size_t n;
        while ((n = sock->tx_timestamps(ts, 64)) != 0)
            for (size_t k = 0; k < n; k++) {
                auto it = pending_tx.find(ts[k].id);
                if (it == pending_tx.end())
                    continue;
                Trip &t = r.trips[it->second];
                t.c_queued = ts[k].queued_ns;
                t.c_completed = ts[k].completed_ns;
                pending_tx.erase(it);
            }
    };
    oob::Datagram d[8];
    for (uint64_t i = 0; i < o.warmup + o.count && !g_stop; i++) {
        oob::Frame f = stack.alloc(0);
        if (f.empty()) {
            std::fprintf(stderr, "oob-ping: out of frames\n");
            return 1;
        }
        const uint64_t t0 = oob::now_ns();
        fill(f.put(static_cast<uint32_t>(o.size)), o.size, i, t0);
        if (int rc = sock->send_to(f, to); rc) {
            std::fprintf(stderr, "oob-ping: send: %s\n", std::strerror(-rc));
            return 1;
        }
        r.sent++;
        const uint64_t tx_id = sock->last_tx_id();
        const oob::Deadline dl = oob::Deadline::at_ns(t0 + o.timeout_ms * 1000000);
        bool got = false;
        while (!got && !g_stop) {
            size_t n = sock->recv(d, 8, dl, wait);
            if (!n)
                break;
            const uint64_t t1 = oob::now_ns();
            for (size_t k = 0; k < n; k++) {
                if (d[k].frame.len() >= 16 && seq_of(d[k].frame.data()) == i) {
                    got = true;
                    if (i >= o.warmup) {
                        r.rtt.add(t1 - t0);
                        const auto &info = d[k].frame.info();
                        if (info.has_meta && info.delivered_ns >= info.classified_ns)
                            r.rx_stack.add(info.delivered_ns - info.classified_ns);
                        Trip t;
                        t.seq = i;
                        t.t0 = t0;
                        t.t1 = t1;
                        t.tx_id = tx_id;
                        if (info.has_meta)
                            t.c_classified = info.classified_ns;
                        t.c_delivered = info.delivered_ns;
                        t.c_polled = info.polled_ns;
                        if (d[k].frame.len() >= tools::kStampEnd) {
                            tools::EchoStamps st;
                            std::memcpy(&st, d[k].frame.data() + tools::kStampOff, sizeof(st));
                            t.s_classified = st.classified_ns;
                            t.s_delivered = st.delivered_ns;
                            t.s_queued = st.queued_ns;
                        }
                        pending_tx[tx_id] = r.trips.size();
                        r.trips.push_back(t);
                    }
                } else {
                    r.stale++;
                }
                d[k].frame.reset();
            }
        }
        if (!got && i >= o.warmup)
            r.lost++;
        take_tx_timestamps();
        pause_between(o);
    }
    // Completions still on their way: a moment for the last ones.
    const oob::Deadline dl = oob::Deadline::after_ms(100);
    while (!pending_tx.empty() && !dl.passed())
        take_tx_timestamps();
    breakdown(r);
    return 0;
}

int run_kernel(const Options &o, Result &r) {
    const oob::IpAddr dst = oob::IpAddr::from(o.to);
    const int fam = dst.is_v6() ? AF_INET6 : AF_INET;
    int fd = socket(fam, SOCK_DGRAM, 0);
    sockaddr_storage me{}, peer{};
    socklen_t len;
    if (fam == AF_INET) {
        auto *a = reinterpret_cast<sockaddr_in *>(&me);
        a->sin_family = AF_INET;
        a->sin_port = htons(o.local_port);
        auto *b = reinterpret_cast<sockaddr_in *>(&peer);
        b->sin_family = AF_INET;
        b->sin_port = htons(o.port);
        std::memcpy(&b->sin_addr, dst.data(), 4);
        len = sizeof(sockaddr_in);
    } else {
        auto *a = reinterpret_cast<sockaddr_in6 *>(&me);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(o.local_port);
        auto *b = reinterpret_cast<sockaddr_in6 *>(&peer);
        b->sin6_family = AF_INET6;
        b->sin6_port = htons(o.port);
        std::memcpy(&b->sin6_addr, dst.data(), 16);
        len = sizeof(sockaddr_in6);
    }
    if (bind(fd, reinterpret_cast<sockaddr *>(&me), len) < 0 ||
        connect(fd, reinterpret_cast<sockaddr *>(&peer), len) < 0) {
        std::perror("oob-ping: kernel socket");
        return 1;
    }
    const bool busy = o.wait == "busy";
    timeval tv{static_cast<time_t>(o.timeout_ms / 1000),
               static_cast<suseconds_t>((o.timeout_ms % 1000) * 1000)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::vector<uint8_t> out(std::max<size_t>(o.size, 16)), in(65536);
    for (uint64_t i = 0; i < o.warmup + o.count && !g_stop; i++) {
        const uint64_t t0 = oob::now_ns();
        fill(out.data(), out.size(), i, t0);
        if (send(fd, out.data(), out.size(), 0) < 0) {
            std::perror("oob-ping: send");
            return 1;
        }
        r.sent++;
        const uint64_t until = t0 + o.timeout_ms * 1000000;
        bool got = false;
        while (!got && !g_stop) {
            ssize_t n = recv(fd, in.data(), in.size(), busy ? MSG_DONTWAIT : 0);
            const uint64_t t1 = oob::now_ns();
            if (n >= 16 && seq_of(in.data()) == i) {
                got = true;
                if (i >= o.warmup)
                    r.rtt.add(t1 - t0);
            } else if (n >= 0) {
                r.stale++;
            } else if ((busy && t1 >= until) || (!busy && errno != EINTR)) {
                break;
            }
        }
        if (!got && i >= o.warmup)
            r.lost++;
        pause_between(o);
    }
    close(fd);
    return 0;
}

// The client's classifier->delivery in two: the kernel's part and liboob's. Not among the
// disjoint parts above (they would count it twice).
std::vector<std::pair<const char *, const oob::LatencyRecorder *>> client_rx_split(const Result &r) {
    return {{"classifier->ring (kernel)", &r.c_ring}, {"ring->recv (liboob)", &r.c_lib}};
}

std::vector<std::pair<const char *, const oob::LatencyRecorder *>> parts(const Result &r) {
    return {{"client send->complete (overlaps)", &r.c_tx},
            {"server classifier->delivery", &r.s_rx},
            {"server turnaround", &r.s_turn},
            {"client classifier->delivery", &r.c_rx},
            {"wire and other", &r.other}};
}

void report(const Options &o, const Result &r) {
    const auto s = r.rtt.summary();
    const auto x = r.rx_stack.summary();
    if (o.json) {
        nlohmann::json j = {{"path", o.kernel ? "kernel" : "oob"},
                            {"size", o.size},
                            {"count", s.n},
                            {"lost", r.lost},
                            {"stale", r.stale},
                            {"min_ns", s.min},
                            {"p50_ns", s.p50},
                            {"p90_ns", s.p90},
                            {"p99_ns", s.p99},
                            {"p999_ns", s.p999},
                            {"max_ns", s.max},
                            {"mean_ns", s.mean}};
        if (x.n)
            j["rx_classify_to_app_p50_ns"] = x.p50;
        auto put = [&](const char *key, auto list) {
            for (auto [name, rec] : list) {
                const auto p = rec->summary();
                if (p.n)
                    j[key][name] = {{"count", p.n},
                                    {"p50_ns", p.p50},
                                    {"p99_ns", p.p99},
                                    {"max_ns", p.max},
                                    {"mean_ns", p.mean}};
            }
        };
        put("where", parts(r));
        put("client_rx_split", client_rx_split(r));
        std::cout << j.dump() << std::endl;
        return;
    }
    auto us = [](uint64_t ns) { return static_cast<double>(ns) / 1000.0; };
    std::printf("oob-ping: %s path, %zu-byte payload, %zu replies, %lu lost\n",
                o.kernel ? "kernel" : "oob", o.size, s.n, r.lost);
    std::printf("rtt us: min %.2f p50 %.2f p90 %.2f p99 %.2f p99.9 %.2f max %.2f mean %.2f\n",
                us(s.min), us(s.p50), us(s.p90), us(s.p99), us(s.p999), us(s.max), s.mean / 1000.0);
    if (x.n)
        std::printf("reply path: classifier stamp -> application p50 %.2f us p99 %.2f us\n",
                    us(x.p50), us(x.p99));
    if (!o.kernel && s.n) {
        std::printf(
            "where a round trip's time went (us, p50 / p99 / mean; mean share of rtt; the "
            "send's completion overlaps wire and other; below the client's classifier->delivery, "
            "its kernel and liboob parts):\n");
        for (auto [name, rec] : parts(r)) {
            const auto p = rec->summary();
            if (!p.n) {
                std::printf("  %-34s not measured\n", name);
                continue;
            }
            std::printf("  %-34s %8.2f / %8.2f / %8.2f  %5.1f%%\n", name, us(p.p50), us(p.p99),
                        p.mean / 1000.0, 100.0 * p.mean / s.mean);
            if (rec != &r.c_rx)
                continue;
            for (auto [sub, srec] : client_rx_split(r)) {
                const auto q = srec->summary();
                if (q.n)
                    std::printf("    %-32s %8.2f / %8.2f / %8.2f\n", sub, us(q.p50), us(q.p99),
                                q.mean / 1000.0);
            }
        }
    }
    if (o.histogram)
        std::printf("%s", r.rtt.histogram().c_str());
}

}  // namespace

int main(int argc, char **argv) {
    Options o;
    CLI::App app{"UDP ping-pong over the oob path or a kernel socket, with latency percentiles"};
    app.add_option("--dev", o.dev, "oob port device (oob path)");
    app.add_option("--to", o.to, "echo server address")->required();
    app.add_option("--port", o.port, "echo server UDP port")->required();
    app.add_option("--local-port", o.local_port,
                   "this end's UDP port (the classifier must divert it)");
    app.add_option("--queue", o.queue, "RX queue of the device");
    app.add_option("--pin-root", o.pin_root,
                   "where the daemon pinned the classifier's maps (default: the daemon of this "
                   "network namespace)");
    app.add_option("--size", o.size, "payload bytes (at least 16)")->check(CLI::Range(16, 8972));
    app.add_option("--count", o.count, "measured round trips");
    app.add_option("--warmup", o.warmup, "round trips before measuring");
    app.add_option("--interval-us", o.interval_us, "pause between round trips");
    app.add_option("--timeout-ms", o.timeout_ms, "a reply later than this is lost");
    app.add_option("--resolve-ms", o.resolve_ms, "how long to wait for the path at start (oob)");
    app.add_option("--wait", o.wait, "busy: spin; sleep: block in the kernel")
        ->check(CLI::IsMember({"busy", "sleep"}));
    app.add_option("--cpu", o.cpu, "pin to this CPU");
    app.add_flag("--kernel", o.kernel, "a plain kernel UDP socket instead of the oob path");
    app.add_flag("--histogram", o.histogram, "print a histogram of the round-trip times");
    app.add_flag("-j,--json", o.json, "one JSON line");
    app.add_option("--stamps", o.stamps,
                   "write each round trip's timestamps to FILE (oob path; one line each)");
    CLI11_PARSE(app, argc, argv);
    if (!o.kernel && o.dev.empty()) {
        std::fprintf(stderr, "oob-ping: --dev is required on the oob path\n");
        return 2;
    }
    tools::on_stop_signals();
    if (!tools::pin_cpu(o.cpu))
        return 1;
    Result r;
    r.rtt.reserve(o.count);
    try {
        int rc = o.kernel ? run_kernel(o, r) : run_oob(o, r);
        if (rc)
            return rc;
    } catch (const std::exception &e) {
        std::fprintf(stderr, "oob-ping: %s\n", e.what());
        return 1;
    }
    if (!o.stamps.empty()) {
        try {
            write_stamps(o.stamps, r);
        } catch (const std::exception &e) {
            std::fprintf(stderr, "oob-ping: %s\n", e.what());
            return 1;
        }
    }
    report(o, r);
    return r.rtt.size() ? 0 : 1;
}
