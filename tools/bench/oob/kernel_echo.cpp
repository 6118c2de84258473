// SPDX-License-Identifier: MIT
// kernel-echo: the strongest plain kernel UDP echo we know how to write, the baseline of the echo
// throughput case: one socket, recvmmsg/sendmmsg in batches of up to 64, busy-polling with
// MSG_DONTWAIT (or blocking), pinned to one CPU. Replies are the requests sent back unchanged.
//
//   kernel-echo --port N [--batch B] [--wait busy|sleep] [--cpu C] [--seconds S]
#include "common.h"

#include <CLI/CLI.hpp>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char **argv) {
    using oobbpf::tools::g_stop;
    int port = 0, batch = 64, cpu = -1;
    std::string wait = "busy";
    double seconds = 0;
    CLI::App app{"kernel UDP echo with recvmmsg/sendmmsg, the kernel baseline of echo throughput"};
    app.add_option("--port", port, "UDP port")->required()->check(CLI::Range(1, 65535));
    app.add_option("--batch", batch, "datagrams per system call")->check(CLI::Range(1, 1024));
    app.add_option("--wait", wait, "busy (MSG_DONTWAIT in a loop) or sleep")
        ->check(CLI::IsMember({"busy", "sleep"}));
    app.add_option("--cpu", cpu, "CPU to pin to");
    app.add_option("--seconds", seconds, "stop after this long (0: on SIGINT/SIGTERM)");
    CLI11_PARSE(app, argc, argv);
    const bool busy = wait == "busy";
    if (!oobbpf::tools::pin_cpu(cpu))
        return 1;
    oobbpf::tools::on_stop_signals();

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)) < 0) {
        std::fprintf(stderr, "kernel-echo: bind to UDP port %d: %s\n", port, std::strerror(errno));
        return 1;
    }
    int rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    timeval tv{0, 100000};
    if (!busy)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

    const size_t n = static_cast<size_t>(batch);
    std::vector<std::vector<char>> bufs(n, std::vector<char>(2048));
    std::vector<iovec> iov(n);
    std::vector<sockaddr_in> from(n);
    std::vector<mmsghdr> msgs(n);
    timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned long echoed = 0;
    while (!g_stop) {
        if (seconds > 0) {
            timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            if (static_cast<double>(t.tv_sec - t0.tv_sec) +
                    static_cast<double>(t.tv_nsec - t0.tv_nsec) / 1e9 >=
                seconds)
                break;
        }
        for (size_t i = 0; i < n; i++) {
            iov[i] = {bufs[i].data(), bufs[i].size()};
            msgs[i].msg_hdr = {};
            msgs[i].msg_hdr.msg_name = &from[i];
            msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int got = recvmmsg(fd, msgs.data(), static_cast<unsigned>(n), busy ? MSG_DONTWAIT : 0,
                           nullptr);
        if (got <= 0)
            continue;
        for (int i = 0; i < got; i++)
            iov[static_cast<size_t>(i)].iov_len = msgs[static_cast<size_t>(i)].msg_len;
        int off = 0;
        while (off < got) {
            int s = sendmmsg(fd, msgs.data() + off, static_cast<unsigned>(got - off), 0);
            if (s <= 0)
                break;
            off += s;
        }
        echoed += static_cast<unsigned long>(off);
    }
    std::fprintf(stderr, "kernel-echo: echoed %lu\n", echoed);
    close(fd);
    return 0;
}
