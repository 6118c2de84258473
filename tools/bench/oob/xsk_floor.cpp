// SPDX-License-Identifier: MIT
// xsk-floor: a bare AF_XDP UDP ping-pong, the floor the oob path is measured against. Its own
// minimal XDP program (xsk_floor.bpf.c), libxdp's xsk_* rings used directly, one frame in
// flight, busy polling; no classifier, no liboob. The echo swaps addresses and ports in place
// (both checksums are invariant under the swap) and sends the frame back.
//
//   xsk-floor echo --dev DEV --port N [--cpu C]
//   xsk-floor ping --dev DEV --port LOCAL --to IP:PORT --dst-mac MAC --src IP
//                  [--size B] [--count N] [--warmup N] [--cpu C] [-j]
//   xsk-floor flood --dev DEV --port LOCAL --to IP --to-port N --dst-mac MAC --src IP
//                  [--size B] [--window W] [--seconds S] [--cpu C] [-j]
// flood is the load generator of the echo throughput case: W requests in flight, a new one sent
// for each reply, replies counted over S seconds after a warm-up second.
#include "common.h"
#include "xsk_floor.skel.h"

#include <CLI/CLI.hpp>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/if_xdp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr uint32_t kFrames = 4096, kFrameSize = 4096;
using oobbpf::tools::g_stop;

uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

uint16_t csum(const uint8_t *p, size_t n, uint32_t s = 0) {
    for (size_t i = 0; i + 1 < n; i += 2)
        s += static_cast<uint32_t>((p[i] << 8) | p[i + 1]);
    if (n & 1)
        s += static_cast<uint32_t>(p[n - 1] << 8);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return static_cast<uint16_t>(~s);
}

struct Xsk {
    void *area = nullptr;
    xsk_umem *umem = nullptr;
    xsk_socket *sock = nullptr;
    xsk_ring_prod fill{}, tx{};
    xsk_ring_cons comp{}, rx{};
    std::vector<uint64_t> free;
    xsk_floor *skel = nullptr;
    int ifindex = 0;

    void open(const std::string &dev, uint16_t port) {
        ifindex = static_cast<int>(if_nametoindex(dev.c_str()));
        skel = xsk_floor__open();
        if (!skel || !ifindex)
            die("open");
        skel->rodata->floor_port = port;
        if (xsk_floor__load(skel) || bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.xsk_floor),
                                                    XDP_FLAGS_DRV_MODE, nullptr))
            die("load and attach the floor program");
        area = mmap(nullptr, kFrames * kFrameSize, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        xsk_umem_config uc{2048, 2048, kFrameSize, 0, 0};
        if (xsk_umem__create(&umem, area, kFrames * kFrameSize, &fill, &comp, &uc))
            die("umem");
        xsk_socket_config sc{};
        sc.rx_size = sc.tx_size = 2048;
        sc.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
        sc.bind_flags = XDP_COPY | XDP_USE_NEED_WAKEUP;
        int rc;
        for (int i = 0;
             (rc = xsk_socket__create(&sock, dev.c_str(), 0, umem, &rx, &tx, &sc)) == -EBUSY &&
             i < 200;
             i++)
            usleep(5000);
        if (rc)
            die("xsk socket");
        uint32_t key = 0;
        int fd = xsk_socket__fd(sock);
        if (bpf_map_update_elem(bpf_map__fd(skel->maps.floor_xsks), &key, &fd, BPF_ANY))
            die("xskmap");
        for (uint32_t i = 0; i < kFrames; i++)
            free.push_back(static_cast<uint64_t>(i) * kFrameSize);
        uint32_t idx;
        uint32_t n = xsk_ring_prod__reserve(&fill, 2048, &idx);
        for (uint32_t i = 0; i < n; i++) {
            *xsk_ring_prod__fill_addr(&fill, idx + i) = free.back();
            free.pop_back();
        }
        xsk_ring_prod__submit(&fill, n);
    }
    void close() {
        if (sock)
            xsk_socket__delete(sock);
        if (umem)
            xsk_umem__delete(umem);
        if (ifindex)
            bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, nullptr);
        if (skel)
            xsk_floor__destroy(skel);
    }
    static void die(const char *what) {
        std::fprintf(stderr, "xsk-floor: %s failed: %s\n", what, std::strerror(errno));
        std::exit(1);
    }
    uint8_t *at(uint64_t addr) { return static_cast<uint8_t *>(area) + addr; }
    void reap() {
        uint32_t idx;
        uint32_t n = xsk_ring_cons__peek(&comp, 64, &idx);
        for (uint32_t i = 0; i < n; i++)
            refill(*xsk_ring_cons__comp_addr(&comp, idx + i));
        xsk_ring_cons__release(&comp, n);
    }
    void refill(uint64_t addr) {
        uint32_t idx;
        if (xsk_ring_prod__reserve(&fill, 1, &idx) == 1) {
            *xsk_ring_prod__fill_addr(&fill, idx) = addr & ~static_cast<uint64_t>(kFrameSize - 1);
            xsk_ring_prod__submit(&fill, 1);
        } else {
            free.push_back(addr & ~static_cast<uint64_t>(kFrameSize - 1));
        }
    }
    void send(uint64_t addr, uint32_t len) {
        uint32_t idx;
        while (xsk_ring_prod__reserve(&tx, 1, &idx) != 1)
            reap();
        xdp_desc *d = xsk_ring_prod__tx_desc(&tx, idx);
        d->addr = addr;
        d->len = len;
        d->options = 0;
        xsk_ring_prod__submit(&tx, 1);
        if (xsk_ring_prod__needs_wakeup(&tx))
            sendto(xsk_socket__fd(sock), nullptr, 0, MSG_DONTWAIT, nullptr, 0);
    }
};

void swap_in_place(uint8_t *f) {
    uint8_t t[6];
    std::memcpy(t, f, 6);
    std::memcpy(f, f + 6, 6);
    std::memcpy(f + 6, t, 6);
    uint8_t a[4];
    std::memcpy(a, f + 26, 4);
    std::memcpy(f + 26, f + 30, 4);
    std::memcpy(f + 30, a, 4);
    uint8_t p[2];
    std::memcpy(p, f + 34, 2);
    std::memcpy(f + 34, f + 36, 2);
    std::memcpy(f + 36, p, 2);
}

int echo(Xsk &x) {
    uint64_t n_echo = 0;
    while (!g_stop) {
        uint32_t idx;
        uint32_t n = xsk_ring_cons__peek(&x.rx, 64, &idx);
        if (!n) {
            x.reap();
            continue;
        }
        for (uint32_t i = 0; i < n; i++) {
            const xdp_desc *d = xsk_ring_cons__rx_desc(&x.rx, idx + i);
            swap_in_place(x.at(d->addr));
            x.send(d->addr, d->len);
            n_echo++;
        }
        xsk_ring_cons__release(&x.rx, n);
        x.reap();
    }
    std::fprintf(stderr, "xsk-floor: echoed %lu\n", n_echo);
    return 0;
}

struct PingOpts {
    std::string to_ip, src_ip, dst_mac;
    uint16_t to_port = 0, local_port = 0;
    size_t size = 64;
    uint64_t count = 10000, warmup = 100;
    bool json = false;
};

// The request frame, built once; the sequence number and checksum change per request.
std::vector<uint8_t> request_template(const std::string &dev, const PingOpts &o) {
    uint8_t mac[6] = {};
    ifreq ifr{};
    std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev.c_str());
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (ioctl(s, SIOCGIFHWADDR, &ifr) == 0)
        std::memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    ::close(s);
    std::vector<uint8_t> f(42 + o.size, 0);
    unsigned m[6];
    std::sscanf(o.dst_mac.c_str(), "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]);
    for (int i = 0; i < 6; i++)
        f[static_cast<size_t>(i)] = static_cast<uint8_t>(m[i]);
    std::memcpy(&f[6], mac, 6);
    f[12] = 0x08;
    f[14] = 0x45;
    uint16_t tot = static_cast<uint16_t>(28 + o.size);
    f[16] = static_cast<uint8_t>(tot >> 8);
    f[17] = static_cast<uint8_t>(tot);
    f[20] = 0x40;
    f[22] = 64;
    f[23] = 17;
    inet_pton(AF_INET, o.src_ip.c_str(), &f[26]);
    inet_pton(AF_INET, o.to_ip.c_str(), &f[30]);
    uint16_t c = csum(&f[14], 20);
    f[24] = static_cast<uint8_t>(c >> 8);
    f[25] = static_cast<uint8_t>(c);
    f[34] = static_cast<uint8_t>(o.local_port >> 8);
    f[35] = static_cast<uint8_t>(o.local_port);
    f[36] = static_cast<uint8_t>(o.to_port >> 8);
    f[37] = static_cast<uint8_t>(o.to_port);
    uint16_t ulen = static_cast<uint16_t>(8 + o.size);
    f[38] = static_cast<uint8_t>(ulen >> 8);
    f[39] = static_cast<uint8_t>(ulen);
    return f;
}

// Writes request number seq into the frame at p (a copy of the template f) with its checksum.
void stamp_request(uint8_t *p, const std::vector<uint8_t> &f, uint64_t seq) {
    std::memcpy(p, f.data(), f.size());
    std::memcpy(p + 42, &seq, 8);
    p[40] = p[41] = 0;
    const uint16_t ulen = static_cast<uint16_t>(f.size() - 34);
    uint32_t sum = 0;
    for (int k = 26; k < 34; k += 2)
        sum += static_cast<uint32_t>((p[k] << 8) | p[k + 1]);
    sum += 17 + ulen;
    uint16_t uc = csum(p + 34, ulen, sum);
    if (!uc)
        uc = 0xffff;
    p[40] = static_cast<uint8_t>(uc >> 8);
    p[41] = static_cast<uint8_t>(uc);
}

int ping(Xsk &x, const std::string &dev, const PingOpts &o) {
    const std::vector<uint8_t> f = request_template(dev, o);
    std::vector<uint64_t> rtt;
    rtt.reserve(o.count);
    uint64_t lost = 0;
    for (uint64_t i = 0; i < o.warmup + o.count && !g_stop; i++) {
        if (x.free.empty())
            x.reap();
        if (x.free.empty())
            Xsk::die("out of frames");
        uint64_t addr = x.free.back();
        x.free.pop_back();
        stamp_request(x.at(addr), f, i);
        const uint64_t t0 = now_ns();
        x.send(addr, static_cast<uint32_t>(f.size()));
        bool got = false;
        while (!got && now_ns() - t0 < 1000000000ULL && !g_stop) {
            uint32_t idx;
            uint32_t n = xsk_ring_cons__peek(&x.rx, 16, &idx);
            const uint64_t t1 = now_ns();
            for (uint32_t k = 0; k < n; k++) {
                const xdp_desc *d = xsk_ring_cons__rx_desc(&x.rx, idx + k);
                uint64_t seq;
                std::memcpy(&seq, x.at(d->addr) + 42, 8);
                if (seq == i && !got) {
                    got = true;
                    if (i >= o.warmup)
                        rtt.push_back(t1 - t0);
                }
                x.refill(d->addr);
            }
            if (n)
                xsk_ring_cons__release(&x.rx, n);
            x.reap();
        }
        if (!got && i >= o.warmup)
            lost++;
    }
    std::sort(rtt.begin(), rtt.end());
    auto at = [&](double q) {
        return rtt.empty()
                   ? 0
                   : rtt[std::min(rtt.size() - 1,
                                  static_cast<size_t>(q * static_cast<double>(rtt.size())))];
    };
    double mean = 0;
    for (uint64_t v : rtt)
        mean += static_cast<double>(v);
    mean = rtt.empty() ? 0 : mean / static_cast<double>(rtt.size());
    if (o.json)
        std::printf(
            "{\"path\":\"floor\",\"size\":%zu,\"count\":%zu,\"lost\":%lu,\"min_ns\":%lu,"
            "\"p50_ns\":%lu,\"p90_ns\":%lu,\"p99_ns\":%lu,\"p999_ns\":%lu,\"max_ns\":%lu,"
            "\"mean_ns\":%.1f}\n",
            o.size, rtt.size(), lost, rtt.empty() ? 0 : rtt.front(), at(0.5), at(0.9), at(0.99),
            at(0.999), rtt.empty() ? 0 : rtt.back(), mean);
    else
        std::printf("xsk-floor: %zu replies, %lu lost; rtt us p50 %.2f p99 %.2f\n", rtt.size(),
                    lost, static_cast<double>(at(0.5)) / 1e3, static_cast<double>(at(0.99)) / 1e3);
    return rtt.empty() ? 1 : 0;
}

struct FloodOpts {
    size_t window = 256;
    double seconds = 2, warmup_seconds = 0.5;
};

// Closed-loop load: keeps `window` requests in flight (a new request for each reply; requests
// unanswered for 10 ms count as lost and are replaced), counts the replies of the measured
// interval. The generator's own work per request is a template copy and a checksum.
int flood(Xsk &x, const std::string &dev, const PingOpts &o, const FloodOpts &fo) {
    const std::vector<uint8_t> f = request_template(dev, o);
    uint64_t seq = 0, sent = 0, replies = 0, inflight = 0, measured = 0, sent_measured = 0;
    const uint64_t t_start = now_ns();
    const uint64_t t_measure = t_start + static_cast<uint64_t>(fo.warmup_seconds * 1e9);
    const uint64_t t_end = t_measure + static_cast<uint64_t>(fo.seconds * 1e9);
    uint64_t last_reply = t_start;
    bool measuring = false;
    while (!g_stop) {
        const uint64_t t = now_ns();
        if (t >= t_end)
            break;
        if (!measuring && t >= t_measure) {
            measuring = true;
            measured = 0;
            sent_measured = 0;
        }
        if (inflight && t - last_reply > 10000000) {
            inflight = 0;  // the window's requests are lost: start a new window
            last_reply = t;
        }
        // Top the window up, in batches.
        while (inflight < fo.window) {
            if (x.free.empty())
                x.reap();
            if (x.free.empty())
                break;
            uint32_t idx;
            const uint32_t want = static_cast<uint32_t>(
                std::min<uint64_t>({fo.window - inflight, 64, x.free.size()}));
            const uint32_t n = xsk_ring_prod__reserve(&x.tx, want, &idx);
            if (!n)
                break;
            for (uint32_t k = 0; k < n; k++) {
                const uint64_t addr = x.free.back();
                x.free.pop_back();
                stamp_request(x.at(addr), f, seq++);
                xdp_desc *d = xsk_ring_prod__tx_desc(&x.tx, idx + k);
                d->addr = addr;
                d->len = static_cast<uint32_t>(f.size());
                d->options = 0;
            }
            xsk_ring_prod__submit(&x.tx, n);
            inflight += n;
            sent += n;
            if (measuring)
                sent_measured += n;
        }
        if (xsk_ring_prod__needs_wakeup(&x.tx))
            sendto(xsk_socket__fd(x.sock), nullptr, 0, MSG_DONTWAIT, nullptr, 0);
        uint32_t idx;
        const uint32_t n = xsk_ring_cons__peek(&x.rx, 64, &idx);
        for (uint32_t k = 0; k < n; k++)
            x.refill(xsk_ring_cons__rx_desc(&x.rx, idx + k)->addr);
        if (n) {
            xsk_ring_cons__release(&x.rx, n);
            replies += n;
            if (measuring)
                measured += n;
            inflight = inflight > n ? inflight - n : 0;
            last_reply = now_ns();
        }
        x.reap();
    }
    const double secs = static_cast<double>(now_ns() - t_measure) / 1e9;
    const double rate = secs > 0 ? static_cast<double>(measured) / secs : 0;
    if (o.json)
        std::printf("{\"path\":\"flood\",\"size\":%zu,\"window\":%zu,\"seconds\":%.3f,"
                    "\"sent\":%lu,\"replies\":%lu,\"replies_measured\":%lu,"
                    "\"sent_measured\":%lu,\"rate_pps\":%.0f}\n",
                    o.size, fo.window, secs, sent, replies, measured, sent_measured, rate);
    else
        std::printf("xsk-floor: %.0f replies/s (%lu replies to %lu requests in %.2f s)\n", rate,
                    measured, sent_measured, secs);
    return measured ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv) {
    std::string dev;
    uint16_t port = 0;
    int cpu = -1;
    PingOpts o;
    FloodOpts fo;
    CLI::App app{"the oob benchmark's floor: a bare AF_XDP echo, ping-pong and flood"};
    app.require_subcommand(1);
    auto common = [&](CLI::App *c) {
        c->add_option("--dev", dev, "device")->required();
        c->add_option("--port", port, "UDP port: the echo's, or the local one")->required();
        c->add_option("--cpu", cpu, "CPU to pin to");
    };
    auto sender = [&](CLI::App *c) {
        common(c);
        c->add_option("--to", o.to_ip, "server IPv4 address")->required();
        c->add_option("--to-port", o.to_port, "server UDP port")->required();
        c->add_option("--dst-mac", o.dst_mac, "server MAC address")->required();
        c->add_option("--src", o.src_ip, "this end's IPv4 address")->required();
        c->add_option("--size", o.size, "UDP payload bytes")->check(CLI::Range(16, 1472));
        c->add_flag("-j", o.json, "one JSON line");
    };
    CLI::App *echo_cmd = app.add_subcommand("echo", "answer every UDP datagram to --port");
    common(echo_cmd);
    CLI::App *ping_cmd = app.add_subcommand("ping", "one request in flight, round-trip times");
    sender(ping_cmd);
    ping_cmd->add_option("--count", o.count, "measured round trips");
    ping_cmd->add_option("--warmup", o.warmup, "round trips before measuring");
    CLI::App *flood_cmd = app.add_subcommand("flood", "a window of requests in flight, replies/s");
    sender(flood_cmd);
    flood_cmd->add_option("--window", fo.window, "requests in flight")->check(CLI::Range(1, 4096));
    flood_cmd->add_option("--seconds", fo.seconds, "measured seconds");
    CLI11_PARSE(app, argc, argv);
    o.local_port = port;
    if (!oobbpf::tools::pin_cpu(cpu))
        return 1;
    oobbpf::tools::on_stop_signals();
    Xsk x;
    x.open(dev, port);
    int rc;
    if (echo_cmd->parsed()) {
        rc = echo(x);
    } else {
        if (flood_cmd->parsed()) {
            rc = flood(x, dev, o, fo);
        } else {
            rc = ping(x, dev, o);
        }
    }
    x.close();
    return rc;
}
