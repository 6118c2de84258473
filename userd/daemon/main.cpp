// SPDX-License-Identifier: MIT
// oobbpfd: the oobbpf daemon of one network namespace.
#include "daemon.h"
#include "datapath.h"
#include "error.h"

#include <CLI/CLI.hpp>
#include <bpf/libbpf.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xdp/libxdp.h>

#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <iostream>

using namespace oobbpf;
using namespace oobbpf::daemon;

namespace {

bool g_verbose = false;

// libbpf and libxdp speak through the daemon's log: warnings always, debug with -v.
int libbpf_log(libbpf_print_level level, const char *fmt, va_list ap) {
    if (level != LIBBPF_WARN && !g_verbose)
        return 0;
    fputs("oobbpfd: ", stderr);  // libbpf's lines start with "libbpf: " themselves
    return vfprintf(stderr, fmt, ap);
}

int libxdp_log(libxdp_print_level level, const char *fmt, va_list ap) {
    if (level != LIBXDP_WARN && !g_verbose)
        return 0;
    fputs("oobbpfd: ", stderr);  // as libbpf, libxdp prefixes its own lines
    return vfprintf(stderr, fmt, ap);
}

int cleanup(const Paths &p, bool purge, const LearnerRegistry &learners) {
    // A running daemon holds the lock; cleaning under it would leave it serving nothing.
    UniqueFd lock(open(p.lock_file().c_str(), O_RDWR | O_CLOEXEC));
    if (lock && flock(lock.get(), LOCK_EX | LOCK_NB) < 0)
        throw Error("oobbpfd is running for this namespace (" + p.socket + "): stop it first");
    std::vector<std::string> done;
    if (auto sel = make_selector_loader(p))
        for (auto &l : sel->cleanup())
            done.push_back(l);
    for (auto &l : learners.cleanup(p))
        done.push_back(l);
    for (auto &l : Datapath::cleanup(p))
        done.push_back(l);
    if (unlink(p.socket.c_str()) == 0)
        done.push_back("removed " + p.socket);
    unlink(p.lock_file().c_str());
    if (purge) {
        if (unlink(p.config_file().c_str()) == 0)
            done.push_back("removed " + p.config_file());
        rmdir(p.state_dir.c_str());
    } else if (access(p.config_file().c_str(), F_OK) == 0) {
        done.push_back("kept the configuration in " + p.config_file() + " (--purge removes it)");
    }
    if (done.empty())
        done.push_back("nothing to clean under " + p.pin_root);
    for (const auto &l : done)
        std::cout << l << "\n";
    return 0;
}

}  // namespace

int main(int argc, char **argv) {
    CLI::App app{"oobbpfd: the oobbpf daemon of this network namespace"};
    PathOverrides ov;
    std::string group, learner = "auto";
    bool no_dispatcher = false, do_cleanup = false, purge = false, version = false;
    app.add_option("--pin-root", ov.pin_root, "bpffs directory for maps, program and links");
    app.add_option("--socket", ov.socket, "control socket path");
    app.add_option("--state-dir", ov.state_dir, "directory of the saved configuration");
    app.add_option("--group", group, "group admitted on the control socket besides root");
    app.add_option("--learner", learner,
                   "route learner back-end: auto, none, tp_btf, kmod, netlink");
    app.add_flag("--no-dispatcher", no_dispatcher,
                 "attach alone (pinned bpf_link) even where libxdp's dispatcher would work");
    app.add_flag("--cleanup", do_cleanup,
                 "remove the attachments, pins and socket of this namespace's oobbpf, then exit");
    app.add_flag("--purge", purge, "with --cleanup: remove the saved configuration too");
    app.add_flag("-v,--verbose", g_verbose, "log device events and libbpf/libxdp debug output");
    app.add_flag("--version", version, "print the version and exit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError &e) {
        return app.exit(e);
    }
    if (version) {
        std::cout << "oobbpfd " << OOBBPF_VERSION << " (ABI " << OOB_ABI_VERSION << ")\n";
        return 0;
    }
    if (purge && !do_cleanup) {
        std::cerr << "oobbpfd: --purge goes with --cleanup\n";
        return 2;
    }
    libbpf_set_print(libbpf_log);
    libxdp_set_print(libxdp_log);

    try {
        DaemonOptions o;
        o.paths = resolve_paths(ov, false);
        o.learner = learner;
        o.dispatcher = !no_dispatcher;
        o.verbose = g_verbose;
        if (!group.empty()) {
            struct group *g = getgrnam(group.c_str());
            if (!g)
                throw Error("no group named " + group);
            o.group = g->gr_gid;
        }
        LearnerRegistry learners;
        register_builtin_learners(learners);
        if (do_cleanup)
            return cleanup(o.paths, purge, learners);
        if (geteuid() != 0)
            throw Error("oobbpfd needs root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN)");
        // Whatever umask it was started with, nothing the daemon makes is writable by others:
        // a pin directory open to all would let anyone unpin (detach) the classifier, a socket
        // directory open to all would let anyone put a socket of their own in the daemon's place.
        // Stricter masks are kept; the admitted group gets the socket by an explicit chmod.
        umask(umask(0) | 022);
        Daemon d(o, learners, make_selector_loader(o.paths));
        d.run();
        return 0;
    } catch (const std::exception &e) {
        std::cerr << "oobbpfd: " << e.what() << "\n";
        return 1;
    }
}
