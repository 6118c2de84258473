// SPDX-License-Identifier: MIT
// kernel-echo: the strongest plain kernel UDP echo we know how to write, the baseline of the echo
// throughput case: one socket, recvmmsg/sendmmsg in batches of up to 64, busy-polling with
// MSG_DONTWAIT (or blocking), pinned to one CPU. Replies are the requests sent back unchanged.
//
//   kernel-echo --port N [--batch B] [--wait busy|sleep] [--cpu C] [--seconds S]
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

namespace {

std::atomic<bool> g_stop{false};

std::string arg(int argc, char **argv, const char *name, const char *def) {
    for (int i = 1; i + 1 < argc; i++)
        if (std::strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

}  // namespace

int main(int argc, char **argv) {
    const int port = std::atoi(arg(argc, argv, "--port", "0").c_str());
    const int batch = std::atoi(arg(argc, argv, "--batch", "64").c_str());
    const bool busy = arg(argc, argv, "--wait", "busy") == "busy";
    const int cpu = std::atoi(arg(argc, argv, "--cpu", "-1").c_str());
    const double seconds = std::atof(arg(argc, argv, "--seconds", "0").c_str());
    if (port <= 0 || port > 65535 || batch < 1 || batch > 1024) {
        std::fprintf(stderr, "usage: kernel-echo --port N [--batch 1..1024] [--wait busy|sleep] "
                             "[--cpu C] [--seconds S]\n");
        return 2;
    }
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof(set), &set);
    }
    struct sigaction sa {};
    sa.sa_handler = [](int) { g_stop = true; };
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

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
