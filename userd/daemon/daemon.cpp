// SPDX-License-Identifier: MIT
#include "daemon.h"

#include "error.h"
#include "rules.h"
#include "tables.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_xdp.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <filesystem>

#ifndef AF_XDP
#define AF_XDP 44
#endif

#ifndef OOBBPF_VERSION
#define OOBBPF_VERSION "0.0.0"
#endif
#ifndef OOBBPF_LIBXDP_VERSION
#define OOBBPF_LIBXDP_VERSION "unknown"
#endif

namespace fs = std::filesystem;

namespace oobbpf::daemon {

using nlohmann::json;

namespace {

constexpr size_t kMaxConns = 128;

void log(const std::string &msg) {
    fprintf(stderr, "oobbpfd: %s\n", msg.c_str());
}

uint64_t now_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

using PortKey = std::pair<uint32_t, uint16_t>;  // (ifindex, vid), for oob_ports and oob_vlans


void check_vid(int64_t vid) {
    if (vid == 0 || vid == 1 || vid == 4095)
        throw Error("VID " + std::to_string(vid) +
                    " cannot be an oob VLAN (0 is a priority tag, 1 the default VLAN, 4095 "
                    "reserved): use 2..4094");
    if (vid < 0 || vid > 4095)
        throw Error("VID " + std::to_string(vid) + " out of range: use 2..4094");
}

std::string dev_flags_text(uint32_t f) {
    std::string s;
    auto add = [&](uint32_t bit, const char *name) {
        if (f & bit)
            s += (s.empty() ? "" : ",") + std::string(name);
    };
    add(OOB_DEV_DIVERT, "divert");
    add(OOB_DEV_PORT, "port");
    add(OOB_DEV_SELECTOR, "selector");
    add(OOB_DEV_TAP, "tap");
    return s;
}

std::vector<rules::Rule> rules_of(const json &j) {
    return rules::list_from_json(j);
}

// Where a rule's `dev` receives its frames: the lower device and VID of a VLAN device.
rules::Resolver port_resolver(const std::vector<Link> &links) {
    return [links](const std::string &dev) -> std::optional<rules::PortRef> {
        auto l = find_link(links, dev);
        if (!l)
            return std::nullopt;
        if (l->is_vlan())
            return rules::PortRef{l->lower, l->vlan_id};
        return rules::PortRef{l->ifindex, 0};
    };
}

// The whole set on its own, then, with devices resolved, the rules whose devices are present
// (`dev eth0.42` and `dev eth0 vlan 42` are one port; a vlan contradicting its device is wrong).
void validate_rules(const std::vector<rules::Rule> &all, const std::vector<Link> &links) {
    rules::validate(all);
    std::vector<rules::Rule> present;
    for (const auto &r : all)
        if (!r.dev || find_link(links, *r.dev))
            present.push_back(r);
    rules::validate(present, port_resolver(links));
}

}  // namespace

struct Daemon::Conn {
    UniqueFd fd;
    Peer peer;
    std::string in, out;
    std::vector<UniqueFd> fds;
    bool closing = false;  // close once out is written
};

struct Daemon::Want {
    std::string name;
    std::optional<XdpMode> mode;
    uint32_t flags = OOB_DEV_DIVERT;
    uint32_t port_id = 0;
    std::vector<std::string> needed_by;  // configured names that need this device to divert
};

// ---- start ------------------------------------------------------------------------------------

std::unique_ptr<Learner> LearnerRegistry::create(const std::string &choice,
                                                 const LearnerContext &ctx,
                                                 std::vector<std::string> &why) const {
    if (choice == "none")
        return nullptr;
    for (const auto &e : entries_) {
        if (choice != "auto" && choice != e.name)
            continue;
        try {
            return e.factory(ctx);
        } catch (const Error &err) {
            if (choice != "auto")
                throw Error("learner " + e.name + ": " + err.what());
            why.push_back(e.name + ": " + err.what());
        }
    }
    if (choice != "auto")
        throw Error("no learner back-end named \"" + choice + "\" in this oobbpfd");
    if (entries_.empty())
        why.push_back("this oobbpfd was built without route learning (userd/learn)");
    return nullptr;
}

Daemon::Daemon(const DaemonOptions &o, const LearnerRegistry &learners,
               std::unique_ptr<SelectorLoader> selectors)
    : o_(o), selectors_(std::move(selectors)) {
    netns_ = current_netns();

    // One daemon per namespace (per socket): the lock says whether another one serves it.
    const std::string sock_dir = fs::path(o_.paths.socket).parent_path().string();
    std::error_code ec;
    fs::create_directories(sock_dir.empty() ? "." : sock_dir, ec);
    lock_.reset(open(o_.paths.lock_file().c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!lock_)
        throw sys_error("open " + o_.paths.lock_file(), errno);
    if (flock(lock_.get(), LOCK_EX | LOCK_NB) < 0)
        throw Error("another oobbpfd serves this namespace (" + o_.paths.socket + ")");

    // The saved configuration first: one that cannot be read stops the start before anything
    // is loaded, pinned or attached.
    cfg_ = load_config(o_.paths.config_file());

    features_ = probe_features();
    xsk_diag_ = features_.xsk_diag.ok;
    const bool dispatcher = o_.dispatcher && features_.freplace.ok;
    if (dispatcher)
        attach_why_ = "libxdp dispatcher: other XDP programs can run beside oob_xdp";
    else if (!o_.dispatcher)
        attach_why_ = "alone (pinned bpf_link): dispatcher disabled by --no-dispatcher";
    else
        attach_why_ = "alone (pinned bpf_link): libxdp's dispatcher needs freplace (" +
                      features_.freplace.error + ")";
    log("attaching " + attach_why_);

    dp_ = std::make_unique<Datapath>(Datapath::Options{o_.paths, dispatcher});
    for (const auto &n : dp_->notes())
        log(n);

    LearnerContext ctx{o_.paths, dp_->maps(), netns_.inode, features_.tp_btf.ok};
    learner_ = learners.create(o_.learner, ctx, learner_why_);
    log(learner_ ? "route learner: " + learner_->backend() : "route learner: none");
    for (const auto &w : learner_why_)
        log("  " + w);

    open_tap_maps();
    clear_taps();

    monitor_ = std::make_unique<LinkMonitor>();
    std::vector<std::string> warnings;
    apply({}, true, warnings);
    for (const auto &w : warnings)
        log("warning: " + w);
    for (const auto &[dev, p] : problems_)
        log("warning: " + p);
    listen_socket();
    started_ = time(nullptr);
}

Daemon::~Daemon() {
    for (const auto &c : conns_)
        end_taps(c.get());
    conns_.clear();
    listen_.reset();
    unlink(o_.paths.socket.c_str());
}

// ---- apply: make the data path say what the configuration says ---------------------------------

void Daemon::apply(const std::set<std::string> &force, bool rules_changed,
                   std::vector<std::string> &warnings) {
    const std::vector<Link> links = dump_links();
    BpfTables &t = dp_->tables();
    const MapFds &m = dp_->maps();
    problems_.clear();

    std::map<uint32_t, Want> want;
    std::map<PortKey, oob_port> ports;
    std::map<PortKey, oob_vlan> vlans;

    auto need = [&](const Link &l, const std::string &by) -> Want & {
        Want &w = want[l.ifindex];
        w.name = l.name;
        auto dc = cfg_.devices.find(l.name);
        if (dc != cfg_.devices.end() && dc->second.mode)
            w.mode = parse_mode(*dc->second.mode);
        w.needed_by.push_back(by);
        return w;
    };
    // A device that diverts itself: present, and not a VLAN device (those divert on their lower).
    auto plain = [&](const std::string &name) -> std::optional<Link> {
        auto l = find_link(links, name);
        if (!l) {
            problems_[name] = name + ": no such device";
            return std::nullopt;
        }
        if (l->is_vlan()) {
            problems_[name] = name + " is a VLAN device: diversion runs on its lower device";
            return std::nullopt;
        }
        return l;
    };

    for (const auto &[name, d] : cfg_.devices)
        if (d.divert)
            if (auto l = plain(name))
                need(*l, name);
    for (const auto &[name, p] : cfg_.ports) {
        auto l = find_link(links, name);
        if (!l) {
            problems_[name] = name + ": no such device";
            continue;
        }
        if (l->is_vlan()) {
            auto lower = find_link(links, l->lower);
            if (!lower || lower->is_vlan()) {
                problems_[name] = name + ": nested VLAN devices cannot be oob ports";
                continue;
            }
            need(*lower, name);
            ports[{lower->ifindex, l->vlan_id}] =
                oob_port{p.id, OOB_PORT_VLAN, l->ifindex, lower->ifindex, l->vlan_id, 0, 0};
        } else {
            Want &w = need(*l, name);
            w.flags |= OOB_DEV_PORT;
            w.port_id = p.id;
            // Untagged ports are listed too (vid 0): the classifier finds them through oob_devs,
            // but the learner, the kmod and bpftool users find every port in one map.
            ports[{l->ifindex, 0}] = oob_port{p.id, 0, l->ifindex, l->ifindex, 0, 0, 0};
        }
    }
    for (const auto &v : cfg_.vlans) {
        uint32_t ifindex = 0;
        if (!v.dev.empty()) {
            auto l = plain(v.dev);
            if (!l)
                continue;
            need(*l, v.dev);
            ifindex = l->ifindex;
        }
        vlans[{ifindex, v.vid}] = oob_vlan{OOB_VLAN_MEMBER, v.id};
    }
    for (const auto &[name, s] : cfg_.selectors)
        if (auto l = plain(name))
            need(*l, name);

    // Devices that divert no more: off first (frees their slots).
    std::map<uint32_t, oob_dev> cur;
    for (auto &[k, v] : dump_map<uint32_t, oob_dev>(m.devs))
        cur[k] = v;
    for (auto it = cur.begin(); it != cur.end();) {
        const uint32_t ifindex = it->first;
        if (want.count(ifindex)) {
            ++it;
            continue;
        }
        const bool present = find_link(links, ifindex).has_value();
        try {
            if (present)
                dp_->detach(ifindex);
            else
                dp_->forget(ifindex);
        } catch (const Error &e) {
            warnings.push_back(e.what());
        }
        // The selector slot goes with the device: a later device given this slot starts clean.
        uint32_t slot = it->second.slot;
        bpf_map_delete_elem(m.selectors, &slot);
        t.del_dev(ifindex);
        purge_xsk_slot(it->second.slot);
        it = cur.erase(it);
    }
    // Attachments with no record (adopted for a device no longer configured, or a record lost).
    std::vector<uint32_t> stray;
    for (const auto &[ifindex, a] : dp_->attachments())
        if (!want.count(ifindex))
            stray.push_back(ifindex);
    for (uint32_t ifindex : stray) {
        try {
            if (find_link(links, ifindex))
                dp_->detach(ifindex);
            else
                dp_->forget(ifindex);
        } catch (const Error &e) {
            warnings.push_back(e.what());
        }
    }

    std::set<uint32_t> slots;
    for (const auto &[ifindex, d] : cur)
        slots.insert(d.slot);
    for (auto &[ifindex, w] : want) {
        oob_dev d{};
        auto it = cur.find(ifindex);
        const bool existed = it != cur.end();
        if (existed) {
            d.slot = it->second.slot;
            // The selector loader and the tap own these bits.
            d.flags = it->second.flags & (OOB_DEV_SELECTOR | OOB_DEV_TAP);
        } else {
            uint32_t s = 0;
            while (s < OOB_MAX_DEVS && slots.count(s))
                s++;
            if (s == OOB_MAX_DEVS) {
                for (const auto &n : w.needed_by)
                    problems_[n] = w.name + ": no free device slot (" +
                                   std::to_string(OOB_MAX_DEVS) + " devices divert already)";
                continue;
            }
            d.slot = s;
            slots.insert(s);
        }
        d.flags |= w.flags;
        // The tap bit says whether a session taps the device now (a device that comes back
        // while its tap runs is tapped again).
        if (tapped(ifindex))
            d.flags |= OOB_DEV_TAP;
        else
            d.flags &= ~OOB_DEV_TAP;
        d.port_id = w.port_id;
        if (!existed || std::memcmp(&d, &it->second, sizeof(d)) != 0)
            t.put_dev(ifindex, d);
        try {
            dp_->attach(ifindex, w.name, w.mode, force.count(w.name) > 0, warnings);
        } catch (const Error &e) {
            for (const auto &n : w.needed_by)
                problems_[n] = e.what();
            problems_[w.name] = e.what();
            if (!existed) {
                t.del_dev(ifindex);
                slots.erase(d.slot);
            }
        }
    }

    // Ports and VLAN sets: write what is wanted, remove the rest.
    for (auto &[k, v] : dump_map<oob_port_key, oob_port>(m.ports))
        if (!ports.count({k.ifindex, k.vid}))
            t.del_port(k);
    for (auto &[k, v] : ports) {
        oob_port_key key{k.first, k.second, 0};
        oob_port old{};
        if (bpf_map_lookup_elem(m.ports, &key, &old) != 0 || std::memcmp(&old, &v, sizeof(v)) != 0)
            t.put_port(key, v);
    }
    for (auto &[k, v] : dump_map<oob_vlan_key, oob_vlan>(m.vlans))
        if (!vlans.count({k.ifindex, k.vid}))
            t.del_vlan(k);
    for (auto &[k, v] : vlans) {
        oob_vlan_key key{k.first, k.second, 0};
        oob_vlan old{};
        if (bpf_map_lookup_elem(m.vlans, &key, &old) != 0 || std::memcmp(&old, &v, sizeof(v)) != 0)
            t.put_vlan(key, v);
    }

    // Rules: compiled against the devices as they are now; again whenever that changes.
    std::map<std::string, std::pair<uint32_t, uint16_t>> resolved;
    for (const auto &r : rules_of(cfg_.rules)) {
        if (!r.dev)
            continue;
        auto l = find_link(links, *r.dev);
        resolved[*r.dev] = !l             ? std::pair<uint32_t, uint16_t>{0, 0}
                           : l->is_vlan() ? std::pair<uint32_t, uint16_t>{l->lower, l->vlan_id}
                                          : std::pair<uint32_t, uint16_t>{l->ifindex, 0};
    }
    if (rules_changed || resolved != resolved_) {
        install_rule_set(links, warnings);
        resolved_ = resolved;
    }

    // Selectors: (re)loaded from their files where the configuration has one and the device has
    // none (a device that came back, pins that were removed), or has another program than the
    // one saved (a replacement cut short between its swap and its save). The load command comes
    // this way.
    if (selectors_) {
        for (auto &[name, s] : cfg_.selectors) {
            auto l = find_link(links, name);
            if (!l || problems_.count(name))
                continue;
            try {
                auto installed = selectors_->show(name);
                if (!installed || (s.prog_id && installed->value("prog_id", 0u) != s.prog_id)) {
                    std::string details;
                    try {
                        s.prog_id = selectors_->load(name, s.file, s.section, &details)
                                        .value("prog_id", 0u);
                    } catch (const Error &) {
                        details_ = details;  // the verifier's whole log, for `-v`
                        throw;
                    }
                }
            } catch (const Error &e) {
                problems_[name] = e.what();
            }
        }
        // Selectors that no configuration names (a first load cut short between its swap and
        // its save) go: what runs is what `oobbpf divert show` says.
        try {
            for (const auto &i : selectors_->list()) {
                const std::string dev = i.value("dev", "");
                if (!dev.empty() && !cfg_.selectors.count(dev))
                    selectors_->unload(dev);
            }
        } catch (const Error &e) {
            warnings.push_back(e.what());
        }
    } else {
        for (const auto &[name, s] : cfg_.selectors)
            problems_[name] = name + ": this oobbpfd was built without custom selectors";
    }

    notify_learner();
}

bool Daemon::same_as_active(const RuleSetImage &img) const {
    const MapFds &m = dp_->maps();
    uint32_t gen = dp_->tables().config().rule_gen & 1;
    oob_rule_masks active{};
    if (bpf_map_lookup_elem(m.rule_masks, &gen, &active) != 0 ||
        std::memcmp(&active, &img.masks, sizeof(active)) != 0)
        return false;
    using Entry = std::pair<std::string, std::string>;
    auto bytes = [](const auto &v) {
        return std::string(reinterpret_cast<const char *>(&v), sizeof(v));
    };
    std::vector<Entry> want, have;
    for (auto [k, v] : img.entries) {
        k.tuple = static_cast<uint8_t>(k.tuple % OOB_MAX_MASKS);
        want.emplace_back(bytes(k), bytes(v));
    }
    const uint32_t lo = gen * OOB_MAX_MASKS, hi = lo + OOB_MAX_MASKS;
    for (auto [k, v] : dump_map<oob_rule_key, oob_rule_val>(m.rules)) {
        if (k.tuple < lo || k.tuple >= hi)
            continue;
        k.tuple = static_cast<uint8_t>(k.tuple - lo);
        have.emplace_back(bytes(k), bytes(v));
    }
    std::sort(want.begin(), want.end());
    std::sort(have.begin(), have.end());
    return want == have;
}

void Daemon::install_rule_set(const std::vector<Link> &links, std::vector<std::string> &) {
    const std::vector<rules::Rule> all = rules_of(cfg_.rules);
    std::vector<rules::Rule> active;
    rule_status_.clear();
    for (const auto &r : all) {
        if (r.dev && !find_link(links, *r.dev)) {
            rule_status_.push_back({{"id", r.id}, {"state", *r.dev + ": no such device"}});
            continue;
        }
        rule_status_.push_back({{"id", r.id}, {"state", "active"}});
        active.push_back(r);
    }
    RuleSetImage img = rules::compile(active, port_resolver(links));
    // The same set already active (a restarted daemon, a device event that changed nothing for
    // the rules) stays as it is: no generation flip, the maps stay byte for byte.
    if (!same_as_active(img))
        install_rules(dp_->tables(), img);
    last_rule_info_ = {{"rules", active.size()},
                       {"masks", img.masks.count},
                       {"entries", img.entries.size()},
                       {"generation", dp_->tables().config().rule_gen}};
}

void Daemon::commit(Config next, const std::string &dev, const std::set<std::string> &force,
                    bool rules_changed, std::vector<std::string> &warnings) {
    Config prev = cfg_;
    cfg_ = std::move(next);
    std::vector<std::string> w;
    auto restore = [&] {
        cfg_ = prev;
        std::vector<std::string> ignored;
        try {
            apply({}, rules_changed, ignored);
        } catch (const Error &e) {
            log("restoring the previous configuration: " + std::string(e.what()));
        }
    };
    try {
        apply(force, rules_changed, w);
    } catch (const Error &) {
        restore();
        throw;
    }
    if (!dev.empty()) {
        auto p = problems_.find(dev);
        if (p != problems_.end()) {
            const std::string msg = p->second;
            restore();
            throw Error(msg);
        }
    }
    try {
        save();
    } catch (const Error &e) {
        restore();
        throw Error(std::string(e.what()) + " (nothing changed)");
    }
    warnings.insert(warnings.end(), w.begin(), w.end());
}

void Daemon::save() {
    save_config(o_.paths.config_file(), cfg_);
}

uint32_t Daemon::alloc_port_id() const {
    std::set<uint32_t> used;
    for (const auto &[n, p] : cfg_.ports)
        used.insert(p.id);
    for (const auto &v : cfg_.vlans)
        used.insert(v.id);
    for (uint32_t id = 1; id < OOB_MAX_PORTS; id++)
        if (!used.count(id))
            return id;
    throw Error("no free port id (" + std::to_string(OOB_MAX_PORTS - 1) + " ports and VLANs)");
}

uint32_t Daemon::alloc_rule_id() const {
    std::set<uint32_t> used;
    uint32_t max = 0;
    for (const auto &r : cfg_.rules) {
        uint32_t id = r.value("id", 0u);
        used.insert(id);
        max = std::max(max, id);
    }
    // Prefer fresh ids (a deleted rule's id is not reused while others are free above it).
    if (max + 1 < OOB_MAX_RULES)
        return max + 1;
    for (uint32_t id = 1; id < OOB_MAX_RULES; id++)
        if (!used.count(id))
            return id;
    throw Error("no free rule id (" + std::to_string(OOB_MAX_RULES - 1) + " rules)");
}

// A reused id must not inherit the counters of its previous owner.
void Daemon::zero_port_stats(uint32_t id) {
    std::vector<oob_port_stats> zero(possible_cpus());
    bpf_map_update_elem(dp_->maps().port_stats, &id, zero.data(), BPF_ANY);
}

void Daemon::zero_rule_stats(uint32_t id) {
    std::vector<oob_rule_stats> zero(possible_cpus());
    bpf_map_update_elem(dp_->maps().rule_stats, &id, zero.data(), BPF_ANY);
}

void Daemon::purge_xsk_slot(uint32_t slot) {
    const MapFds &m = dp_->maps();
    for (uint32_t q = 0; q < OOB_MAX_QUEUES; q++) {
        uint32_t idx = slot * OOB_MAX_QUEUES + q;
        bpf_map_delete_elem(m.xsks, &idx);
        bpf_map_delete_elem(m.xsk_regs, &idx);
        xsk_inodes_.erase(idx);
    }
}

// A registration lives as long as its socket: the kernel drops a closed socket from the XSKMAP
// by itself, and this drops its mirror entry.
void Daemon::reap_xsks() {
    const MapFds &m = dp_->maps();
    auto regs = dump_map<uint32_t, oob_xsk_reg>(m.xsk_regs);
    if (regs.empty())
        return;
    std::optional<std::vector<XskInfo>> socks = xsk_sockets();
    for (const auto &[idx, reg_] : regs) {
        const oob_xsk_reg &reg = reg_;  // a plain reference: lambdas may capture it
        auto ino = xsk_inodes_.find(idx);
        bool alive;
        if (socks) {
            // sock_diag knows every AF_XDP socket of the namespace and where it is bound.
            alive = std::any_of(socks->begin(), socks->end(), [&](const XskInfo &x) {
                if (ino != xsk_inodes_.end())
                    return x.inode == ino->second;
                return x.ifindex == reg.ifindex && x.queue == reg.queue;
            });
        } else {
            // Without it: the registering process must live and, when we know the socket, still
            // hold it.
            alive = pid_holds(reg.pid, ino != xsk_inodes_.end() ? ino->second : 0);
        }
        if (alive)
            continue;
        uint32_t k = idx;
        // A closed socket has left the XSKMAP by itself; when we only guessed (no sock_diag),
        // the XSKMAP entry is left to the kernel and only the mirror goes.
        if (socks)
            bpf_map_delete_elem(m.xsks, &k);
        bpf_map_delete_elem(m.xsk_regs, &k);
        xsk_inodes_.erase(idx);
        if (o_.verbose)
            log("oob socket on queue " + std::to_string(reg.queue) + " of ifindex " +
                std::to_string(reg.ifindex) + " closed: unregistered");
    }
}

std::optional<std::vector<XskInfo>> Daemon::xsk_sockets() {
    if (!xsk_diag_)
        return std::nullopt;
    try {
        return dump_xsks();
    } catch (const Error &e) {
        // ENOENT: no sock_diag handler for AF_XDP (CONFIG_XDP_SOCKETS_DIAG off or not loaded).
        if (e.err() == ENOENT || e.err() == EOPNOTSUPP)
            xsk_diag_ = false;
        return std::nullopt;
    }
}

bool Daemon::pid_holds(uint32_t pid, uint32_t inode) {
    if (!pid)
        return true;  // registered without a process: cannot tell, keep it
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    std::error_code ec;
    if (!fs::exists("/proc/" + std::to_string(pid), ec))
        return false;
    if (!inode)
        return true;
    const std::string want = "socket:[" + std::to_string(inode) + "]";
    for (const auto &e : fs::directory_iterator(dir, ec)) {
        char buf[64] = {};
        ssize_t n = readlink(e.path().c_str(), buf, sizeof(buf) - 1);
        if (n > 0 && want == std::string(buf, static_cast<size_t>(n)))
            return true;
    }
    return ec ? true : false;  // an unreadable fd table: keep it
}

std::vector<PortInfo> Daemon::port_infos(const std::vector<Link> &links) const {
    std::vector<PortInfo> out;
    for (const auto &[name, p] : cfg_.ports) {
        auto l = find_link(links, name);
        if (!l || problems_.count(name))
            continue;
        PortInfo pi;
        pi.dev = name;
        pi.ifindex = l->ifindex;
        pi.lower_ifindex = l->is_vlan() ? l->lower : l->ifindex;
        pi.vid = l->is_vlan() ? l->vlan_id : 0;
        pi.port_id = p.id;
        out.push_back(pi);
    }
    return out;
}

void Daemon::notify_learner() {
    if (!learner_)
        return;
    std::vector<PortInfo> ports = port_infos(dump_links());
    auto same = [](const PortInfo &a, const PortInfo &b) {
        return a.dev == b.dev && a.ifindex == b.ifindex && a.lower_ifindex == b.lower_ifindex &&
               a.vid == b.vid && a.port_id == b.port_id;
    };
    if (ports.size() == last_ports_.size() &&
        std::equal(ports.begin(), ports.end(), last_ports_.begin(), same))
        return;
    last_ports_ = ports;
    try {
        learner_->ports_changed(ports);
    } catch (const Error &e) {
        log("learner: " + std::string(e.what()));
    }
}

// ---- requests ---------------------------------------------------------------------------------

Response Daemon::handle(const Request &req, const Peer &peer, std::vector<UniqueFd> &fds) {
    Response r;
    details_.clear();
    try {
        Args a(req.args);
        const std::string &c = req.cmd;
        std::vector<std::string> &w = r.warnings;
        if (c == "status")
            r.result = cmd_status();
        else if (c == "port.add")
            r.result = cmd_port_add(a, w);
        else if (c == "port.del")
            r.result = cmd_port_del(a, w);
        else if (c == "port.show")
            r.result = cmd_port_show(a);
        else if (c == "divert.set")
            r.result = cmd_divert(a, w);
        else if (c == "divert.show")
            r.result = cmd_divert_show(a);
        else if (c == "vlan.add")
            r.result = cmd_vlan_add(a, w);
        else if (c == "vlan.del")
            r.result = cmd_vlan_del(a, w);
        else if (c == "vlan.show")
            r.result = cmd_vlan_show(a);
        else if (c == "rule.add")
            r.result = cmd_rule_add(a, w);
        else if (c == "rule.del")
            r.result = cmd_rule_del(a, w);
        else if (c == "rule.show")
            r.result = cmd_rule_show(a);
        else if (c == "rule.flush")
            r.result = cmd_rule_flush(a, w);
        else if (c == "rule.replace")
            r.result = cmd_rule_replace(a, w);
        else if (c == "load")
            r.result = cmd_load(a, w);
        else if (c == "unload")
            r.result = cmd_unload(a, w);
        else if (c == "route.resolve")
            r.result = cmd_route_resolve(a);
        else if (c == "xsk.register")
            r.result = cmd_xsk_register(a, peer, fds, w);
        else if (c == "xsk.unregister")
            r.result = cmd_xsk_unregister(a);
        else if (c == "xsk.show")
            r.result = cmd_xsk_show(a);
        else if (c == "tap.start")
            r.result = cmd_tap_start(a, peer, fds);
        else if (c == "tap.show")
            r.result = cmd_tap_show(a);
        else if (c == "config.show") {
            a.only({});
            r.result = to_json(cfg_);
        } else
            throw Error("unknown command " + json(c).dump());
        r.ok = true;
    } catch (const std::exception &e) {
        // Every failure, including a bug's std::exception, is an answer, never the end of the
        // daemon. Only the first line: the protocol promises one.
        std::string msg = e.what();
        auto nl = msg.find('\n');
        r = Response{};
        r.error = nl == std::string::npos ? msg : msg.substr(0, nl);
        r.details = details_;
    }
    return r;
}

json Daemon::cmd_status() {
    json devices = json::array();
    const std::vector<Link> links = dump_links();
    for (auto &[ifindex, d] : dump_map<uint32_t, oob_dev>(dp_->maps().devs)) {
        auto l = find_link(links, ifindex);
        json e = {{"dev", l ? l->name : "if" + std::to_string(ifindex)},
                  {"ifindex", ifindex},
                  {"slot", d.slot},
                  {"flags", dev_flags_text(d.flags)}};
        if (auto a = dp_->attachment(ifindex)) {
            e["mode"] = mode_name(a->mode);
            e["via"] = a->dispatcher ? "libxdp-dispatcher" : "bpf_link";
            e["adopted"] = a->adopted;
            e["prog_id"] = a->prog_id;
            if (a->link_id)
                e["link_id"] = a->link_id;
        }
        XdpState st = query_xdp(ifindex);
        if (!st.prog_id)
            e["problem"] = "no XDP program attached";
        devices.push_back(e);
    }
    std::sort(devices.begin(), devices.end(),
              [](const json &a, const json &b) { return a["dev"] < b["dev"]; });
    json problems = json::array();
    for (const auto &[dev, p] : problems_)
        problems.push_back({{"dev", dev}, {"problem", p}});
    json learner = {{"backend", learner_ ? learner_->backend() : "none"}};
    if (!learner_why_.empty())
        learner["why"] = learner_why_;
    if (learner_)
        learner["status"] = learner_->status();
    return {{"daemon",
             {{"pid", getpid()},
              {"started", started_},
              {"pin_root", o_.paths.pin_root},
              {"socket", o_.paths.socket},
              {"state_dir", o_.paths.state_dir},
              {"netns", netns_.inode},
              {"notes", dp_->notes()}}},
            {"versions",
             {{"oobbpf", OOBBPF_VERSION},
              {"abi", OOB_ABI_VERSION},
              {"protocol", kProtocolVersion},
              {"libbpf", std::to_string(libbpf_major_version()) + "." +
                             std::to_string(libbpf_minor_version())},
              {"libxdp", OOBBPF_LIBXDP_VERSION},
              {"kernel", features_.kernel}}},
            {"features", to_json(features_)},
            {"attach", attach_why_},
            {"devices", devices},
            {"problems", problems},
            {"rules", last_rule_info_},
            {"learner", learner},
            {"selectors", selectors_ ? "built in" : "not built in"}};
}

// ---- ports ------------------------------------------------------------------------------------

namespace {

Link present(const std::vector<Link> &links, const std::string &dev) {
    auto l = find_link(links, dev);
    if (!l)
        throw Error(dev + ": no such device");
    return *l;
}

Link present_plain(const std::vector<Link> &links, const std::string &dev, const char *what) {
    Link l = present(links, dev);
    if (l.is_vlan()) {
        auto lower = find_link(links, l.lower);
        throw Error(dev + " is a VLAN device: " + what + " on its lower device" +
                    (lower ? " " + lower->name : std::string()));
    }
    return l;
}

}  // namespace

json Daemon::cmd_port_add(const Args &a, std::vector<std::string> &w) {
    a.only({"dev", "force"});
    const std::string dev = a.str("dev");
    const bool force = a.boolean("force", false);
    const auto links = dump_links();
    Link l = present(links, dev);
    if (cfg_.ports.count(dev))
        throw Error(dev + " is already an oob port");
    std::set<std::string> f;
    if (l.is_vlan()) {
        auto lower = find_link(links, l.lower);
        if (!lower || lower->is_vlan())
            throw Error(dev + ": nested VLAN devices cannot be oob ports");
        if (force)
            f.insert(lower->name);
    } else if (force) {
        f.insert(dev);
    }
    Config next = cfg_;
    const uint32_t id = alloc_port_id();
    next.ports[dev] = PortConf{id};
    commit(std::move(next), dev, f, false, w);
    zero_port_stats(id);
    return cmd_port_show(Args(json{{"dev", dev}}))[0];
}

json Daemon::cmd_port_del(const Args &a, std::vector<std::string> &w) {
    a.only({"dev"});
    const std::string dev = a.str("dev");
    if (!cfg_.ports.count(dev))
        throw Error(dev + " is not an oob port");
    Config next = cfg_;
    next.ports.erase(dev);
    commit(std::move(next), "", {}, false, w);
    return json::object();
}

json Daemon::cmd_port_show(const Args &a) {
    a.only({"dev"});
    auto dev = a.opt_str("dev");
    if (dev && !cfg_.ports.count(*dev))
        throw Error(*dev + " is not an oob port");
    const auto links = dump_links();
    json out = json::array();
    for (const auto &[name, p] : cfg_.ports) {
        if (dev && name != *dev)
            continue;
        json e = {{"dev", name}, {"port_id", p.id}};
        auto l = find_link(links, name);
        if (l) {
            e["ifindex"] = l->ifindex;
            if (l->is_vlan()) {
                auto lower = find_link(links, l->lower);
                e["kind"] = "vlan";
                e["lower"] = lower ? lower->name : "";
                e["lower_ifindex"] = l->lower;
                e["vid"] = l->vlan_id;
            } else {
                e["kind"] = "device";
                e["lower"] = name;
                e["lower_ifindex"] = l->ifindex;
                e["vid"] = 0;
            }
        }
        auto pr = problems_.find(name);
        e["state"] = pr != problems_.end() ? pr->second : "active";
        out.push_back(e);
    }
    return out;
}

// ---- diversion ---------------------------------------------------------------------------------

json Daemon::cmd_divert(const Args &a, std::vector<std::string> &w) {
    a.only({"dev", "on", "mode", "force"});
    const std::string dev = a.str("dev");
    const bool on = a.boolean("on", true);
    auto mode = a.opt_str("mode");
    const bool force = a.boolean("force", false);
    if (mode && !parse_mode(*mode))
        throw Error("unknown mode \"" + *mode + "\": use native or generic");
    const auto links = dump_links();
    Link l = present_plain(links, dev, "diversion runs");
    Config next = cfg_;
    if (on) {
        DevConf &d = next.devices[dev];
        d.divert = true;
        d.mode = mode;
        commit(std::move(next), dev, force ? std::set<std::string>{dev} : std::set<std::string>{},
               false, w);
        return cmd_divert_show(Args(json{{"dev", dev}}))[0];
    }
    if (mode)
        throw Error("divert off takes no mode");
    std::vector<std::string> users;
    for (const auto &[name, p] : cfg_.ports) {
        auto pl = find_link(links, name);
        if (name == dev || (pl && pl->is_vlan() && pl->lower == l.ifindex))
            users.push_back("port " + name);
    }
    for (const auto &v : cfg_.vlans)
        if (v.dev == dev)
            users.push_back("vlan " + std::to_string(v.vid));
    if (cfg_.selectors.count(dev))
        users.push_back("selector");
    if (!users.empty()) {
        std::string list;
        for (const auto &u : users)
            list += (list.empty() ? "" : ", ") + u;
        throw Error(dev + " must divert for " + list + ": remove those first");
    }
    auto it = next.devices.find(dev);
    if (it == next.devices.end() || !it->second.divert)
        throw Error(dev + " does not divert");
    next.devices.erase(it);
    commit(std::move(next), "", {}, false, w);
    return json::object();
}

json Daemon::cmd_divert_show(const Args &a) {
    a.only({"dev"});
    auto dev = a.opt_str("dev");
    const auto links = dump_links();
    json out = json::array();
    for (auto &[ifindex, d] : dump_map<uint32_t, oob_dev>(dp_->maps().devs)) {
        auto l = find_link(links, ifindex);
        const std::string name = l ? l->name : "if" + std::to_string(ifindex);
        if (dev && name != *dev)
            continue;
        json e = {{"dev", name},
                  {"ifindex", ifindex},
                  {"slot", d.slot},
                  {"flags", dev_flags_text(d.flags)}};
        if (auto at = dp_->attachment(ifindex)) {
            e["mode"] = mode_name(at->mode);
            e["via"] = at->dispatcher ? "libxdp-dispatcher" : "bpf_link";
        }
        json why = json::array();
        auto dc = cfg_.devices.find(name);
        if (dc != cfg_.devices.end() && dc->second.divert)
            why.push_back("divert on");
        for (const auto &[pn, p] : cfg_.ports) {
            auto pl = find_link(links, pn);
            if (pl && (pl->ifindex == ifindex || (pl->is_vlan() && pl->lower == ifindex)))
                why.push_back("port " + pn);
        }
        for (const auto &v : cfg_.vlans)
            if (v.dev == name)
                why.push_back("vlan " + std::to_string(v.vid));
        if (cfg_.selectors.count(name))
            why.push_back("selector");
        e["why"] = why;
        out.push_back(e);
    }
    if (dev && out.empty())
        throw Error(*dev + " does not divert");
    return out;
}

// ---- VLAN sets -------------------------------------------------------------------------------

json Daemon::cmd_vlan_add(const Args &a, std::vector<std::string> &w) {
    a.only({"vid", "dev", "force"});
    const int64_t vid = a.integer("vid", INT32_MIN, INT32_MAX);
    check_vid(vid);
    const std::string dev = a.opt_str("dev").value_or("");
    const bool force = a.boolean("force", false);
    if (!dev.empty())
        present_plain(dump_links(), dev, "its VLAN set is that");
    for (const auto &v : cfg_.vlans)
        if (v.vid == vid && v.dev == dev)
            throw Error("VLAN " + std::to_string(vid) + " is already in " +
                        (dev.empty() ? "the global set" : "the set of " + dev));
    Config next = cfg_;
    const uint32_t id = alloc_port_id();
    next.vlans.push_back(VlanConf{static_cast<uint16_t>(vid), dev, id});
    commit(std::move(next), dev,
           force && !dev.empty() ? std::set<std::string>{dev} : std::set<std::string>{}, false, w);
    zero_port_stats(id);
    return {{"vid", vid}, {"dev", dev.empty() ? json() : json(dev)}, {"port_id", id}};
}

json Daemon::cmd_vlan_del(const Args &a, std::vector<std::string> &w) {
    a.only({"vid", "dev"});
    const int64_t vid = a.integer("vid", INT32_MIN, INT32_MAX);
    check_vid(vid);
    const std::string dev = a.opt_str("dev").value_or("");
    Config next = cfg_;
    auto it = std::find_if(next.vlans.begin(), next.vlans.end(),
                           [&](const VlanConf &v) { return v.vid == vid && v.dev == dev; });
    if (it == next.vlans.end())
        throw Error("VLAN " + std::to_string(vid) + " is not in " +
                    (dev.empty() ? "the global set" : "the set of " + dev));
    next.vlans.erase(it);
    commit(std::move(next), "", {}, false, w);
    return json::object();
}

json Daemon::cmd_vlan_show(const Args &a) {
    a.only({"vid", "dev"});
    auto vid = a.opt_integer("vid", INT32_MIN, INT32_MAX);
    if (vid)
        check_vid(*vid);
    auto dev = a.opt_str("dev");
    json out = json::array();
    for (const auto &v : cfg_.vlans) {
        if ((vid && v.vid != *vid) || (dev && v.dev != *dev))
            continue;
        json e = {{"vid", v.vid}, {"dev", v.dev.empty() ? json() : json(v.dev)}, {"port_id", v.id}};
        auto pr = v.dev.empty() ? problems_.end() : problems_.find(v.dev);
        e["state"] = pr != problems_.end() ? pr->second : "active";
        out.push_back(e);
    }
    return out;
}

// ---- rules ------------------------------------------------------------------------------------

json Daemon::cmd_rule_add(const Args &a, std::vector<std::string> &w) {
    a.only({"rule"});
    rules::Rule r = rules::from_json(a.raw("rule"));
    std::vector<rules::Rule> all = rules_of(cfg_.rules);
    for (const auto &o : all) {
        rules::Rule x = o;
        x.id = r.id;
        if (x == r)
            throw Error("duplicate rule: rule " + std::to_string(o.id) + " is the same (" +
                        rules::format(o) + ")");
    }
    if (r.id &&
        std::any_of(all.begin(), all.end(), [&](const rules::Rule &o) { return o.id == r.id; }))
        throw Error("rule id " + std::to_string(r.id) + " is taken");
    if (r.dev)
        present(dump_links(), *r.dev);
    if (!r.id)
        r.id = alloc_rule_id();
    all.push_back(r);
    validate_rules(all, dump_links());
    Config next = cfg_;
    next.rules = rules::to_json(all);
    commit(std::move(next), "", {}, true, w);
    zero_rule_stats(r.id);
    return {{"id", r.id}, {"rule", rules::format(r)}};
}

json Daemon::cmd_rule_del(const Args &a, std::vector<std::string> &w) {
    a.only({"id", "rule"});
    std::vector<rules::Rule> all = rules_of(cfg_.rules);
    std::vector<rules::Rule>::iterator it;
    if (a.has("id")) {
        const int64_t id = a.integer("id", 1, OOB_MAX_RULES - 1);
        it = std::find_if(all.begin(), all.end(), [&](const rules::Rule &r) { return r.id == id; });
        if (it == all.end())
            throw Error("no rule " + std::to_string(id));
    } else {
        rules::Rule want = rules::from_json(a.raw("rule"));
        it = std::find_if(all.begin(), all.end(), [&](const rules::Rule &r) {
            rules::Rule x = r;
            x.id = want.id;
            return x == want;
        });
        if (it == all.end())
            throw Error("no such rule: " + rules::format(want));
    }
    const uint32_t id = it->id;
    all.erase(it);
    Config next = cfg_;
    next.rules = rules::to_json(all);
    commit(std::move(next), "", {}, true, w);
    return {{"id", id}};
}

json Daemon::cmd_rule_show(const Args &a) {
    a.only({"id"});
    auto id = a.opt_integer("id", 1, OOB_MAX_RULES - 1);
    json out = json::array();
    for (const auto &r : rules_of(cfg_.rules)) {
        if (id && r.id != *id)
            continue;
        json e = {{"id", r.id}, {"rule", rules::format(r)}, {"spec", rules::to_json(r)}};
        e["state"] = "active";
        for (const auto &s : rule_status_)
            if (s["id"] == r.id)
                e["state"] = s["state"];
        oob_rule_stats st = dp_->tables().rule_stats(r.id);
        e["packets"] = st.packets;
        e["bytes"] = st.bytes;
        out.push_back(e);
    }
    if (id && out.empty())
        throw Error("no rule " + std::to_string(*id));
    return out;
}

json Daemon::cmd_rule_flush(const Args &a, std::vector<std::string> &w) {
    a.only({});
    const size_t n = cfg_.rules.size();
    Config next = cfg_;
    next.rules = json::array();
    commit(std::move(next), "", {}, true, w);
    return {{"removed", n}};
}

json Daemon::cmd_rule_replace(const Args &a, std::vector<std::string> &w) {
    a.only({"rules"});
    std::vector<rules::Rule> all = rules::list_from_json(a.raw("rules"));
    std::set<uint32_t> ids;
    for (const auto &r : all) {
        if (r.id && !ids.insert(r.id).second)
            throw Error("rule id " + std::to_string(r.id) + " appears twice");
    }
    for (size_t i = 0; i < all.size(); i++)
        for (size_t j = i + 1; j < all.size(); j++) {
            rules::Rule x = all[i];
            x.id = all[j].id;
            if (x == all[j])
                throw Error("duplicate rule: " + rules::format(all[j]));
        }
    const auto links = dump_links();
    for (const auto &r : all)
        if (r.dev)
            present(links, *r.dev);
    uint32_t next_id = 1;
    for (auto &r : all) {
        if (r.id)
            continue;
        while (ids.count(next_id))
            next_id++;
        if (next_id >= OOB_MAX_RULES)
            throw Error("too many rules");
        r.id = next_id;
        ids.insert(next_id);
    }
    validate_rules(all, dump_links());
    Config next = cfg_;
    next.rules = rules::to_json(all);
    commit(std::move(next), "", {}, true, w);
    for (const auto &r : all)
        zero_rule_stats(r.id);
    return {{"rules", all.size()}};
}

// ---- selectors, routes --------------------------------------------------------------------------

json Daemon::cmd_load(const Args &a, std::vector<std::string> &w) {
    a.only({"dev", "file", "section"});
    const std::string dev = a.str("dev");
    const std::string file = a.str("file");
    const std::string section = a.opt_str("section").value_or("");
    if (!selectors_)
        throw Error("custom selectors are not available: this oobbpfd was built without them");
    present_plain(dump_links(), dev, "selectors run");
    if (!fs::path(file).is_absolute())
        throw Error(file + ": give the object's absolute path (the daemon has its own cwd)");
    Config next = cfg_;
    const bool replacing = next.selectors.count(dev) > 0;
    next.selectors[dev] = SelectorConf{file, section};
    if (replacing) {
        // Same device, new object: load it now (atomic replacement), then record it.
        std::string details;
        json res;
        try {
            res = selectors_->load(dev, file, section, &details);
        } catch (const Error &) {
            details_ = details;
            throw;
        }
        cfg_.selectors[dev] = SelectorConf{file, section, res.value("prog_id", 0u)};
        save();
        return res;
    }
    commit(std::move(next), dev, {}, false, w);
    auto s = selectors_->show(dev);
    return s ? *s : json::object();
}

json Daemon::cmd_unload(const Args &a, std::vector<std::string> &w) {
    a.only({"dev"});
    const std::string dev = a.str("dev");
    if (!selectors_)
        throw Error("custom selectors are not available: this oobbpfd was built without them");
    std::optional<json> installed;
    try {
        installed = selectors_->show(dev);
    } catch (const Error &) {
        // A device that is gone has no selector to show.
    }
    if (!cfg_.selectors.count(dev) && !installed)
        throw Error(dev + " has no selector");
    if (installed)
        selectors_->unload(dev);
    Config next = cfg_;
    next.selectors.erase(dev);
    commit(std::move(next), "", {}, false, w);
    return json::object();
}

json Daemon::cmd_route_resolve(const Args &a) {
    a.only({"dst", "from", "mark", "tos", "oif"});
    if (auto oif = a.opt_str("oif"))
        present(dump_links(), *oif);
    if (!learner_) {
        std::string why = learner_why_.empty() ? "started with --learner none" : learner_why_[0];
        throw Error("route resolution needs a route learner, and this oobbpfd runs none (" + why +
                    ")");
    }
    ResolveRequest r;
    r.dst = a.str("dst");
    r.from = a.opt_str("from");
    if (auto m = a.opt_integer("mark", 0, UINT32_MAX))
        r.mark = static_cast<uint32_t>(*m);
    if (auto t = a.opt_integer("tos", 0, 255))
        r.tos = static_cast<uint8_t>(*t);
    r.oif = a.opt_str("oif");
    if (r.oif)
        present(dump_links(), *r.oif);
    return learner_->resolve(r);
}

// ---- AF_XDP sockets ----------------------------------------------------------------------------

json Daemon::cmd_xsk_register(const Args &a, const Peer &peer, std::vector<UniqueFd> &fds,
                              std::vector<std::string> &warnings) {
    a.only({"dev", "queue"});
    const std::string dev = a.str("dev");
    const int64_t queue = a.integer("queue", 0, OOB_MAX_QUEUES - 1);
    if (fds.empty())
        throw Error("xsk.register needs the AF_XDP socket, passed with SCM_RIGHTS");
    UniqueFd sock = std::move(fds.front());
    fds.erase(fds.begin());

    int domain = 0;
    socklen_t len = sizeof(domain);
    if (getsockopt(sock.get(), SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_XDP)
        throw Error("the descriptor passed is not an AF_XDP socket");

    const auto links = dump_links();
    Link l = present(links, dev);
    const uint32_t lower = l.is_vlan() ? l.lower : l.ifindex;
    oob_dev d{};
    if (bpf_map_lookup_elem(dp_->maps().devs, &lower, &d) != 0 || !(d.flags & OOB_DEV_DIVERT))
        throw Error(dev + " does not divert: make it an oob port first (oobbpf port add " + dev +
                    ")");

    // The socket must be bound where the frames of this slot arrive, or the kernel would drop
    // every frame redirected to it.
    struct stat st {};
    fstat(sock.get(), &st);
    const uint32_t inode = static_cast<uint32_t>(st.st_ino);
    std::optional<XskInfo> info;
    auto socks = xsk_sockets();
    if (!socks) {
        warnings.push_back(
            "cannot check where the socket is bound (no sock_diag for AF_XDP in "
            "this kernel): it must be bound to queue " +
            std::to_string(queue) + " of " + (l.is_vlan() ? find_link(links, lower)->name : dev));
    } else {
        for (const auto &x : *socks)
            if (x.inode == inode)
                info = x;
    }
    if (socks && (!info || !info->ifindex))
        throw Error("the AF_XDP socket is not bound: bind it to queue " + std::to_string(queue) +
                    " of " + (l.is_vlan() ? find_link(links, lower)->name : dev) + " first");
    if (info && (info->ifindex != lower || info->queue != queue)) {
        auto bl = find_link(links, info->ifindex);
        throw Error("the AF_XDP socket is bound to queue " + std::to_string(info->queue) + " of " +
                    (bl ? bl->name : "if" + std::to_string(info->ifindex)) + ", not queue " +
                    std::to_string(queue) + " of " +
                    (l.is_vlan() ? find_link(links, lower)->name : dev));
    }

    uint32_t idx = d.slot * OOB_MAX_QUEUES + static_cast<uint32_t>(queue);
    oob_xsk_reg old{};
    if (bpf_map_lookup_elem(dp_->maps().xsk_regs, &idx, &old) == 0) {
        reap_xsks();
        if (bpf_map_lookup_elem(dp_->maps().xsk_regs, &idx, &old) == 0 &&
            (!xsk_inodes_.count(idx) || xsk_inodes_[idx] != inode))
            throw Error("queue " + std::to_string(queue) + " of " + dev +
                        " already has an oob socket (pid " + std::to_string(old.pid) + ")");
    }
    int sfd = sock.get();
    if (bpf_map_update_elem(dp_->maps().xsks, &idx, &sfd, BPF_ANY) < 0)
        throw sys_error("insert the socket into the XSKMAP", errno);
    oob_xsk_reg reg{lower, static_cast<uint32_t>(queue), static_cast<uint32_t>(peer.pid), 0,
                    now_ns()};
    if (bpf_map_update_elem(dp_->maps().xsk_regs, &idx, &reg, BPF_ANY) < 0) {
        bpf_map_delete_elem(dp_->maps().xsks, &idx);
        throw sys_error("record the registration", errno);
    }
    xsk_inodes_[idx] = inode;
    // The XSKMAP holds its own reference: our copy of the descriptor can go.
    return {{"dev", dev}, {"queue", queue}, {"index", idx}, {"ifindex", lower}};
}

json Daemon::cmd_xsk_unregister(const Args &a) {
    a.only({"dev", "queue"});
    const std::string dev = a.str("dev");
    const int64_t queue = a.integer("queue", 0, OOB_MAX_QUEUES - 1);
    Link l = present(dump_links(), dev);
    const uint32_t lower = l.is_vlan() ? l.lower : l.ifindex;
    oob_dev d{};
    if (bpf_map_lookup_elem(dp_->maps().devs, &lower, &d) != 0)
        throw Error(dev + " does not divert");
    uint32_t idx = d.slot * OOB_MAX_QUEUES + static_cast<uint32_t>(queue);
    oob_xsk_reg old{};
    if (bpf_map_lookup_elem(dp_->maps().xsk_regs, &idx, &old) != 0)
        throw Error("queue " + std::to_string(queue) + " of " + dev + " has no oob socket");
    bpf_map_delete_elem(dp_->maps().xsks, &idx);
    bpf_map_delete_elem(dp_->maps().xsk_regs, &idx);
    xsk_inodes_.erase(idx);
    return json::object();
}

json Daemon::cmd_xsk_show(const Args &a) {
    a.only({});
    const auto links = dump_links();
    json out = json::array();
    for (auto &[idx, reg] : dump_map<uint32_t, oob_xsk_reg>(dp_->maps().xsk_regs)) {
        auto l = find_link(links, reg.ifindex);
        out.push_back({{"index", idx},
                       {"dev", l ? l->name : "if" + std::to_string(reg.ifindex)},
                       {"ifindex", reg.ifindex},
                       {"queue", reg.queue},
                       {"pid", reg.pid}});
    }
    return out;
}

// ---- taps -------------------------------------------------------------------------------------

void Daemon::open_tap_maps() {
    for (auto [name, fd] : {std::pair<const char *, UniqueFd *>{OOB_PIN_TAP_SESS, &tap_sess_},
                            {OOB_PIN_TAP_RINGS, &tap_rings_}}) {
        const std::string path = o_.paths.pin_root + "/" + name;
        fd->reset(bpf_obj_get(path.c_str()));
        if (!*fd) {
            tap_why_ = "no tap maps (" + path + ": " + std::strerror(errno) + ")";
            log("taps unavailable: " + tap_why_);
            return;
        }
    }
}

void Daemon::clear_taps() {
    if (!tap_why_.empty())
        return;
    for (uint32_t i = 0; i < OOB_MAX_TAPS; i++) {
        oob_tap_sess s{};
        bpf_map_update_elem(tap_sess_.get(), &i, &s, BPF_ANY);
        bpf_map_delete_elem(tap_rings_.get(), &i);
    }
    for (auto &[ifindex, d] : dump_map<uint32_t, oob_dev>(dp_->maps().devs))
        if (d.flags & OOB_DEV_TAP) {
            d.flags &= ~OOB_DEV_TAP;
            dp_->tables().put_dev(ifindex, d);
        }
}

bool Daemon::tapped(uint32_t ifindex) const {
    return std::any_of(taps_.begin(), taps_.end(),
                       [&](const auto &t) { return t.second.ifindex == ifindex; });
}

// OOB_DEV_TAP on while a session taps the device (a count of sessions: several taps of one
// device share the bit, the last one to end clears it).
void Daemon::set_tap_flag(uint32_t ifindex) {
    oob_dev d{};
    if (bpf_map_lookup_elem(dp_->maps().devs, &ifindex, &d) != 0)
        return;  // diverts no more: apply() sets the bit if it comes back
    const uint32_t want = tapped(ifindex) ? (d.flags | OOB_DEV_TAP) : (d.flags & ~OOB_DEV_TAP);
    if (want == d.flags)
        return;
    d.flags = want;
    dp_->tables().put_dev(ifindex, d);
}

void Daemon::end_taps(const Conn *c) {
    std::set<uint32_t> devs;
    for (auto it = taps_.begin(); it != taps_.end();) {
        if (it->second.conn != c) {
            ++it;
            continue;
        }
        // The session entry first: the classifier stops copying for it before its ring goes.
        uint32_t slot = it->first;
        oob_tap_sess s{};
        bpf_map_update_elem(tap_sess_.get(), &slot, &s, BPF_ANY);
        bpf_map_delete_elem(tap_rings_.get(), &slot);
        devs.insert(it->second.ifindex);
        if (o_.verbose)
            log("tap " + std::to_string(slot) + " on " + it->second.dev + " ended");
        it = taps_.erase(it);
    }
    for (uint32_t ifindex : devs)
        set_tap_flag(ifindex);
}

json Daemon::cmd_tap_start(const Args &a, const Peer &peer, std::vector<UniqueFd> &fds) {
    a.only({"dev", "verdict", "tx"});
    const std::string dev = a.str("dev");
    const std::string verdict = a.opt_str("verdict").value_or("all");
    const bool tx = a.boolean("tx", true);
    uint32_t mask = 0;
    if (verdict == "all")
        mask = (1U << OOB_VERDICT_MAX) - 1;
    else if (verdict == "divert")
        mask = 1U << OOB_DIVERT;
    else if (verdict == "drop")
        mask = 1U << OOB_DROP;
    else if (verdict == "pass")
        mask = 1U << OOB_PASS;
    else
        throw Error("verdict must be one of divert, drop, pass, all (got \"" + verdict + "\")");
    if (!tap_why_.empty())
        throw Error("taps are unavailable: " + tap_why_);
    if (!current_)
        throw Error("tap.start needs a connection to live on");
    if (fds.empty())
        throw Error("tap.start needs the session's ring buffer, passed with SCM_RIGHTS");
    UniqueFd ring = std::move(fds.front());
    fds.erase(fds.begin());

    const auto links = dump_links();
    Link l = present(links, dev);
    if (l.is_vlan()) {
        auto lower = find_link(links, l.lower);
        throw Error(dev + " is a VLAN device: its frames are judged on " +
                    (lower ? lower->name : "its lower device") + ", tap that");
    }
    oob_dev d{};
    if (bpf_map_lookup_elem(dp_->maps().devs, &l.ifindex, &d) != 0 || !(d.flags & OOB_DEV_DIVERT))
        throw Error(dev + " does not divert: nothing judges its frames (oobbpf port add " + dev +
                    " or oobbpf divert on " + dev + ")");

    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(ring.get(), &info, &len) != 0 || info.type != BPF_MAP_TYPE_RINGBUF ||
        info.max_entries != OOB_TAP_RING_SIZE)
        throw Error("the descriptor passed is not a BPF ring buffer of " +
                    std::to_string(OOB_TAP_RING_SIZE) + " bytes");

    uint32_t slot = 0;
    while (slot < OOB_MAX_TAPS && taps_.count(slot))
        slot++;
    if (slot == OOB_MAX_TAPS)
        throw Error("every tap slot is taken (" + std::to_string(OOB_MAX_TAPS) +
                    " taps run already)");
    // Ring, then session, then the device's bit: the classifier never copies into a slot
    // without its ring. The map holds its own reference to the ring.
    int rfd = ring.get();
    if (bpf_map_update_elem(tap_rings_.get(), &slot, &rfd, BPF_ANY) != 0)
        throw sys_error("insert the ring into " + o_.paths.pin_root + "/" + OOB_PIN_TAP_RINGS,
                        errno);
    oob_tap_sess s{l.ifindex, mask, tx ? OOB_TAP_KEEP_TX : 0u, 0, 0, 0};
    if (bpf_map_update_elem(tap_sess_.get(), &slot, &s, BPF_ANY) != 0) {
        int err = errno;
        bpf_map_delete_elem(tap_rings_.get(), &slot);
        throw sys_error("write the tap session", err);
    }
    taps_[slot] = TapSession{l.ifindex, dev, peer.pid, mask, s.flags, current_};
    set_tap_flag(l.ifindex);
    if (o_.verbose)
        log("tap " + std::to_string(slot) + " on " + dev + " for pid " + std::to_string(peer.pid));
    return {{"slot", slot}, {"dev", dev}, {"ifindex", l.ifindex}, {"verdict", verdict}, {"tx", tx}};
}

json Daemon::cmd_tap_show(const Args &a) {
    a.only({});
    json out = json::array();
    for (const auto &[slot, t] : taps_) {
        oob_tap_sess s{};
        bpf_map_lookup_elem(tap_sess_.get(), &slot, &s);
        out.push_back({{"slot", slot},
                       {"dev", t.dev},
                       {"ifindex", t.ifindex},
                       {"pid", t.pid},
                       {"copied", s.copied},
                       {"lost", s.lost}});
    }
    return out;
}

// ---- control socket and the loop ----------------------------------------------------------------

void Daemon::listen_socket() {
    const std::string &path = o_.paths.socket;
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof(sa.sun_path))
        throw Error("socket path too long: " + path);
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    // The lock is ours, so a socket file left here belongs to a daemon that is gone.
    unlink(path.c_str());
    listen_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!listen_)
        throw sys_error("socket", errno);
    // Created with no access for others, widened to the admitted group below: never a moment
    // in which anyone could connect.
    mode_t old = umask(0177);
    int rc = bind(listen_.get(), reinterpret_cast<sockaddr *>(&sa), sizeof(sa));
    umask(old);
    if (rc < 0)
        throw sys_error("bind " + path, errno);
    if (o_.group) {
        if (chown(path.c_str(), 0, *o_.group) < 0 || chmod(path.c_str(), 0660) < 0)
            throw sys_error("give " + path + " to the admitted group", errno);
    }
    if (listen(listen_.get(), 64) < 0)
        throw sys_error("listen " + path, errno);
    log("listening on " + path);
    notify_ready();
}

// systemd's readiness protocol (Type=notify in packaging/oobbpfd.service): one datagram
// "READY=1" to $NOTIFY_SOCKET once requests are answered, so units ordered after oobbpfd (and
// `systemctl start`) wait for a daemon that answers. Nothing without the variable.
void Daemon::notify_ready() {
    const char *path = std::getenv("NOTIFY_SOCKET");
    if (!path || (path[0] != '/' && path[0] != '@'))
        return;
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    const size_t n = std::strlen(path);
    if (n >= sizeof(a.sun_path))
        return;
    std::memcpy(a.sun_path, path, n);
    if (a.sun_path[0] == '@')
        a.sun_path[0] = '\0';  // abstract namespace
    UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd)
        return;
    static const char msg[] = "READY=1";
    if (sendto(fd.get(), msg, sizeof(msg) - 1, MSG_NOSIGNAL, reinterpret_cast<sockaddr *>(&a),
               static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + n)) < 0)
        log(std::string("cannot tell systemd it is ready: ") + std::strerror(errno));
}

bool Daemon::admitted(const Peer &p) const {
    if (p.uid == 0)
        return true;
    return o_.group && p.gid == *o_.group;
}

void Daemon::accept_conn() {
    UniqueFd fd(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd)
        return;
    auto c = std::make_unique<Conn>();
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return;
    c->peer = Peer{cred.pid, cred.uid, cred.gid};
    bool ok = admitted(c->peer);
    if (!ok && o_.group) {
        // Supplementary groups of the peer (SO_PEERGROUPS, Linux 4.13).
        std::vector<gid_t> groups(64);
        socklen_t glen = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
        if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERGROUPS, groups.data(), &glen) == 0) {
            groups.resize(glen / sizeof(gid_t));
            ok = std::find(groups.begin(), groups.end(), *o_.group) != groups.end();
        }
    }
    c->fd = std::move(fd);
    if (!ok || conns_.size() >= kMaxConns) {
        Response r;
        r.error = ok ? "oobbpfd is busy (too many clients)"
                     : "permission denied: oobbpfd admits root" +
                           std::string(o_.group ? " and group " + std::to_string(*o_.group) : "");
        c->out = format_response(r);
        c->closing = true;
    }
    conns_.push_back(std::move(c));
}

bool Daemon::read_conn(Conn &c) {
    char buf[65536];
    char ctl[CMSG_SPACE(sizeof(int) * 8)];
    for (;;) {
        iovec iov = {buf, sizeof(buf)};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = ctl;
        msg.msg_controllen = sizeof(ctl);
        ssize_t n = recvmsg(c.fd.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN;
        }
        for (cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
            if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
                size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                    int fd;
                    std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                    c.fds.emplace_back(fd);
                }
            }
        }
        if (n == 0)
            return false;
        // Only the new bytes can end a line: a long line arriving in pieces is scanned once,
        // not once per piece.
        size_t from = c.in.size();
        c.in.append(buf, static_cast<size_t>(n));
        for (;;) {
            auto nl = c.in.find('\n', from);
            if (nl == std::string::npos)
                break;
            from = 0;
            std::string line = c.in.substr(0, nl);
            c.in.erase(0, nl + 1);
            if (!line.empty() && line.back() == '\r')
                line.pop_back();
            if (line.find_first_not_of(" \t") == std::string::npos)
                continue;
            Response r;
            try {
                Request req = parse_request(line);
                current_ = &c;
                r = handle(req, c.peer, c.fds);
                current_ = nullptr;
            } catch (const std::exception &e) {
                r.ok = false;
                r.error = e.what();
            }
            c.fds.clear();  // whatever came with the request and was not used
            c.out += format_response(r);
        }
        if (c.in.size() > kMaxLine) {
            Response r;
            r.error = "request too long (more than " + std::to_string(kMaxLine) + " bytes)";
            c.out += format_response(r);
            c.in.clear();
            c.closing = true;
            return true;
        }
    }
}

bool Daemon::write_conn(Conn &c) {
    while (!c.out.empty()) {
        ssize_t n = send(c.fd.get(), c.out.data(), c.out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN;
        }
        c.out.erase(0, static_cast<size_t>(n));
    }
    return !c.closing;
}

void Daemon::on_links() {
    bool resync = false;
    auto events = monitor_->read(resync);
    if (events.empty() && !resync)
        return;
    if (o_.verbose)
        for (const auto &e : events)
            log(std::string(e.removed ? "device gone: " : "device event: ") + e.link.name);
    std::vector<std::string> warnings;
    auto before = problems_;
    try {
        apply({}, false, warnings);
    } catch (const Error &e) {
        log("applying after a device event: " + std::string(e.what()));
    }
    for (const auto &w : warnings)
        log("warning: " + w);
    for (const auto &[dev, p] : problems_)
        if (!before.count(dev))
            log(p);
    for (const auto &[dev, p] : before)
        if (!problems_.count(dev))
            log(dev + ": configured again");
}

void Daemon::run() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    signal(SIGPIPE, SIG_IGN);
    UniqueFd sig(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    UniqueFd timer(timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    itimerspec its{{1, 0}, {1, 0}};
    timerfd_settime(timer.get(), 0, &its, nullptr);

    for (;;) {
        std::vector<pollfd> p = {{listen_.get(), POLLIN, 0},
                                 {sig.get(), POLLIN, 0},
                                 {monitor_->fd(), POLLIN, 0},
                                 {timer.get(), POLLIN, 0}};
        std::vector<int> lfds = learner_ ? learner_->fds() : std::vector<int>{};
        for (int fd : lfds)
            p.push_back({fd, POLLIN, 0});
        const size_t first_conn = p.size();
        for (const auto &c : conns_)
            p.push_back(
                {c->fd.get(),
                 static_cast<short>((c->closing ? 0 : POLLIN) | (c->out.empty() ? 0 : POLLOUT)),
                 0});
        if (poll(p.data(), p.size(), -1) < 0) {
            if (errno == EINTR)
                continue;
            throw sys_error("poll", errno);
        }
        if (p[1].revents) {
            signalfd_siginfo si{};
            while (read(sig.get(), &si, sizeof(si)) == sizeof(si)) {
                if (si.ssi_signo == SIGHUP) {
                    log("SIGHUP: re-reading " + o_.paths.config_file());
                    try {
                        cfg_ = load_config(o_.paths.config_file());
                        std::vector<std::string> w;
                        apply({}, true, w);
                    } catch (const Error &e) {
                        log(e.what());
                    }
                } else {
                    log("exiting; attachments stay in place");
                    return;
                }
            }
        }
        if (p[2].revents)
            on_links();
        if (p[3].revents) {
            uint64_t ticks;
            while (read(timer.get(), &ticks, sizeof(ticks)) == sizeof(ticks)) {
            }
            reap_xsks();
            if (learner_) {
                try {
                    learner_->tick();
                } catch (const Error &e) {
                    log("learner: " + std::string(e.what()));
                }
            }
        }
        for (size_t i = 0; i < lfds.size(); i++)
            if (p[4 + i].revents) {
                try {
                    learner_->on_readable(lfds[i]);
                } catch (const Error &e) {
                    log("learner: " + std::string(e.what()));
                }
            }
        // Connections: indices in p match conns_ as it was before this round.
        std::vector<bool> keep(conns_.size(), true);
        for (size_t i = 0; i < conns_.size() && first_conn + i < p.size(); i++) {
            Conn &c = *conns_[i];
            short re = p[first_conn + i].revents;
            if (re & (POLLIN | POLLHUP | POLLERR))
                if (!c.closing && !read_conn(c))
                    keep[i] = false;
            if (keep[i] && !c.out.empty() && !write_conn(c))
                keep[i] = false;
            if (keep[i] && c.closing && c.out.empty()) {
                // Closing a Unix socket with unread input resets the peer, which could then miss
                // the answer already sent: read what it sent first.
                char sink[4096];
                while (recv(c.fd.get(), sink, sizeof(sink), MSG_DONTWAIT) > 0) {
                }
                keep[i] = false;
            }
            if (!keep[i] || ((re & (POLLHUP | POLLERR)) && c.out.empty() && !(re & POLLIN)))
                keep[i] = false;
        }
        std::vector<std::unique_ptr<Conn>> alive;
        for (size_t i = 0; i < conns_.size(); i++) {
            if (i >= keep.size() || keep[i])
                alive.push_back(std::move(conns_[i]));
            else
                end_taps(conns_[i].get());  // a tap ends with its client, also a killed one
        }
        conns_ = std::move(alive);
        if (p[0].revents)
            accept_conn();
    }
}

}  // namespace oobbpf::daemon
