// SPDX-License-Identifier: MIT
// Adapter from the learning library (learner.h) to the daemon's learner seam. The learner runs
// its own thread (rtnetlink monitor, tracepoint events, revalidation), so the daemon has no fds
// to poll for it; resolve() blocks the caller for at most kResolveWait while a next hop resolves.
// The daemon's `auto` takes the first back-end that starts in registration order.
#include "daemon_learners.h"

#include "error.h"
#include "kmod_backend.h"
#include "learner.h"
#include "route_learner.h"

#include <chrono>
#include <filesystem>

namespace oobbpf::learn {

namespace {

constexpr std::chrono::milliseconds kResolveWait{1000};

class DaemonLearner : public daemon::Learner {
  public:
    DaemonLearner(const daemon::LearnerContext &ctx, const std::string &backend)
        : l_(config(ctx, backend)) {
        l_.start();
    }

    std::string backend() const override { return l_.backend(); }
    nlohmann::json status() const override { return status_json(l_); }

    void ports_changed(const std::vector<daemon::PortInfo> &ports) override {
        std::vector<PortDev> v;
        for (const auto &p : ports)
            v.push_back({p.ifindex, p.lower_ifindex ? p.lower_ifindex : p.ifindex, p.vid});
        l_.set_ports(std::move(v));
    }

    nlohmann::json resolve(const daemon::ResolveRequest &r) override {
        std::vector<std::string> args{r.dst};
        if (r.from) {
            args.push_back("from");
            args.push_back(*r.from);
        }
        ResolveRequest rq = parse_resolve_args(args);
        rq.mark = r.mark.value_or(0);
        rq.tos = r.tos.value_or(0);
        rq.oif = r.oif.value_or("");
        rq.timeout = kResolveWait;
        Resolved res = l_.resolve(rq);
        nlohmann::json j = to_json(res);
        j["text"] = to_text(res);
        return j;
    }

  private:
    static Config config(const daemon::LearnerContext &ctx, const std::string &backend) {
        if (backend == "tp_btf" && !ctx.tp_btf_available)
            throw Error("tp_btf: the kernel cannot attach tp_btf programs (see probes)");
        Config c;
        c.pin_root = ctx.paths.pin_root;
        c.backend = backend;
        c.kmod = kmod_factory(ctx.maps);
        return c;
    }

    learn::Learner l_;
};

// `oobbpfd --cleanup`: the cache tables next to routes and neighs.
std::vector<std::string> cleanup(const daemon::Paths &p) {
    std::vector<std::string> out;
    for (const char *name : {OOB_PIN_ROUTE_CACHE, OOB_PIN_NEIGH_CACHE, OOB_PIN_CACHE_STATE}) {
        const std::string path = p.pin_root + "/" + name;
        std::error_code ec;
        if (std::filesystem::remove(path, ec))
            out.push_back("removed " + path);
    }
    return out;
}

}  // namespace

// Registered in the order `--learner auto` tries them (auto_order()): with the module loaded
// (oobbpf.ko, /dev/oobbpf) the kmod back-end comes first, so loading the module is all it takes
// to learn through it; `oobbpf status` and the daemon's log name the back-end that runs, and why
// the ones before it did not start.
void register_learners(daemon::LearnerRegistry &r) {
    for (const std::string &name : auto_order())
        r.add(name, [name](const daemon::LearnerContext &ctx) {
            return std::make_unique<DaemonLearner>(ctx, name);
        });
    r.add_cleanup(cleanup);
}

}  // namespace oobbpf::learn
