// SPDX-License-Identifier: MIT
#include "datapath.h"

#include "config.h"
#include "error.h"
#include "netlink.h"
#include "oob_xdp.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

namespace fs = std::filesystem;

namespace oobbpf::daemon {

namespace {

constexpr long kBpfFsMagic = 0xcafe4a11;
constexpr const char *kProgName = "oob_xdp";
constexpr const char *kProgSection = "xdp.frags";

// The classifier's maps, pinned as <root>/<name without "oob_">: oob_devs -> devs, as the
// OOB_PIN_* names say. Taken from the object itself, so a map added to bpf_env.h is pinned too.
struct MapRef {
    std::string pin;
    bpf_map *map;
    int MapFds::*fd;  // nullptr for maps MapFds does not name
};

int MapFds::*member_of(const std::string &pin) {
    static const std::pair<const char *, int MapFds::*> known[] = {
        {OOB_PIN_CONFIG, &MapFds::config},
        {OOB_PIN_DEVS, &MapFds::devs},
        {OOB_PIN_PORTS, &MapFds::ports},
        {OOB_PIN_VLANS, &MapFds::vlans},
        {OOB_PIN_RULES, &MapFds::rules},
        {OOB_PIN_RULE_MASKS, &MapFds::rule_masks},
        {OOB_PIN_RULE_STATS, &MapFds::rule_stats},
        {OOB_PIN_PORT_STATS, &MapFds::port_stats},
        {OOB_PIN_LAST, &MapFds::last},
        {OOB_PIN_XSKS, &MapFds::xsks},
        {OOB_PIN_XSK_REGS, &MapFds::xsk_regs},
        {OOB_PIN_SELECTORS, &MapFds::selectors},
    };
    for (auto [name, member] : known)
        if (pin == name)
            return member;
    return nullptr;
}

std::vector<MapRef> maps_of(oob_xdp *s) {
    std::vector<MapRef> out;
    bpf_map *m;
    bpf_object__for_each_map(m, s->obj) {
        if (bpf_map__is_internal(m))
            continue;  // .rodata, .bss: private to the program
        std::string name = bpf_map__name(m);
        std::string pin = name.rfind("oob_", 0) == 0 ? name.substr(4) : name;
        out.push_back({pin, m, member_of(pin)});
    }
    return out;
}

// Every name this pin root may hold that belongs to oobbpf: the classifier's maps and the
// learned state (cleanup removes these and no more).
std::vector<std::string> owned_pins() {
    std::vector<std::string> names = {OOB_PIN_ROUTES, OOB_PIN_NEIGHS};
    if (oob_xdp *s = oob_xdp__open()) {
        for (const auto &m : maps_of(s))
            names.push_back(m.pin);
        oob_xdp__destroy(s);
    }
    return names;
}

bool exists(const std::string &p) {
    struct stat st {};
    return lstat(p.c_str(), &st) == 0;
}

bool is_bpffs(const std::string &p) {
    struct statfs st {};
    return statfs(p.c_str(), &st) == 0 && st.f_type == kBpfFsMagic;
}

// The pin root must live on a bpffs. The usual place, /sys/fs/bpf, is mounted when missing
// (minimal systems and fresh mount namespaces come without it).
void ensure_bpffs(const std::string &root) {
    fs::path p(root);
    fs::path probe = p;
    while (!probe.empty() && !exists(probe.string()))
        probe = probe.parent_path();
    if (probe.empty())
        probe = "/";
    if (is_bpffs(probe.string()))
        return;
    const std::string base = "/sys/fs/bpf";
    if (root.rfind(base + "/", 0) == 0 && !is_bpffs(base)) {
        mkdir(base.c_str(), 0700);
        if (mount("bpf", base.c_str(), "bpf", 0, "mode=0700") != 0)
            throw sys_error("mount bpffs on " + base, errno);
        return;
    }
    throw Error("pin root " + root + " is not on a bpf filesystem (mount -t bpf bpf DIR)");
}

void mkdir_p(const std::string &dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec)
        throw Error("create " + dir + ": " + ec.message());
}

bpf_prog_info prog_info(int fd, std::vector<uint32_t> *map_ids = nullptr) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
        throw sys_error("program info", errno);
    if (map_ids && info.nr_map_ids) {
        map_ids->resize(info.nr_map_ids);
        const uint32_t n = info.nr_map_ids;
        info = bpf_prog_info{};
        info.nr_map_ids = n;
        info.map_ids = reinterpret_cast<uint64_t>(map_ids->data());
        len = sizeof(info);
        if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
            throw sys_error("program info", errno);
        map_ids->resize(std::min(n, info.nr_map_ids));
    }
    return info;
}

uint32_t map_id(int fd) {
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
        return 0;
    return info.id;
}

std::string ifname_of(uint32_t ifindex) {
    char buf[IF_NAMESIZE] = {};
    if (!if_indextoname(ifindex, buf))
        return "if" + std::to_string(ifindex);
    return buf;
}

uint32_t xdp_flags(XdpMode m) {
    return m == XdpMode::Native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
}

}  // namespace

const char *mode_name(XdpMode m) {
    return m == XdpMode::Native ? "native" : "generic";
}

std::optional<XdpMode> parse_mode(const std::string &s) {
    if (s == "native")
        return XdpMode::Native;
    if (s == "generic")
        return XdpMode::Generic;
    return std::nullopt;
}

nlohmann::json to_json(const Attachment &a) {
    return {{"ifindex", a.ifindex},      {"dev", a.ifname},
            {"mode", mode_name(a.mode)}, {"via", a.dispatcher ? "libxdp-dispatcher" : "bpf_link"},
            {"adopted", a.adopted},      {"prog_id", a.prog_id},
            {"link_id", a.link_id}};
}

XdpState query_xdp(uint32_t ifindex) {
    XdpState s;
    LIBBPF_OPTS(bpf_xdp_query_opts, q);
    if (bpf_xdp_query(static_cast<int>(ifindex), 0, &q) < 0)
        return s;
    switch (q.attach_mode) {
        case XDP_ATTACHED_DRV:
            s.prog_id = q.prog_id;
            s.mode = XdpMode::Native;
            break;
        case XDP_ATTACHED_SKB:
            s.prog_id = q.prog_id;
            s.mode = XdpMode::Generic;
            break;
        case XDP_ATTACHED_MULTI:
            s.multi = true;
            s.prog_id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id;
            s.mode = q.drv_prog_id ? XdpMode::Native : XdpMode::Generic;
            break;
        default:
            break;
    }
    if (s.prog_id) {
        UniqueFd fd(bpf_prog_get_fd_by_id(s.prog_id));
        if (fd) {
            try {
                s.prog_name = prog_info(fd.get()).name;
            } catch (const Error &) {
            }
        }
    }
    return s;
}

// ---- PinnedMaps -----------------------------------------------------------------------------

PinnedMaps::PinnedMaps(const std::string &root) {
    const std::array<std::pair<const char *, int MapFds::*>, 12> pins = {{
        {OOB_PIN_CONFIG, &MapFds::config},
        {OOB_PIN_DEVS, &MapFds::devs},
        {OOB_PIN_PORTS, &MapFds::ports},
        {OOB_PIN_VLANS, &MapFds::vlans},
        {OOB_PIN_RULES, &MapFds::rules},
        {OOB_PIN_RULE_MASKS, &MapFds::rule_masks},
        {OOB_PIN_RULE_STATS, &MapFds::rule_stats},
        {OOB_PIN_PORT_STATS, &MapFds::port_stats},
        {OOB_PIN_LAST, &MapFds::last},
        {OOB_PIN_XSKS, &MapFds::xsks},
        {OOB_PIN_XSK_REGS, &MapFds::xsk_regs},
        {OOB_PIN_SELECTORS, &MapFds::selectors},
    }};
    for (auto [name, member] : pins) {
        const std::string path = root + "/" + name;
        // XSKMAP and PROG_ARRAY cannot be opened read-only; nothing else needs writing here.
        int fd = bpf_obj_get(path.c_str());
        if (fd < 0) {
            if (errno == ENOENT)
                throw Error("no oobbpf data path at " + root + " (" + path + " missing)", ENOENT);
            throw sys_error("open " + path, errno);
        }
        owned_.emplace_back(fd);
        fds_.*member = fd;
    }
}

UniqueFd PinnedMaps::open_optional(const std::string &root, const char *name) {
    const std::string path = root + "/" + name;
    return UniqueFd(bpf_obj_get(path.c_str()));
}

// ---- Datapath -------------------------------------------------------------------------------

Datapath::Datapath(const Options &o) : o_(o) {
    ensure_bpffs(o_.paths.pin_root);
    mkdir_p(o_.paths.pin_root);
    mkdir_p(o_.paths.links_dir());
    mkdir_p(o_.paths.progs_dir());
    if (o_.use_dispatcher) {
        open_and_load(false);
        init_config();
        adopt_dispatchers();
        return;
    }
    // The classifier pinned by a previous run of this very binary runs on: no second load
    // (the verifier is most of a restart's time) when the record says it is ours.
    UniqueFd known = recorded_program();
    open_and_load(!known);
    init_config();
    if (known && uses_our_maps(known.get())) {
        prog_id_ = prog_info(known.get()).id;
        prog_ = std::move(known);
        notes_.push_back("adopted the running classifier (prog id " + std::to_string(prog_id_) +
                         "), not reloaded");
    } else {
        if (known) {  // our program over other maps: load one after all
            oob_xdp__destroy(skel_);
            skel_ = nullptr;
            open_and_load(true);
        }
        adopt_program();
    }
    record_program();
    adopt_links();
}

namespace {

// FNV-1a over the embedded object: tells this binary's classifier from another build's.
std::string embedded_hash() {
    size_t n = 0;
    auto *p = static_cast<const unsigned char *>(oob_xdp__elf_bytes(&n));
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    char buf[17];
    snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

}  // namespace

// The record lives beside the socket, in /run: it is as volatile as the pins it describes.
std::string Datapath::record_path(const Paths &p) {
    return p.socket + ".prog";
}

UniqueFd Datapath::recorded_program() const {
    nlohmann::json rec;
    try {
        std::ifstream in(record_path(o_.paths));
        if (!in)
            return UniqueFd();
        rec = nlohmann::json::parse(in);
    } catch (const std::exception &) {
        return UniqueFd();
    }
    if (rec.value("elf", std::string()) != embedded_hash() ||
        rec.value("pin_root", std::string()) != o_.paths.pin_root)
        return UniqueFd();
    const std::string pin = o_.paths.progs_dir() + "/" + kProgName;
    UniqueFd fd(bpf_obj_get(pin.c_str()));
    if (!fd)
        return UniqueFd();
    try {
        if (prog_info(fd.get()).id != rec.value("prog_id", 0u))
            return UniqueFd();
    } catch (const Error &) {
        return UniqueFd();
    }
    return fd;
}

bool Datapath::uses_our_maps(int prog_fd) const {
    std::vector<uint32_t> ids;
    prog_info(prog_fd, &ids);
    std::set<uint32_t> ours;
    for (const auto &m : maps_of(skel_))
        ours.insert(map_id(bpf_map__fd(m.map)));
    return !ids.empty() &&
           std::all_of(ids.begin(), ids.end(), [&](uint32_t id) { return ours.count(id) > 0; });
}

void Datapath::record_program() {
    try {
        write_file_atomic(record_path(o_.paths), nlohmann::json{{"elf", embedded_hash()},
                                                                {"prog_id", prog_id_},
                                                                {"pin_root", o_.paths.pin_root}}
                                                         .dump() +
                                                     "\n");
    } catch (const Error &e) {
        notes_.push_back(std::string("no record of the classifier (next start reloads it): ") +
                         e.what());
    }
}

Datapath::~Datapath() {
    // Links stay pinned (the point of pinning); closing our fds leaves them attached.
    links_.clear();
    prog_.reset();
    if (skel_)
        oob_xdp__destroy(skel_);
}

void Datapath::open_and_load(bool load_program) {
    skel_ = oob_xdp__open();
    if (!skel_)
        throw sys_error("open the oob_xdp skeleton", errno);
    for (const auto &m : maps_of(skel_)) {
        const std::string path = o_.paths.pin_root + "/" + m.pin;
        if (int err = bpf_map__set_pin_path(m.map, path.c_str()); err < 0)
            throw sys_error("pin path " + path, err);
    }
    reuse_pinned_maps();
    // With the dispatcher, libxdp loads the program itself (it must retype it as an extension
    // before loading); this object then only creates and pins the shared maps.
    if (!load_program)
        bpf_program__set_autoload(skel_->progs.oob_xdp, false);
    if (int err = oob_xdp__load(skel_); err < 0)
        throw sys_error("load the oob_xdp classifier (run with -v for the verifier log)", err);
    for (const auto &m : maps_of(skel_))
        if (m.fd)
            fds_.*m.fd = bpf_map__fd(m.map);
    tables_ = BpfTables(fds_);
}

// libbpf would reuse compatible pins by itself; doing it here first gives a clear error for an
// incompatible pin (another ABI version) instead of a bare EINVAL, and never replaces it.
void Datapath::reuse_pinned_maps() {
    int reused = 0;
    for (const auto &m : maps_of(skel_)) {
        const std::string path = o_.paths.pin_root + "/" + m.pin;
        if (!exists(path))
            continue;
        UniqueFd fd(bpf_obj_get(path.c_str()));
        if (!fd)
            throw sys_error("open pinned map " + path, errno);
        bpf_map_info info{};
        uint32_t len = sizeof(info);
        if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) < 0)
            throw sys_error("map info of " + path, errno);
        if (info.type != bpf_map__type(m.map) || info.key_size != bpf_map__key_size(m.map) ||
            info.value_size != bpf_map__value_size(m.map) ||
            info.max_entries != bpf_map__max_entries(m.map) ||
            info.map_flags != bpf_map__map_flags(m.map))
            throw Error("pinned map " + path +
                        " does not match this oobbpfd (another ABI version?); "
                        "run `oobbpfd --cleanup` with the matching pin root first");
        if (int err = bpf_map__reuse_fd(m.map, fd.get()); err < 0)
            throw sys_error("reuse pinned map " + path, err);
        reused++;
    }
    if (reused)
        notes_.push_back("reused " + std::to_string(reused) + " pinned maps under " +
                         o_.paths.pin_root);
}

void Datapath::init_config() {
    oob_config c = tables_.config();
    if (c.magic == OOB_CONFIG_MAGIC && c.version == OOB_ABI_VERSION)
        return;  // adopted: keep the active rule generation
    if (c.magic == OOB_CONFIG_MAGIC)
        throw Error("pinned oob_config has ABI version " + std::to_string(c.version) +
                    ", this oobbpfd " + std::to_string(OOB_ABI_VERSION) +
                    "; run `oobbpfd --cleanup` first");
    c = oob_config{};
    c.magic = OOB_CONFIG_MAGIC;
    c.version = OOB_ABI_VERSION;
    tables_.set_config(c);
}

// The program pinned by a previous run keeps running when it is the same program over the same
// maps (same tag: the tag does not depend on map fds). A different one (an upgraded oobbpfd) is
// replaced in every link atomically by adopt_links(), with no moment without a classifier.
void Datapath::adopt_program() {
    const std::string pin = o_.paths.progs_dir() + "/" + kProgName;
    const int fresh = bpf_program__fd(skel_->progs.oob_xdp);
    const bpf_prog_info fresh_info = prog_info(fresh);
    if (exists(pin)) {
        UniqueFd old(bpf_obj_get(pin.c_str()));
        if (old) {
            std::vector<uint32_t> ids;
            const bpf_prog_info old_info = prog_info(old.get(), &ids);
            std::set<uint32_t> ours;
            for (const auto &m : maps_of(skel_))
                ours.insert(map_id(bpf_map__fd(m.map)));
            bool same_maps = std::all_of(ids.begin(), ids.end(),
                                         [&](uint32_t id) { return ours.count(id) > 0; });
            if (same_maps && std::memcmp(old_info.tag, fresh_info.tag, sizeof(old_info.tag)) == 0) {
                prog_ = std::move(old);
                prog_id_ = old_info.id;
                notes_.push_back("adopted the running classifier (prog id " +
                                 std::to_string(prog_id_) + ")");
                return;
            }
            notes_.push_back("pinned classifier (prog id " + std::to_string(old_info.id) +
                             ") differs from this oobbpfd's: replacing it");
            upgraded_ = true;
        }
        unlink(pin.c_str());
    }
    prog_.reset(dup(fresh));
    if (!prog_)
        throw sys_error("dup program fd", errno);
    prog_id_ = fresh_info.id;
    if (bpf_obj_pin(prog_.get(), pin.c_str()) < 0)
        throw sys_error("pin " + pin, errno);
}

void Datapath::adopt_links() {
    std::error_code ec;
    for (const auto &e : fs::directory_iterator(o_.paths.links_dir(), ec)) {
        const std::string path = e.path().string();
        UniqueFd fd(bpf_obj_get(path.c_str()));
        bpf_link_info info{};
        uint32_t len = sizeof(info);
        if (!fd || bpf_obj_get_info_by_fd(fd.get(), &info, &len) < 0 ||
            info.type != BPF_LINK_TYPE_XDP) {
            notes_.push_back("ignored " + path + " (not an XDP link)");
            continue;
        }
        const uint32_t ifindex = info.xdp.ifindex;
        if (ifindex == 0) {
            // The device went away while nobody watched: the link is defunct.
            unlink(path.c_str());
            notes_.push_back("removed defunct link " + path);
            continue;
        }
        if (info.prog_id != prog_id_) {
            if (bpf_link_update(fd.get(), prog_.get(), nullptr) < 0)
                throw sys_error("replace the classifier in " + path, errno);
            notes_.push_back("replaced the classifier on " + ifname_of(ifindex) + " (prog id " +
                             std::to_string(info.prog_id) + " -> " + std::to_string(prog_id_) +
                             ")");
        }
        Attachment a;
        a.ifindex = ifindex;
        a.ifname = ifname_of(ifindex);
        XdpState st = query_xdp(ifindex);
        a.mode = st.mode.value_or(XdpMode::Native);
        a.adopted = true;
        a.prog_id = prog_id_;
        a.link_id = info.id;
        attached_[ifindex] = a;
        links_[ifindex] = std::move(fd);
        link_paths_[ifindex] = path;
        notes_.push_back("adopted " + a.ifname + " (" + mode_name(a.mode) + ", link id " +
                         std::to_string(a.link_id) + ")");
    }
}

void Datapath::adopt_dispatchers() {
    std::set<uint32_t> ours;
    for (const auto &m : maps_of(skel_))
        ours.insert(map_id(bpf_map__fd(m.map)));
    for (const Link &l : dump_links()) {
        xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(static_cast<int>(l.ifindex));
        if (libxdp_get_error(mp))
            continue;
        if (!xdp_multiprog__is_legacy(mp)) {
            for (xdp_program *p = xdp_multiprog__next_prog(nullptr, mp); p;
                 p = xdp_multiprog__next_prog(p, mp)) {
                if (std::strcmp(xdp_program__name(p), kProgName) != 0)
                    continue;
                std::vector<uint32_t> ids;
                prog_info(xdp_program__fd(p), &ids);
                if (ids.empty() || !ours.count(ids.front()))
                    continue;  // another pin root's classifier
                Attachment a;
                a.ifindex = l.ifindex;
                a.ifname = l.name;
                a.mode = xdp_multiprog__attach_mode(mp) == XDP_MODE_SKB ? XdpMode::Generic
                                                                        : XdpMode::Native;
                a.dispatcher = true;
                a.adopted = true;
                a.prog_id = xdp_program__id(p);
                attached_[l.ifindex] = a;
                notes_.push_back("adopted " + a.ifname + " (libxdp dispatcher, " +
                                 mode_name(a.mode) + ")");
            }
        }
        xdp_multiprog__close(mp);
    }
}

std::optional<Attachment> Datapath::attachment(uint32_t ifindex) const {
    auto it = attached_.find(ifindex);
    if (it == attached_.end())
        return std::nullopt;
    return it->second;
}

std::string Datapath::link_pin(const std::string &ifname) const {
    std::string p = o_.paths.links_dir() + "/" + ifname;
    if (!exists(p))
        return p;
    for (int i = 1;; i++) {
        std::string q = p + "." + std::to_string(i);
        if (!exists(q))
            return q;
    }
}

Attachment Datapath::attach(uint32_t ifindex, const std::string &ifname,
                            std::optional<XdpMode> mode, bool force,
                            std::vector<std::string> &warnings) {
    if (auto cur = attachment(ifindex)) {
        if (!mode || cur->mode == *mode)
            return *cur;
        detach(ifindex);  // a mode change: there is no atomic way between modes
        warnings.push_back(ifname + ": re-attached in " + mode_name(*mode) +
                           " mode (frames in between went in-band)");
    }

    XdpState st = query_xdp(ifindex);
    bool foreign = st.prog_id != 0;
    if (foreign && o_.use_dispatcher) {
        xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(static_cast<int>(ifindex));
        if (!libxdp_get_error(mp)) {
            foreign = xdp_multiprog__is_legacy(mp);  // a dispatcher takes us beside the others
            xdp_multiprog__close(mp);
        }
    }
    if (foreign) {
        const std::string what = "XDP program '" + st.prog_name + "' (id " +
                                 std::to_string(st.prog_id) + ", " +
                                 mode_name(st.mode.value_or(XdpMode::Native)) + ")";
        if (!force)
            throw Error(ifname + " already runs " + what +
                        "; oobbpf does not replace it without --force");
        const uint32_t flags = xdp_flags(st.mode.value_or(XdpMode::Native));
        if (bpf_xdp_detach(static_cast<int>(ifindex), flags, nullptr) < 0)
            throw sys_error(
                ifname + ": cannot remove " + what + " (held by a bpf_link of its owner?)", errno);
        warnings.push_back(ifname + ": replaced " + what);
    }

    auto try_attach = [&](XdpMode m) {
        return o_.use_dispatcher ? attach_dispatcher(ifindex, ifname, m)
                                 : attach_link(ifindex, ifname, m);
    };
    Attachment a;
    if (mode) {
        a = try_attach(*mode);
    } else {
        try {
            a = try_attach(XdpMode::Native);
        } catch (const Error &e) {
            a = try_attach(XdpMode::Generic);
            warnings.push_back(ifname + ": native XDP unavailable (" +
                               (e.err() ? std::strerror(e.err()) : e.what()) +
                               "); using generic mode");
        }
    }
    attached_[ifindex] = a;
    return a;
}

Attachment Datapath::attach_link(uint32_t ifindex, const std::string &ifname, XdpMode mode) {
    LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = xdp_flags(mode));
    UniqueFd link(bpf_link_create(prog_.get(), static_cast<int>(ifindex), BPF_XDP, &opts));
    if (!link)
        throw sys_error(std::string(mode_name(mode)) + " XDP on " + ifname, errno);
    const std::string pin = link_pin(ifname);
    if (bpf_obj_pin(link.get(), pin.c_str()) < 0)
        throw sys_error("pin " + pin, errno);  // closing the link detaches it again
    bpf_link_info info{};
    uint32_t len = sizeof(info);
    bpf_obj_get_info_by_fd(link.get(), &info, &len);
    Attachment a;
    a.ifindex = ifindex;
    a.ifname = ifname;
    a.mode = mode;
    a.prog_id = prog_id_;
    a.link_id = info.id;
    links_[ifindex] = std::move(link);
    link_paths_[ifindex] = pin;
    return a;
}

Attachment Datapath::attach_dispatcher(uint32_t ifindex, const std::string &ifname, XdpMode mode) {
    // A fresh, unloaded object per device: libxdp retypes its program as an extension of the
    // dispatcher before loading it. Its maps are the pinned ones (same pin paths: reused).
    std::unique_ptr<oob_xdp, decltype(&oob_xdp__destroy)> s(oob_xdp__open(), &oob_xdp__destroy);
    if (!s)
        throw sys_error("open the oob_xdp skeleton", errno);
    for (const auto &m : maps_of(s.get())) {
        const std::string path = o_.paths.pin_root + "/" + m.pin;
        bpf_map__set_pin_path(m.map, path.c_str());
    }
    xdp_program *p = xdp_program__from_bpf_obj(s->obj, kProgSection);
    if (long err = libxdp_get_error(p))
        throw sys_error("libxdp program from oob_xdp", static_cast<int>(err));
    int err = xdp_program__attach(p, static_cast<int>(ifindex),
                                  mode == XdpMode::Native ? XDP_MODE_NATIVE : XDP_MODE_SKB, 0);
    Attachment a;
    a.ifindex = ifindex;
    a.ifname = ifname;
    a.mode = mode;
    a.dispatcher = true;
    a.prog_id = err ? 0 : xdp_program__id(p);
    // libxdp pinned the component and its link under /sys/fs/bpf/xdp/: ours can go.
    xdp_program__close(p);
    if (err)
        throw sys_error(std::string(mode_name(mode)) + " XDP on " + ifname + " (libxdp)", err);
    return a;
}

void Datapath::detach(uint32_t ifindex) {
    auto it = attached_.find(ifindex);
    if (it == attached_.end())
        return;
    const Attachment a = it->second;
    if (a.dispatcher) {
        xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(static_cast<int>(ifindex));
        if (!libxdp_get_error(mp)) {
            for (xdp_program *p = xdp_multiprog__next_prog(nullptr, mp); p;
                 p = xdp_multiprog__next_prog(p, mp)) {
                if (xdp_program__id(p) == a.prog_id) {
                    int err = xdp_program__detach(
                        p, static_cast<int>(ifindex),
                        a.mode == XdpMode::Native ? XDP_MODE_NATIVE : XDP_MODE_SKB, 0);
                    if (err) {
                        xdp_multiprog__close(mp);
                        throw sys_error("detach from " + a.ifname + " (libxdp)", err);
                    }
                    break;
                }
            }
            xdp_multiprog__close(mp);
        }
    } else {
        auto l = links_.find(ifindex);
        if (l != links_.end()) {
            // Detach first: an fd elsewhere (bpftool, a crashed client) must not keep it running.
            if (bpf_link_detach(l->second.get()) < 0 && errno != EINVAL && errno != ENOLINK)
                throw sys_error("detach from " + a.ifname, errno);
            links_.erase(l);
        }
        auto p = link_paths_.find(ifindex);
        if (p != link_paths_.end()) {
            unlink(p->second.c_str());
            link_paths_.erase(p);
        }
    }
    attached_.erase(ifindex);
}

void Datapath::forget(uint32_t ifindex) {
    links_.erase(ifindex);
    auto p = link_paths_.find(ifindex);
    if (p != link_paths_.end()) {
        unlink(p->second.c_str());
        link_paths_.erase(p);
    }
    attached_.erase(ifindex);
}

std::vector<std::string> Datapath::cleanup(const Paths &paths) {
    std::vector<std::string> done;
    const std::string &root = paths.pin_root;
    std::error_code ec;

    // Our maps' ids: how our classifier is told apart in a libxdp dispatcher.
    std::set<uint32_t> ours;
    const std::vector<std::string> pins = owned_pins();
    for (const auto &name : pins) {
        UniqueFd fd(bpf_obj_get((root + "/" + name).c_str()));
        if (fd)
            ours.insert(map_id(fd.get()));
    }

    if (fs::is_directory(paths.links_dir(), ec)) {
        for (const auto &e : fs::directory_iterator(paths.links_dir(), ec)) {
            const std::string path = e.path().string();
            UniqueFd fd(bpf_obj_get(path.c_str()));
            bpf_link_info info{};
            uint32_t len = sizeof(info);
            if (fd && bpf_obj_get_info_by_fd(fd.get(), &info, &len) == 0 &&
                info.type == BPF_LINK_TYPE_XDP) {
                bpf_link_detach(fd.get());
                done.push_back("detached from " + (info.xdp.ifindex
                                                       ? ifname_of(info.xdp.ifindex)
                                                       : e.path().filename().string()));
                unlink(path.c_str());
            }
        }
        rmdir(paths.links_dir().c_str());
    }

    if (!ours.empty()) {
        for (const Link &l : dump_links()) {
            xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(static_cast<int>(l.ifindex));
            if (libxdp_get_error(mp))
                continue;
            if (!xdp_multiprog__is_legacy(mp)) {
                for (xdp_program *p = xdp_multiprog__next_prog(nullptr, mp); p;
                     p = xdp_multiprog__next_prog(p, mp)) {
                    if (std::strcmp(xdp_program__name(p), kProgName) != 0)
                        continue;
                    std::vector<uint32_t> ids;
                    prog_info(xdp_program__fd(p), &ids);
                    if (!ids.empty() && ours.count(ids.front()) &&
                        xdp_program__detach(p, static_cast<int>(l.ifindex),
                                            xdp_multiprog__attach_mode(mp), 0) == 0)
                        done.push_back("detached from " + l.name + " (libxdp dispatcher)");
                }
            }
            xdp_multiprog__close(mp);
        }
    }

    unlink(record_path(paths).c_str());
    const std::string prog_pin = paths.progs_dir() + "/" + kProgName;
    if (unlink(prog_pin.c_str()) == 0)
        done.push_back("removed " + prog_pin);
    rmdir(paths.progs_dir().c_str());
    int maps = 0;
    for (const auto &name : pins)
        maps += unlink((root + "/" + name).c_str()) == 0;
    if (maps)
        done.push_back("removed " + std::to_string(maps) + " pinned maps under " + root);
    if (rmdir(root.c_str()) == 0)
        done.push_back("removed " + root);
    else if (errno == ENOTEMPTY)
        done.push_back("left " + root + ": it holds files that are not oobbpf's");
    return done;
}

}  // namespace oobbpf::daemon
