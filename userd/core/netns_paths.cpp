// SPDX-License-Identifier: MIT
#include "netns_paths.h"

#include "error.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>

namespace oobbpf {

NetnsId current_netns_id() {
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

std::string pin_root_of(const NetnsId &ns) {
    return ns.initial ? "/sys/fs/bpf/oobbpf" : "/sys/fs/bpf/oobbpf-ns" + std::to_string(ns.inode);
}

std::string default_pin_root() {
    if (const char *v = std::getenv("OOBBPF_PIN_ROOT"); v && *v)
        return v;
    return pin_root_of(current_netns_id());
}

}  // namespace oobbpf
