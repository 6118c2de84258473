// SPDX-License-Identifier: MIT
#include "paths.h"

#include "error.h"

#include <sys/stat.h>

#include <cstdlib>

namespace oobbpf::daemon {

Paths derive_paths(const NetnsId &ns, const PathOverrides &o) {
    Paths p;
    p.pin_root = pin_root_of(ns);
    if (ns.initial) {
        p.socket = "/run/oobbpf/oobbpfd.sock";
        p.state_dir = "/var/lib/oobbpf";
    } else {
        const std::string ino = std::to_string(ns.inode);
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
