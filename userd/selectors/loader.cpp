// SPDX-License-Identifier: MIT
#include "bpf_tables.h"
#include "child.h"
#include "selectors.h"

#include <bpf/bpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <set>

namespace oobbpf::selectors {

namespace {

using detail::ChildRequest;
using detail::ChildResult;

[[noreturn]] void fail(Failure f, const std::string &msg, int err = 0) {
    throw SelectorError(f, msg, err);
}

// <pin root>/selector/<dev>/{prog,maps/<name>,pending/}; see pin_name() for <dev>.
std::string dev_dir(const std::string &root, const std::string &dev) {
    return pin_dir(root) + "/" + pin_name(dev);
}
std::string prog_pin(const std::string &root, const std::string &dev) {
    return dev_dir(root, dev) + "/prog";
}
std::string maps_pin(const std::string &root, const std::string &dev) {
    return dev_dir(root, dev) + "/maps";
}
std::string pending_dir(const std::string &root, const std::string &dev) {
    return dev_dir(root, dev) + "/pending";
}

void make_dir(const std::string &dir) {
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        fail(Failure::Kernel, "cannot create " + dir + ": " + std::strerror(errno), errno);
}

// The selector directory, created if needed, locked for the duration of one operation.
class PinDirLock {
  public:
    explicit PinDirLock(const std::string &root) {
        struct stat st;
        if (stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
            fail(Failure::NoPinRoot,
                 "no pin root " + root + ": is the classifier loaded with this pin root?", ENOENT);
        std::string dir = pin_dir(root);
        make_dir(dir);
        fd_.reset(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fd_ || flock(fd_.get(), LOCK_EX) != 0)
            fail(Failure::Kernel, "cannot lock " + dir + ": " + std::strerror(errno), errno);
    }

  private:
    UniqueFd fd_;  // closing it drops the lock
};

UniqueFd open_pinned(const std::string &root, const char *pin) {
    std::string path = root + "/" + pin;
    UniqueFd fd(bpf_obj_get(path.c_str()));
    if (!fd)
        fail(Failure::NoPinRoot,
             "no classifier map " + path + " (" + std::strerror(errno) +
                 "): is the classifier loaded with this pin root?",
             errno);
    return fd;
}

uint32_t ifindex_of(const std::string &dev) {
    if (dev.empty() || dev.size() >= IF_NAMESIZE || dev.find('/') != std::string::npos)
        fail(Failure::NoDevice, "no device '" + dev + "'", ENODEV);
    uint32_t ifindex = if_nametoindex(dev.c_str());
    if (!ifindex)
        fail(Failure::NoDevice, "no device " + dev + " in this network namespace", ENODEV);
    return ifindex;
}

bool get_dev(int devs_fd, uint32_t ifindex, oob_dev &d) {
    return bpf_map_lookup_elem(devs_fd, &ifindex, &d) == 0;
}

// The program id a prog array slot holds (the kernel answers lookups with ids), 0 if empty.
uint32_t slot_prog_id(int sel_fd, uint32_t slot) {
    uint32_t id = 0;
    if (bpf_map_lookup_elem(sel_fd, &slot, &id) != 0)
        return 0;
    return id;
}

struct ProgInfo {
    uint32_t id = 0;
    std::string name;
};

ProgInfo prog_info(int fd) {
    bpf_prog_info info{};
    uint32_t len = sizeof(info);
    ProgInfo p;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
        p.id = info.id;
        p.name = info.name;
    }
    return p;
}

std::vector<std::string> dir_entries(const std::string &dir) {
    std::vector<std::string> out;
    if (DIR *d = opendir(dir.c_str())) {
        while (dirent *e = readdir(d)) {
            std::string n = e->d_name;
            if (n != "." && n != "..")
                out.push_back(n);
        }
        closedir(d);
    }
    return out;
}

// Removes a directory of pins (one level of subdirectories).
void remove_pins(const std::string &dir) {
    for (const auto &n : dir_entries(dir)) {
        std::string p = dir + "/" + n;
        if (unlink(p.c_str()) != 0 && errno == EISDIR)
            remove_pins(p);
    }
    rmdir(dir.c_str());
}

// Pins fd at path by pinning it in the pending directory first and renaming it over path:
// readers of path see the old object or the new one, and a failure leaves the old one.
class PendingPin {
  public:
    PendingPin(int fd, const std::string &pending, std::string path) : path_(std::move(path)) {
        static std::atomic<unsigned> n{0};
        tmp_ = pending + "/" + std::to_string(getpid()) + "_" + std::to_string(n++);
        unlink(tmp_.c_str());
        if (bpf_obj_pin(fd, tmp_.c_str()) != 0)
            fail(Failure::Kernel, "cannot pin " + path_ + ": " + std::strerror(errno), errno);
    }
    ~PendingPin() {
        if (!tmp_.empty())
            unlink(tmp_.c_str());
    }
    PendingPin(PendingPin &&o) noexcept : path_(std::move(o.path_)), tmp_(std::move(o.tmp_)) {
        o.tmp_.clear();
    }
    PendingPin(const PendingPin &) = delete;
    // After the install: put it in place. Failure here leaves a working selector with a stale
    // pin; reported, not fatal to the install.
    bool commit() {
        bool ok = rename(tmp_.c_str(), path_.c_str()) == 0;
        if (ok)
            tmp_.clear();
        return ok;
    }
    const std::string &path() const { return path_; }

  private:
    std::string path_, tmp_;
};

}  // namespace

std::string pin_dir(const std::string &pin_root) {
    return pin_root + "/selector";
}

std::string pin_name(const std::string &dev) {
    // bpffs refuses dots in names (reserved for its own files): "eth0.42" -> "eth0%2e42".
    std::string out;
    for (char c : dev) {
        if (c == '.')
            out += "%2e";
        else if (c == '%')
            out += "%25";
        else
            out += c;
    }
    return out;
}

namespace {
std::string dev_of_pin_name(const std::string &name) {
    std::string out;
    for (size_t i = 0; i < name.size(); i++) {
        if (name[i] == '%' && i + 2 < name.size()) {
            out += static_cast<char>(std::stoi(name.substr(i + 1, 2), nullptr, 16));
            i += 2;
        } else {
            out += name[i];
        }
    }
    return out;
}
}  // namespace

std::string shared_map_pin(const std::string &map_name) {
    // bpf_env.h names every classifier map "oob_" + its pin name (abi.h OOB_PIN_*).
    const std::string prefix = "oob_";
    if (map_name.size() > prefix.size() && map_name.compare(0, prefix.size(), prefix) == 0)
        return map_name.substr(prefix.size());
    return {};
}

ObjectInfo check_object(const std::string &file, const std::string &section) {
    detail::check_elf_header(file);
    ChildResult r = detail::run_child({file, section, {}, {}});
    if (!r.ok)
        throw SelectorError(r.failure, r.message, r.err, r.details);
    return r.info;
}

Installed load(const std::string &pin_root, const std::string &dev, const std::string &file,
               const std::string &section) {
    detail::check_elf_header(file);
    PinDirLock lock(pin_root);
    uint32_t ifindex = ifindex_of(dev);
    UniqueFd devs = open_pinned(pin_root, OOB_PIN_DEVS);
    UniqueFd sel = open_pinned(pin_root, OOB_PIN_SELECTORS);
    oob_dev d{};
    if (!get_dev(devs.get(), ifindex, d) || !(d.flags & OOB_DEV_DIVERT))
        fail(Failure::NoDiversion, dev +
                                       " does not divert (no classifier runs there): make it "
                                       "an oob port or turn its diversion on first");
    if (d.slot >= OOB_MAX_DEVS)
        fail(Failure::Kernel, dev + " has slot " + std::to_string(d.slot) + ", beyond the " +
                                  std::to_string(OOB_MAX_DEVS) + " selector slots");

    const std::string ppath = prog_pin(pin_root, dev), mdir = maps_pin(pin_root, dev);
    ChildResult r = detail::run_child({file, section, pin_root, mdir});
    if (!r.ok)
        throw SelectorError(r.failure, r.message, r.err, r.details);
    if (!r.prog)
        fail(Failure::Kernel, "the loaded program of " + file + " did not come back");

    // Everything that can fail without harm happens before the slot update.
    const std::string pending = pending_dir(pin_root, dev);
    // Under the lock, whatever is in pending/ was left by a loader killed mid-install: the
    // objects it pinned there would otherwise stay pinned (and loaded) for good.
    for (const auto &n : dir_entries(pending))
        unlink((pending + "/" + n).c_str());
    // Whatever happens, directories left empty go (rmdir refuses non-empty ones, so the
    // previous selector's pins stay); declared before the pins, so it runs after their cleanup.
    struct EmptyDirs {
        std::vector<std::string> dirs;
        ~EmptyDirs() {
            for (const auto &d : dirs)
                rmdir(d.c_str());
        }
    } empty_dirs{{pending, mdir, dev_dir(pin_root, dev)}};
    make_dir(dev_dir(pin_root, dev));
    make_dir(pending);
    std::vector<PendingPin> pins;
    pins.emplace_back(r.prog.get(), pending, ppath);
    if (!r.maps.empty())
        make_dir(mdir);
    for (const auto &[name, fd] : r.maps)
        pins.emplace_back(fd.get(), pending, mdir + "/" + name);

    Installed out;
    out.dev = dev;
    out.ifindex = ifindex;
    out.slot = d.slot;
    out.replaced_prog_id = slot_prog_id(sel.get(), d.slot);
    out.program = r.info.program;
    out.kept_maps = r.kept;

    // The install: one pointer swap in the kernel. Frames run the old selector or the new one.
    int prog_fd = r.prog.get();
    if (bpf_map_update_elem(sel.get(), &d.slot, &prog_fd, BPF_ANY) != 0) {
        int err = errno;
        if (err == EINVAL)
            fail(Failure::WrongType,
                 "the kernel refused " + r.info.program + " of " + file + " in " + dev +
                     "'s selector slot (EINVAL): its program type or flags differ from the "
                     "classifier's (XDP, frags); define it with OOB_SELECTOR",
                 err);
        fail(Failure::Kernel,
             "cannot install " + r.info.program + " in " + pin_root + "/" + OOB_PIN_SELECTORS +
                 " slot " + std::to_string(d.slot) + ": " + std::strerror(err),
             err);
    }

    // Pins in place; own maps of the previous selector that this one does not have go.
    std::string stale;
    std::set<std::string> keep;
    for (auto &p : pins) {
        if (!p.commit())
            stale += (stale.empty() ? "" : ", ") + p.path();
        keep.insert(p.path());
    }
    for (const auto &n : dir_entries(mdir))
        if (!keep.count(mdir + "/" + n))
            unlink((mdir + "/" + n).c_str());
    pins.clear();

    // Frames are handed over only now that the slot holds the selector (no OOB_R_SELECTOR_ERR).
    if (!(d.flags & OOB_DEV_SELECTOR)) {
        oob_dev cur{};
        if (!get_dev(devs.get(), ifindex, cur))
            fail(Failure::NoDiversion, dev + " stopped diverting while its selector was loaded");
        cur.flags |= OOB_DEV_SELECTOR;
        if (bpf_map_update_elem(devs.get(), &ifindex, &cur, BPF_EXIST) != 0)
            fail(Failure::Kernel,
                 "selector installed, but cannot turn it on for " + dev + ": " +
                     std::strerror(errno),
                 errno);
    }
    if (!stale.empty())
        fail(Failure::Kernel, "selector installed on " + dev + ", but cannot pin " + stale);

    out.prog_id = prog_info(r.prog.get()).id;
    out.pin = ppath;
    for (const auto &[name, fd] : r.maps)
        out.map_pins.push_back(mdir + "/" + name);
    return out;
}

void unload(const std::string &pin_root, const std::string &dev) {
    PinDirLock lock(pin_root);
    const std::string ppath = prog_pin(pin_root, dev);
    struct stat st;
    bool pinned = stat(ppath.c_str(), &st) == 0;
    uint32_t ifindex = if_nametoindex(dev.c_str());
    if (!ifindex) {
        // The device is gone (its record and slot go with it in the daemon): only pins remain.
        if (!pinned)
            fail(Failure::NoDevice, "no device " + dev + " in this network namespace", ENODEV);
        remove_pins(dev_dir(pin_root, dev));
        return;
    }
    UniqueFd devs = open_pinned(pin_root, OOB_PIN_DEVS);
    UniqueFd sel = open_pinned(pin_root, OOB_PIN_SELECTORS);
    oob_dev d{};
    bool has_dev = get_dev(devs.get(), ifindex, d);
    uint32_t id = has_dev ? slot_prog_id(sel.get(), d.slot) : 0;
    bool flagged = has_dev && (d.flags & OOB_DEV_SELECTOR);
    if (!pinned && !id && !flagged)
        fail(Failure::NotLoaded, "no selector on " + dev);

    if (flagged) {
        // Stop handing frames over first, then wait for those in flight, then empty the slot:
        // no frame finds the flag set and the slot empty (that would be OOB_R_SELECTOR_ERR).
        d.flags &= ~OOB_DEV_SELECTOR;
        if (bpf_map_update_elem(devs.get(), &ifindex, &d, BPF_EXIST) != 0)
            fail(Failure::Kernel,
                 "cannot turn the selector off for " + dev + ": " + std::strerror(errno), errno);
        rcu_grace_period();
    }
    if (has_dev && bpf_map_delete_elem(sel.get(), &d.slot) != 0 && errno != ENOENT)
        fail(Failure::Kernel,
             "cannot empty selector slot " + std::to_string(d.slot) + ": " + std::strerror(errno),
             errno);
    remove_pins(dev_dir(pin_root, dev));
}

std::optional<Installed> show(const std::string &pin_root, const std::string &dev) {
    const std::string ppath = prog_pin(pin_root, dev);
    UniqueFd pfd(bpf_obj_get(ppath.c_str()));
    if (!pfd)
        return std::nullopt;
    Installed out;
    out.dev = dev;
    out.pin = ppath;
    ProgInfo pi = prog_info(pfd.get());
    out.program = pi.name;
    out.ifindex = if_nametoindex(dev.c_str());
    UniqueFd devs(bpf_obj_get((pin_root + "/" + OOB_PIN_DEVS).c_str()));
    UniqueFd sel(bpf_obj_get((pin_root + "/" + OOB_PIN_SELECTORS).c_str()));
    oob_dev d{};
    if (out.ifindex && devs && sel && get_dev(devs.get(), out.ifindex, d)) {
        out.slot = d.slot;
        out.prog_id = slot_prog_id(sel.get(), d.slot);
    }
    std::string mdir = maps_pin(pin_root, dev);
    for (const auto &n : dir_entries(mdir))
        out.map_pins.push_back(mdir + "/" + n);
    return out;
}

std::vector<Installed> list(const std::string &pin_root) {
    std::vector<Installed> out;
    const std::string dir = pin_dir(pin_root);
    for (const auto &n : dir_entries(dir))
        if (auto i = show(pin_root, dev_of_pin_name(n)))
            out.push_back(std::move(*i));
    return out;
}

}  // namespace oobbpf::selectors
