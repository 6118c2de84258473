// SPDX-License-Identifier: MIT
#include "liboob/sockstats.h"

#include "liboob/clock.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace oobbpf::oob {

uint64_t lat_quantile(const LatHist &h, double q) {
    uint64_t total = 0;
    for (int i = 0; i < kLatBuckets; i++)
        total += h.bucket[i];
    if (!total)
        return 0;
    // Nearest rank: the ceil(q * total)-th sample (at least the first).
    auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total)));
    rank = std::max<uint64_t>(rank, 1);
    uint64_t seen = 0;
    for (int i = 0; i < kLatBuckets; i++) {
        seen += h.bucket[i];
        if (seen >= rank)
            return std::min<uint64_t>(uint64_t{2} << i, h.max_ns ? h.max_ns : uint64_t{2} << i);
    }
    return h.max_ns;
}

std::string default_stats_dir() {
    if (const char *e = getenv("OOBBPF_STATS_DIR"); e && *e)
        return e;
    return "/run/oobbpf/sockets";
}

namespace {

std::atomic<uint32_t> g_seq{0};

bool mkdirs(const std::string &dir) {
    for (size_t pos = 1; pos <= dir.size(); pos++) {
        if (pos != dir.size() && dir[pos] != '/')
            continue;
        const std::string part = dir.substr(0, pos);
        if (mkdir(part.c_str(), 0755) == 0 && pos == dir.size())
            chmod(part.c_str(), 01777);  // like /tmp: every oob application publishes here
        else if (errno != EEXIST && access(part.c_str(), F_OK) != 0)
            return false;
    }
    return true;
}

}  // namespace

SockStatsFile::SockStatsFile(const std::string &dir, const SockStatsData &init) : local_(init) {
    d_ = &local_;
    if (dir.empty()) {
        err_ = "no statistics directory";
        return;
    }
    if (!mkdirs(dir)) {
        err_ = dir + ": " + strerror(errno);
        return;
    }
    const std::string name =
        std::to_string(init.pid) + "-" + std::to_string(init.port) + "-" + std::to_string(g_seq++);
    const std::string tmp = dir + "/." + name + ".tmp", path = dir + "/" + name + ".stats";
    int fd = open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        err_ = tmp + ": " + strerror(errno);
        return;
    }
    // Locked before it is visible under its name: a reader never takes a live file for stale.
    void *p = MAP_FAILED;
    if (flock(fd, LOCK_SH) == 0 && ftruncate(fd, sizeof(SockStatsData)) == 0)
        p = mmap(nullptr, sizeof(SockStatsData), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        err_ = tmp + ": " + strerror(errno);
        close(fd);
        unlink(tmp.c_str());
        return;
    }
    d_ = static_cast<SockStatsData *>(p);
    std::memcpy(d_, &init, sizeof(init));
    if (rename(tmp.c_str(), path.c_str()) != 0) {
        err_ = path + ": " + strerror(errno);
        munmap(p, sizeof(SockStatsData));
        d_ = &local_;
        close(fd);
        unlink(tmp.c_str());
        return;
    }
    fd_ = fd;
    path_ = path;
}

SockStatsFile::~SockStatsFile() {
    if (fd_ < 0)
        return;
    unlink(path_.c_str());
    munmap(d_, sizeof(SockStatsData));
    close(fd_);
}

std::vector<SockStatsEntry> read_sock_stats(const std::string &dir, const std::string &pin_root) {
    std::vector<SockStatsEntry> out;
    DIR *d = opendir(dir.c_str());
    if (!d)
        return out;
    while (dirent *e = readdir(d)) {
        const std::string name = e->d_name;
        if (name.size() < 7 || name.compare(name.size() - 6, 6, ".stats") != 0)
            continue;
        const std::string path = dir + "/" + name;
        int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            // Nobody holds it: its process is gone.
            unlink(path.c_str());
            close(fd);
            continue;
        }
        struct stat st {};
        void *p = MAP_FAILED;
        if (fstat(fd, &st) == 0 && st.st_size >= static_cast<off_t>(sizeof(SockStatsData)))
            p = mmap(nullptr, sizeof(SockStatsData), PROT_READ, MAP_SHARED, fd, 0);
        close(fd);
        if (p == MAP_FAILED)
            continue;
        SockStatsEntry ent;
        ent.path = path;
        // Field by field with relaxed loads: the writer is running.
        const auto *src = static_cast<const uint64_t *>(p);
        auto *dst = reinterpret_cast<uint64_t *>(&ent.data);
        for (size_t i = 0; i < sizeof(SockStatsData) / 8; i++)
            dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
        munmap(p, sizeof(SockStatsData));
        ent.data.dev[sizeof(ent.data.dev) - 1] = 0;
        ent.data.pin_root[sizeof(ent.data.pin_root) - 1] = 0;
        if (ent.data.magic != kSockStatsMagic || ent.data.version != kSockStatsVersion)
            continue;
        if (!pin_root.empty() && pin_root != ent.data.pin_root)
            continue;
        out.push_back(ent);
    }
    closedir(d);
    return out;
}

}  // namespace oobbpf::oob
