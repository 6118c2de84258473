// SPDX-License-Identifier: MIT
#include "learner.h"

#include "error.h"
#include "fd.h"
#include "kmod_backend.h"
#include "rtnl.h"
#include "store.h"

#include "oob_learn.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace oobbpf::learn {

namespace {

constexpr uint32_t kIffLowerUp = 1U << 16;  // linux/if.h, which clashes with net/if.h
constexpr uint64_t kRefreshIntervalNs = 1000000000ULL;
// States with a usable link-layer address (the kernel's NUD_VALID, not in the UAPI).
constexpr uint16_t kNudValid =
    NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY;

template <class K, class V>
using KeyMap = std::unordered_map<K, V, KeyHash<K>, KeyEq<K>>;

// ---- the BPF object ----------------------------------------------------------------------------

struct SkelDeleter {
    void operator()(oob_learn *s) const { oob_learn__destroy(s); }
};
using Skel = std::unique_ptr<oob_learn, SkelDeleter>;

// Opens the learner's BPF object with its public maps pinned under root (reused when already
// pinned: a restarted daemon keeps its entries). The programs are loaded for tp_btf only.
Skel load_object(const std::string &root, bool programs, uint32_t netns) {
    Skel s(oob_learn__open());
    if (!s)
        throw sys_error("oob_learn: open BPF object", errno);
    s->rodata->learn_netns = netns;
    const std::pair<bpf_map *, const char *> pins[] = {
        {s->maps.oob_routes, OOB_PIN_ROUTES},
        {s->maps.oob_neighs, OOB_PIN_NEIGHS},
        {s->maps.oob_route_cache, OOB_PIN_ROUTE_CACHE},
        {s->maps.oob_neigh_cache, OOB_PIN_NEIGH_CACHE},
        {s->maps.oob_cache_state, OOB_PIN_CACHE_STATE},
    };
    for (const auto &[map, name] : pins) {
        const std::string path = root + "/" + name;
        check(bpf_map__set_pin_path(map, path.c_str()), "oob_learn: pin path " + path);
    }
    if (!programs) {
        bpf_program__set_autoload(s->progs.learn_fib4, false);
        bpf_program__set_autoload(s->progs.learn_fib6, false);
    }
    int rc = oob_learn__load(s.get());
    if (rc)
        throw sys_error(programs ? "tp_btf: load fib lookup programs"
                                 : "oob_learn: create or reuse maps under " + root,
                        rc);
    return s;
}

// ---- back-ends ---------------------------------------------------------------------------------

class TpBtfBackend : public Backend {
  public:
    explicit TpBtfBackend(oob_learn *skel) : skel_(skel) {
        int rc = oob_learn__attach(skel);
        if (rc)
            throw sys_error("tp_btf: attach fib_table_lookup/fib6_table_lookup", rc);
        rb_ = ring_buffer__new(bpf_map__fd(skel->maps.learn_events), on_event, this, nullptr);
        if (!rb_) {
            int err = errno;
            oob_learn__detach(skel);
            throw sys_error("tp_btf: ring buffer", err);
        }
    }
    ~TpBtfBackend() override {
        ring_buffer__free(rb_);
        oob_learn__detach(skel_);
    }

    const char *name() const override { return "tp_btf"; }

    void set_ports(const std::vector<PortDev> &ports) override {
        std::unordered_set<uint32_t> want;
        for (const auto &p : ports)
            want.insert(p.ifindex);
        for (uint32_t ifindex : on_)
            if (!want.count(ifindex))
                mark(ifindex, 0);
        for (uint32_t ifindex : want)
            mark(ifindex, 1);
        on_ = std::move(want);
    }

    int event_fd() const override { return ring_buffer__epoll_fd(rb_); }

    void poll(Sink &sink) override {
        sink_ = &sink;
        ring_buffer__consume(rb_);
        sink_ = nullptr;
    }

    void forget(const oob_route_key &key) override {
        bpf_map_delete_elem(bpf_map__fd(skel_->maps.learn_pending), &key);
        // The programs' memo of known flows is only trusted within one generation.
        const int fd = bpf_map__fd(skel_->maps.learn_gen);
        __u32 zero = 0;
        __u64 gen = 0;
        bpf_map_lookup_elem(fd, &zero, &gen);
        gen++;
        bpf_map_update_elem(fd, &zero, &gen, BPF_ANY);
    }

    uint64_t dropped() const override {
        const unsigned ncpu = unsigned(libbpf_num_possible_cpus());
        std::vector<__u64> v(ncpu);
        __u32 idx = OOB_LS_DROPPED;
        if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.learn_stats), &idx, v.data()) != 0)
            return 0;
        uint64_t sum = 0;
        for (auto x : v)
            sum += x;
        return sum;
    }

  private:
    void mark(uint32_t ifindex, __u32 on) {
        const std::string what = "tp_btf: learn_ports ifindex " + std::to_string(ifindex);
        if (ifindex < kPortsDirect) {
            check(bpf_map_update_elem(bpf_map__fd(skel_->maps.learn_ports), &ifindex, &on, BPF_ANY),
                  what);
        } else if (on) {
            check(bpf_map_update_elem(bpf_map__fd(skel_->maps.learn_ports_big), &ifindex, &on,
                                      BPF_ANY),
                  what);
        } else {
            bpf_map_delete_elem(bpf_map__fd(skel_->maps.learn_ports_big), &ifindex);
        }
    }

    static int on_event(void *ctx, void *data, size_t size) {
        auto *self = static_cast<TpBtfBackend *>(ctx);
        if (size >= sizeof(oob_learn_event) && self->sink_)
            self->sink_->decided(static_cast<const oob_learn_event *>(data)->key);
        return 0;
    }

    oob_learn *skel_;
    ring_buffer *rb_ = nullptr;
    Sink *sink_ = nullptr;
    std::unordered_set<uint32_t> on_;
    static constexpr uint32_t kPortsDirect = 65536;  // LEARN_PORTS_DIRECT
};

// Observes nothing: entries come from resolve().
class NetlinkBackend : public Backend {
  public:
    const char *name() const override { return "netlink"; }
    void set_ports(const std::vector<PortDev> &) override {}
};

// Runs the constructor's caller in another network namespace until destruction.
class NetnsSwitch {
  public:
    explicit NetnsSwitch(const std::string &path) {
        if (path.empty())
            return;
        UniqueFd target(open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!target)
            throw sys_error("network namespace " + path, errno);
        orig_.reset(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
        if (!orig_)
            throw sys_error("open /proc/thread-self/ns/net", errno);
        if (setns(target.get(), CLONE_NEWNET) != 0)
            throw sys_error("setns " + path, errno);
    }
    ~NetnsSwitch() {
        if (orig_)
            setns(orig_.get(), CLONE_NEWNET);
    }
    NetnsSwitch(const NetnsSwitch &) = delete;
    NetnsSwitch &operator=(const NetnsSwitch &) = delete;

  private:
    UniqueFd orig_;
};

bool is_zero_addr(const __be32 *a) {
    return !a[0] && !a[1] && !a[2] && !a[3];
}

}  // namespace

// ---- the learner -------------------------------------------------------------------------------

struct Learner::Impl : Sink {
    Config cfg;
    std::string backend_name;
    std::vector<std::string> notes;
    uint32_t netns = 0;

    Skel skel;
    std::unique_ptr<Backend> backend;
    std::unique_ptr<Store> store;
    std::unique_ptr<rtnl::Requester> req;
    std::unique_ptr<rtnl::Monitor> mon;
    UniqueFd epfd, wakefd;
    std::thread thread;
    std::atomic<bool> stopping{false};
    std::atomic<bool> started{false};

    mutable std::mutex mu;
    std::condition_variable cv;
    std::unordered_map<uint32_t, PortDev> ports;
    std::unordered_map<uint32_t, rtnl::Link> links;
    KeyMap<oob_route_key, uint64_t> watched;       // flow -> last time seen decided
    KeyMap<oob_neigh_key, int> nexthops;           // next hops of learned routes (refcount)
    KeyMap<oob_neigh_key, uint64_t> neigh_failed;  // when the in-band entry went FAILED
    KeyMap<oob_neigh_key, uint64_t> refreshed;     // last NTF_USE sent
    Stats st;
    uint64_t dirty_first = 0, dirty_last = 0;
    bool resync = false;

    explicit Impl(Config c) : cfg(std::move(c)) {}

    void log(const std::string &m) const {
        if (cfg.log)
            cfg.log(m);
    }

    std::string name_of(uint32_t ifindex) const {
        auto it = links.find(ifindex);
        return it == links.end() ? "if" + std::to_string(ifindex) : it->second.name;
    }

    uint32_t index_of(const std::string &name) const {
        for (const auto &[i, l] : links)
            if (l.name == name)
                return i;
        return 0;
    }

    bool link_up(uint32_t ifindex) const {
        auto it = links.find(ifindex);
        return it != links.end() && (it->second.flags & IFF_UP) && (it->second.flags & kIffLowerUp);
    }

    // ---- decisions ----

    // The complete decision for key from the kernel's answer, if it leads to a usable oob port.
    std::optional<oob_route> evaluate(const oob_route_key &key, int rc, const rtnl::RouteAnswer &a,
                                      std::string *why) const {
        if (rc < 0) {
            *why = std::strerror(-rc);
            return std::nullopt;
        }
        if (a.type != RTN_UNICAST) {
            *why = "route type " + std::to_string(a.type) + " (not unicast)";
            return std::nullopt;
        }
        auto p = ports.find(a.oif);
        if (p == ports.end()) {
            *why = "routed via " + name_of(a.oif) + ", which is not an oob port";
            return std::nullopt;
        }
        const PortDev &port = p->second;
        if (!link_up(port.ifindex) || !link_up(port.lower_ifindex)) {
            *why = "oob port " + name_of(port.ifindex) + " is down";
            return std::nullopt;
        }
        if (a.gw_family && a.gw_family != key.family) {
            *why = "a gateway of another address family is not supported";
            return std::nullopt;
        }
        oob_route r{};
        r.oif = port.ifindex;
        r.lower_ifindex = port.lower_ifindex;
        r.vid = port.vid;
        r.family = key.family;
        r.table = a.table;
        if (a.gw_family) {
            r.flags |= OOB_ROUTE_GATEWAY;
            std::memcpy(r.gw, a.gw, sizeof(r.gw));
        }
        if (a.has_prefsrc)
            std::memcpy(r.prefsrc, a.prefsrc, sizeof(r.prefsrc));
        else
            std::memcpy(r.prefsrc, key.src, sizeof(r.prefsrc));  // the flow's own source
        r.mtu = a.mtu;
        if (!r.mtu) {
            auto l = links.find(port.ifindex);
            r.mtu = l == links.end() ? 0 : l->second.mtu;
        }
        if (r.mtu && !is_zero_addr(r.prefsrc))
            r.flags |= OOB_ROUTE_COMPLETE;
        return r;
    }

    void nexthop_ref(const oob_route_key &k, const oob_route *r, int delta) {
        if (!r)
            return;
        oob_neigh_key nk = next_hop(k, *r);
        int &c = nexthops[nk];
        c += delta;
        if (c <= 0)
            nexthops.erase(nk);
    }

    void watch(const oob_route_key &key) {
        watched[key] = monotonic_ns();
        if (watched.size() <= cfg.max_watched)
            return;
        auto oldest = std::min_element(watched.begin(), watched.end(),
                                       [](auto &a, auto &b) { return a.second < b.second; });
        backend->forget(oldest->first);
        watched.erase(oldest);
    }

    // Asks the kernel for key's decision and records it (or removes a stale entry).
    bool apply(const oob_route_key &key, std::string *why) {
        rtnl::RouteAnswer a;
        int rc = req->get_route(key, &a);
        std::optional<oob_route> r = evaluate(key, rc, a, why);
        const oob_route *old = store->route(key);
        if (r) {
            const bool existed = old != nullptr;
            oob_route before = existed ? *old : oob_route{};
            try {
                if (store->put_route(key, *r)) {
                    if (existed) {
                        st.updated++;
                        nexthop_ref(key, &before, -1);
                    } else {
                        st.learned++;
                    }
                    nexthop_ref(key, store->route(key), +1);
                }
            } catch (const Error &e) {
                *why = e.what();
                log(std::string("route learner: ") + e.what());
                return false;
            }
            watched.erase(key);
            return true;
        }
        if (old) {
            nexthop_ref(key, old, -1);
            store->del_route(key);
            st.removed++;
            backend->forget(key);
        }
        watch(key);
        return false;
    }

    void decided(const oob_route_key &key) override {
        st.decisions++;
        if (key.netns != netns || store->route(key))
            return;
        std::string why;
        apply(key, &why);
    }

    void revalidate() {
        const uint64_t t0 = monotonic_ns();
        std::vector<oob_route_key> keys = store->route_keys();
        for (const auto &w : watched)
            keys.push_back(w.first);
        std::string why;
        for (const auto &k : keys)
            apply(k, &why);
        dirty_first = dirty_last = 0;
        st.revalidations++;
        st.last_revalidation_ns = monotonic_ns() - t0;
        cv.notify_all();
    }

    void mark_dirty() {
        const uint64_t now = monotonic_ns();
        if (!dirty_first)
            dirty_first = now;
        dirty_last = now;
    }

    // Milliseconds until the pending revalidation is due; -1: none pending.
    int due_ms() const {
        if (!dirty_first)
            return -1;
        const uint64_t settle = uint64_t(cfg.settle.count()) * 1000000ULL;
        const uint64_t settle_max = uint64_t(cfg.settle_max.count()) * 1000000ULL;
        const uint64_t due = std::min(dirty_last + settle, dirty_first + settle_max);
        const uint64_t now = monotonic_ns();
        return due <= now ? 0 : int((due - now + 999999) / 1000000);
    }

    // ---- neighbours ----

    void on_neigh(const rtnl::Neigh &n) {
        if (!ports.count(n.ifindex))
            return;
        const oob_neigh_key nk = neigh_key(n.ifindex, n.family, n.addr);
        const bool valid = !n.deleted && (n.state & kNudValid) && n.lladdr_len == 6;
        if (valid) {
            oob_neigh v{};
            std::memcpy(v.mac, n.lladdr, 6);
            v.state = n.state;
            try {
                if (store->put_neigh(nk, v))
                    st.neigh_updates++;
            } catch (const Error &e) {
                log(std::string("route learner: ") + e.what());
            }
            neigh_failed.erase(nk);
            if (cfg.refresh_neighs && n.state == NUD_STALE && nexthops.count(nk))
                refresh(nk);
        } else {
            if (store->del_neigh(nk))
                st.neigh_removed++;
            if (!n.deleted && (n.state & NUD_FAILED))
                neigh_failed[nk] = monotonic_ns();
        }
        cv.notify_all();
    }

    void refresh(const oob_neigh_key &nk) {
        const uint64_t now = monotonic_ns();
        uint64_t &last = refreshed[nk];
        if (last && now - last < kRefreshIntervalNs)
            return;
        last = now;
        if (req->neigh_use(nk.family, nk.ifindex, nk.addr) == 0)
            st.neigh_refreshes++;
    }

    // Mirrors the in-band neighbour table of the ports; drops entries it no longer has.
    void sync_neighs() {
        KeyMap<oob_neigh_key, bool> seen;
        int rc = req->dump_neighs([&](const rtnl::Neigh &n) {
            if (!ports.count(n.ifindex))
                return;
            on_neigh(n);
            seen[neigh_key(n.ifindex, n.family, n.addr)] = true;
        });
        if (rc < 0) {
            log("route learner: neighbour dump: " + std::string(std::strerror(-rc)));
            return;
        }
        for (const auto &k : store->neigh_keys())
            if (!seen.count(k) && store->del_neigh(k))
                st.neigh_removed++;
    }

    void sync_links() {
        std::unordered_map<uint32_t, rtnl::Link> now;
        int rc = req->dump_links([&](const rtnl::Link &l) { now[l.ifindex] = l; });
        if (rc < 0)
            throw sys_error("route learner: link dump", rc);
        links = std::move(now);
    }

    void full_sync() {
        sync_links();
        sync_neighs();
        revalidate();
    }

    // ---- events ----

    bool port_or_lower(uint32_t ifindex) const {
        for (const auto &[i, p] : ports)
            if (p.ifindex == ifindex || p.lower_ifindex == ifindex)
                return true;
        return false;
    }

    void on_event(const rtnl::Event &ev) {
        switch (ev.kind) {
            case rtnl::Kind::route:
            case rtnl::Kind::rule:
            case rtnl::Kind::addr:
            case rtnl::Kind::nexthop:
                mark_dirty();
                break;
            case rtnl::Kind::link: {
                const rtnl::Link &l = ev.link;
                auto it = links.find(l.ifindex);
                bool changed;
                if (l.deleted) {
                    changed = it != links.end();
                    links.erase(l.ifindex);
                } else {
                    changed = it == links.end() || it->second.flags != l.flags ||
                              it->second.mtu != l.mtu || it->second.name != l.name;
                    links[l.ifindex] = l;
                }
                if (changed && port_or_lower(l.ifindex))
                    mark_dirty();
                break;
            }
            case rtnl::Kind::neigh:
                on_neigh(ev.neigh);
                break;
            case rtnl::Kind::other:
                break;
        }
    }

    void pump() {
        if (!mon->drain([&](const rtnl::Event &ev) { on_event(ev); })) {
            st.resyncs++;
            resync = true;
        }
        if (resync) {
            resync = false;
            log("route learner: netlink overrun, resynchronising");
            full_sync();
        }
    }

    void run() {
        epoll_event evs[4];
        while (!stopping.load()) {
            int timeout;
            {
                std::lock_guard<std::mutex> lk(mu);
                timeout = due_ms();
            }
            int n = epoll_wait(epfd.get(), evs, 4, timeout);
            if (n < 0 && errno != EINTR) {
                log("route learner: epoll: " + std::string(std::strerror(errno)));
                break;
            }
            std::lock_guard<std::mutex> lk(mu);
            try {
                for (int i = 0; i < n; i++) {
                    switch (evs[i].data.u32) {
                        case 0:
                            pump();
                            break;
                        case 1:
                            backend->poll(*this);
                            break;
                        default: {
                            uint64_t v;
                            [[maybe_unused]] ssize_t r = read(wakefd.get(), &v, sizeof(v));
                            break;
                        }
                    }
                }
                if (dirty_first && due_ms() == 0)
                    revalidate();
            } catch (const std::exception &e) {
                log(std::string("route learner: ") + e.what());
            }
        }
    }

    void add_epoll(int fd, uint32_t tag) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u32 = tag;
        check(epoll_ctl(epfd.get(), EPOLL_CTL_ADD, fd, &ev), "route learner: epoll_ctl");
    }

    StateFds state_fds() const {
        StateFds f;
        f.routes = bpf_map__fd(skel->maps.oob_routes);
        f.neighs = bpf_map__fd(skel->maps.oob_neighs);
        f.route_cache = bpf_map__fd(skel->maps.oob_route_cache);
        f.neigh_cache = bpf_map__fd(skel->maps.oob_neigh_cache);
        f.cache_state = bpf_map__fd(skel->maps.oob_cache_state);
        return f;
    }

    void start_backend(const std::string &name) {
        const std::string &root = cfg.pin_root;
        if (name == "tp_btf") {
            skel = load_object(root, true, netns);
            backend = std::make_unique<TpBtfBackend>(skel.get());
        } else if (name == "kmod") {
            if (!cfg.kmod)
                throw Error("kmod: back-end not built in");
            skel = load_object(root, false, netns);
            BackendContext ctx;
            ctx.netns = netns;
            ctx.pin_root = root;
            ctx.routes_fd = bpf_map__fd(skel->maps.oob_routes);
            ctx.neighs_fd = bpf_map__fd(skel->maps.oob_neighs);
            ctx.ports = cfg.ports;
            std::string why = "not available";
            backend = cfg.kmod(ctx, &why);
            if (!backend)
                throw Error("kmod: " + why);
        } else if (name == "netlink") {
            skel = load_object(root, false, netns);
            backend = std::make_unique<NetlinkBackend>();
        } else {
            throw Error("route learner: unknown back-end '" + name +
                        "' (auto, tp_btf, kmod or netlink)");
        }
        backend_name = name;
    }

    void start() {
        if (started.load())
            throw Error("route learner: already started");
        std::error_code ec;
        std::filesystem::create_directories(cfg.pin_root, ec);
        if (ec)
            throw Error("route learner: pin root " + cfg.pin_root + ": " + ec.message());
        {
            NetnsSwitch in(cfg.netns);
            req = std::make_unique<rtnl::Requester>();
            mon = std::make_unique<rtnl::Monitor>();
            netns = current_netns();
        }
        const bool probe = cfg.backend == "auto";
        const std::vector<std::string> order =
            probe ? auto_order() : std::vector<std::string>{cfg.backend};
        notes.clear();
        for (const auto &name : order) {
            try {
                start_backend(name);
                break;
            } catch (const std::exception &e) {
                backend.reset();
                skel.reset();
                if (!probe)
                    throw;
                notes.push_back(e.what());
            }
        }
        if (!backend)
            throw Error("route learner: no back-end could start");

        store = std::make_unique<Store>(state_fds(), netns);
        {
            std::lock_guard<std::mutex> lk(mu);
            for (const auto &p : cfg.ports)
                ports[p.ifindex] = p;
            backend->set_ports(cfg.ports);
            full_sync();
        }
        epfd.reset(epoll_create1(EPOLL_CLOEXEC));
        wakefd.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (!epfd || !wakefd)
            throw sys_error("route learner: epoll/eventfd", errno);
        add_epoll(mon->fd(), 0);
        if (backend->event_fd() >= 0)
            add_epoll(backend->event_fd(), 1);
        add_epoll(wakefd.get(), 2);
        stopping = false;
        thread = std::thread([this] { run(); });
        started = true;
    }

    void stop() {
        if (!started.exchange(false))
            return;
        stopping = true;
        uint64_t one = 1;
        [[maybe_unused]] ssize_t r = write(wakefd.get(), &one, sizeof(one));
        if (thread.joinable())
            thread.join();
        // Under the lock: a resolve() waiting for a neighbour wakes up to find the store gone.
        std::lock_guard<std::mutex> lk(mu);
        cv.notify_all();
        backend.reset();
        store.reset();
        skel.reset();
        mon.reset();
        req.reset();
        epfd.reset();
        wakefd.reset();
    }
};

Learner::Learner(Config cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {}

Learner::~Learner() {
    stop();
}

void Learner::start() {
    try {
        impl_->start();
    } catch (...) {
        impl_->stopping = true;
        impl_->backend.reset();
        impl_->store.reset();
        impl_->skel.reset();
        throw;
    }
}

void Learner::stop() {
    impl_->stop();
}

bool Learner::running() const {
    return impl_->started.load();
}

const std::string &Learner::backend() const {
    return impl_->backend_name;
}

const std::vector<std::string> &Learner::probe_notes() const {
    return impl_->notes;
}

uint32_t Learner::netns() const {
    return impl_->netns;
}

void Learner::set_ports(std::vector<PortDev> ports) {
    Impl &m = *impl_;
    std::lock_guard<std::mutex> lk(m.mu);
    m.cfg.ports = ports;
    if (!m.store)
        return;
    m.ports.clear();
    for (const auto &p : ports)
        m.ports[p.ifindex] = p;
    m.backend->set_ports(ports);
    for (const auto &k : m.store->neigh_keys())
        if (!m.ports.count(k.ifindex) && m.store->del_neigh(k))
            m.st.neigh_removed++;
    m.sync_neighs();
    m.revalidate();
}

Resolved Learner::resolve(const ResolveRequest &rq) {
    Impl &m = *impl_;
    if (rq.family != AF_INET && rq.family != AF_INET6)
        throw Error("route resolve: unknown address family " + std::to_string(rq.family));
    std::unique_lock<std::mutex> lk(m.mu);
    if (!m.store || m.stopping.load())
        throw Error("route learner is not running");
    uint32_t oif = 0;
    if (!rq.oif.empty()) {
        oif = m.index_of(rq.oif);
        if (!oif)
            throw Error("route resolve: oif " + rq.oif + ": no such device");
    }
    Resolved out;
    out.key = route_key(m.netns, rq.family, rq.dst.data(), rq.src ? rq.src->data() : nullptr,
                        rq.mark, rq.tos, oif);
    std::string why;
    if (!m.apply(out.key, &why))
        throw Error("route resolve " + addr_text(rq.family, out.key.dst) + ": " + why);
    out.route = *m.store->route(out.key);
    out.dev = m.name_of(out.route.oif);
    out.lower_dev = m.name_of(out.route.lower_ifindex);
    out.oif_dev = oif ? m.name_of(oif) : "";
    out.nh = next_hop(out.key, out.route);
    if (!rq.neigh)
        return out;

    const oob_neigh *n = m.store->neigh(out.nh);
    if (!n || n->state == NUD_STALE) {
        // Resolve (or re-confirm) in the in-band stack; the monitor mirrors the outcome.
        m.refreshed[out.nh] = monotonic_ns();
        m.req->neigh_use(out.nh.family, out.nh.ifindex, out.nh.addr);
    }
    if (!n) {
        const uint64_t t0 = monotonic_ns();
        m.cv.wait_for(lk, rq.timeout, [&] {
            if (!m.store || m.store->neigh(out.nh))
                return true;
            auto f = m.neigh_failed.find(out.nh);
            return f != m.neigh_failed.end() && f->second >= t0;
        });
    }
    if (!m.store)
        throw Error("route learner stopped");
    if (const oob_neigh *got = m.store->neigh(out.nh)) {
        out.neigh = *got;
    } else {
        rtnl::Neigh in;
        if (m.req->get_neigh(out.nh.family, out.nh.ifindex, out.nh.addr, &in) == 0)
            out.neigh_state = in.state;
    }
    return out;
}

void Learner::settle() {
    Impl &m = *impl_;
    std::lock_guard<std::mutex> lk(m.mu);
    if (!m.store)
        return;
    m.pump();
    m.backend->poll(m);
    if (m.dirty_first)
        m.revalidate();
}

Stats Learner::stats() const {
    Impl &m = *impl_;
    std::lock_guard<std::mutex> lk(m.mu);
    Stats s = m.st;
    if (m.store) {
        s.routes = m.store->routes();
        s.neighs = m.store->neighs();
    }
    s.watched = m.watched.size();
    if (m.backend)
        s.dropped = m.backend->dropped();
    return s;
}

std::vector<Resolved> Learner::entries() const {
    Impl &m = *impl_;
    std::lock_guard<std::mutex> lk(m.mu);
    std::vector<Resolved> v;
    if (!m.store)
        return v;
    for (const auto &k : m.store->route_keys()) {
        Resolved r;
        r.key = k;
        r.route = *m.store->route(k);
        r.dev = m.name_of(r.route.oif);
        r.lower_dev = m.name_of(r.route.lower_ifindex);
        r.oif_dev = k.oif ? m.name_of(k.oif) : "";
        r.nh = next_hop(k, r.route);
        if (const oob_neigh *n = m.store->neigh(r.nh))
            r.neigh = *n;
        v.push_back(std::move(r));
    }
    return v;
}

std::vector<std::pair<oob_route_key, oob_route>> Learner::routes() const {
    Impl &m = *impl_;
    std::lock_guard<std::mutex> lk(m.mu);
    std::vector<std::pair<oob_route_key, oob_route>> v;
    if (m.store)
        for (const auto &k : m.store->route_keys())
            v.emplace_back(k, *m.store->route(k));
    return v;
}

std::vector<std::pair<oob_neigh_key, oob_neigh>> Learner::neighs() const {
    Impl &m = *impl_;
    std::lock_guard<std::mutex> lk(m.mu);
    std::vector<std::pair<oob_neigh_key, oob_neigh>> v;
    if (m.store)
        for (const auto &k : m.store->neigh_keys())
            v.emplace_back(k, *m.store->neigh(k));
    return v;
}

std::string Learner::dev_name(uint32_t ifindex) const {
    Impl &m = *impl_;
    std::lock_guard<std::mutex> lk(m.mu);
    auto it = m.links.find(ifindex);
    return it == m.links.end() ? "" : it->second.name;
}

}  // namespace oobbpf::learn
