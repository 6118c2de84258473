// SPDX-License-Identifier: MIT
#include "kmod_backend.h"

#include "error.h"
#include <oobbpf/kmod_ioctl.h>

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace oobbpf::learn {

namespace {

class KmodBackend : public Backend {
  public:
    KmodBackend(const MapFds &cm, const BackendContext &ctx) {
        fd_ = open(OOBK_DEV_PATH, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd_ < 0)
            throw sys_error(std::string("kmod: ") + OOBK_DEV_PATH +
                                (errno == ENOENT ? " (module not loaded)" : ""),
                            errno);
        try {
            oobk_info info = get_info();
            if (info.abi_version != OOB_ABI_VERSION)
                throw Error("kmod: the module speaks ABI " + std::to_string(info.abi_version) +
                            ", this daemon " + std::to_string(OOB_ABI_VERSION));
            if (!(info.flags & (OOBK_INFO_TRACEPOINT | OOBK_INFO_DOVETAIL)))
                throw Error("kmod: the module has no route hook in this kernel");
            oobk_maps m{};
            m.size = sizeof(m);
            m.version = OOBK_IOCTL_VERSION;
            m.abi_version = OOB_ABI_VERSION;
            m.flags = OOBK_MAPS_OBSERVE;
            for (auto &f : m.fd)
                f = -1;
            m.fd[OOBK_MAP_CONFIG] = cm.config;
            m.fd[OOBK_MAP_DEVS] = cm.devs;
            m.fd[OOBK_MAP_PORTS] = cm.ports;
            m.fd[OOBK_MAP_VLANS] = cm.vlans;
            m.fd[OOBK_MAP_RULES] = cm.rules;
            m.fd[OOBK_MAP_RULE_MASKS] = cm.rule_masks;
            m.fd[OOBK_MAP_RULE_STATS] = cm.rule_stats;
            m.fd[OOBK_MAP_PORT_STATS] = cm.port_stats;
            m.fd[OOBK_MAP_LAST] = cm.last;
            m.fd[OOBK_MAP_ROUTES] = ctx.routes_fd;
            m.fd[OOBK_MAP_NEIGHS] = ctx.neighs_fd;
            if (ioctl(fd_, OOBK_IOC_SET_MAPS, &m) != 0) {
                const int err = errno;
                const std::string role = m.bad_role == OOBK_BAD_REQUEST
                                             ? "the request"
                                             : "map role " + std::to_string(m.bad_role);
                throw sys_error("kmod: hand over the maps (" + role + ")", err);
            }
        } catch (...) {
            close(fd_);
            throw;
        }
    }
    ~KmodBackend() override { close(fd_); }

    const char *name() const override { return "kmod"; }
    // The module reads the oob ports from the classifier's maps it was handed.
    void set_ports(const std::vector<PortDev> &) override {}
    int event_fd() const override { return fd_; }

    void poll(Sink &sink) override {
        oob_learn_event ev[64];
        for (;;) {
            ssize_t n = read(fd_, ev, sizeof(ev));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return;  // EAGAIN: all read
            for (size_t i = 0; i < size_t(n) / sizeof(ev[0]); i++)
                sink.decided(ev[i].key);
        }
    }

    void forget(const oob_route_key &key) override {
        oob_route_key k = key;
        ioctl(fd_, OOBK_IOC_FORGET, &k);
    }

    uint64_t dropped() const override {
        try {
            return get_info().learn_dropped;
        } catch (const Error &) {
            return 0;
        }
    }

  private:
    oobk_info get_info() const {
        oobk_info info{};
        info.size = sizeof(info);
        info.version = OOBK_IOCTL_VERSION;
        if (ioctl(fd_, OOBK_IOC_GET_INFO, &info) != 0)
            throw sys_error("kmod: get info", errno);
        return info;
    }

    int fd_ = -1;
};

}  // namespace

std::unique_ptr<Backend> make_kmod_backend(const MapFds &classifier, const BackendContext &ctx) {
    return std::make_unique<KmodBackend>(classifier, ctx);
}

bool kmod_loaded() {
    return access(OOBK_DEV_PATH, F_OK) == 0;
}

std::vector<std::string> auto_order() {
    if (kmod_loaded())
        return {"kmod", "tp_btf", "netlink"};
    return {"tp_btf", "kmod", "netlink"};
}

KmodFactory kmod_factory(const MapFds &classifier) {
    return [classifier](const BackendContext &ctx, std::string *why) -> std::unique_ptr<Backend> {
        try {
            return make_kmod_backend(classifier, ctx);
        } catch (const Error &e) {
            // "kmod: ..." already; the learner prefixes again, so keep only the reason.
            std::string m = e.what();
            *why = m.rfind("kmod: ", 0) == 0 ? m.substr(6) : m;
            return nullptr;
        }
    };
}

}  // namespace oobbpf::learn
