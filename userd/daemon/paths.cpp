// SPDX-License-Identifier: MIT
#include "paths.h"

#include "error.h"

#include <sys/stat.h>

#include <cstdlib>

namespace oobbpf::daemon {

NetnsId current_netns() {
    struct stat self {};
    if (stat("/proc/self/ns/net", &self) != 0)
        throw sys_error("stat /proc/self/ns/net", errno);
    NetnsId id;
    id.inode = self.st_ino;
    struct stat init {};
    // /proc/1 may be out of reach (no ptrace access to pid 1): then the fixed inode decides.
    if (stat("/proc/1/ns/net", &init) == 0)
        id.initial = init.st_ino == self.st_ino && init.st_dev == self.st_dev;
    else
        id.initial = self.st_ino == kInitNetInode;
    return id;
}

Paths derive_paths(const NetnsId &ns, const PathOverrides &o) {
    Paths p;
    if (ns.initial) {
        p.pin_root = "/sys/fs/bpf/oobbpf";
        p.socket = "/run/oobbpf/oobbpfd.sock";
        p.state_dir = "/var/lib/oobbpf";
    } else {
        const std::string ino = std::to_string(ns.inode);
        p.pin_root = "/sys/fs/bpf/oobbpf-ns" + ino;
        p.socket = "/run/oobbpf/oobbpfd-ns" + ino + ".sock";
        p.state_dir = "/var/lib/oobbpf/ns" + ino;
    }
    if (o.pin_root)
        p.pin_root = *o.pin_root;
    if (o.socket)
        p.socket = *o.socket;
    if (o.state_dir)
        p.state_dir = *o.state_dir;
    // A trailing slash would make "<root>/links" and friends ambiguous in messages.
    for (std::string *s : {&p.pin_root, &p.socket, &p.state_dir})
        while (s->size() > 1 && s->back() == '/')
            s->pop_back();
    return p;
}

Paths resolve_paths(PathOverrides o, bool use_env) {
    if (use_env) {
        auto env = [](const char *name, std::optional<std::string> &slot) {
            const char *v = std::getenv(name);
            if (!slot && v && *v)
                slot = v;
        };
        env("OOBBPF_SOCKET", o.socket);
        env("OOBBPF_PIN_ROOT", o.pin_root);
        env("OOBBPF_STATE_DIR", o.state_dir);
    }
    return derive_paths(current_netns(), o);
}

}  // namespace oobbpf::daemon
