// SPDX-License-Identifier: MIT
// Access: a real unprivileged user (nobody, through setpriv) against a running oobbpfd.
//
// The control socket admits root and the group given with --group (SO_PEERCRED, SO_PEERGROUPS);
// everyone else is refused before a request is read, read-only requests included (docs/cli.md).
// The CLI's direct reads of the pinned maps (when the daemon is down, and route/neigh show) need
// the pins, which are root's alone. Everything the daemon makes, whatever the umask it was started
// with, is writable by root only: pins and their directories, the socket and its directory, the
// saved configuration and its directory.
#include "daemon_env.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

using namespace oobbpf;
using namespace oobbpf::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// `oobbpf ARGS` as uid/gid 65534 (nobody/nogroup), no supplementary groups.
Out as_nobody(const DaemonEnv &env, const std::string &args, const std::string &gid = "65534") {
    return run("nsenter --net=/run/netns/" + env.oob.name() + " -- setpriv --reuid=65534 --regid=" +
               gid + " --clear-groups " + OOBBPF_BIN + " --socket " + env.socket +
               " --pin-root " + env.pin_root + " --state-dir " + env.state_dir + " " + args);
}

std::vector<std::string> read_only(const DaemonEnv &env) {
    return {"status",        "port show",  "rule show", "rule export", "divert show",
            "vlan show",     "xsk show",   "stats",     "route show",  "neigh show",
            "port show " + env.veth.a};
}

std::vector<std::string> state_changing(const DaemonEnv &env, const std::string &rule_file) {
    const std::string a = env.veth.a;
    return {"port del " + a,
            "port add " + a,
            "divert off " + a,
            "vlan add 42",
            "vlan del 43 dev " + a,
            "rule add udp dport 7001 action drop",
            "rule del 1",
            "rule flush",
            "rule import " + rule_file,
            "load " + a + " " + std::string(OOBBPF_BPF_DIR) + "/sel_udp_range.bpf.o",
            "unload " + a,
            "route resolve 10.77.0.2"};
}

std::string mode_str(mode_t m) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "%04o", m & 07777);
    return buf;
}

// Every path under root (root included) that others may write, with its mode.
std::vector<std::string> world_writable(const std::string &root) {
    std::vector<std::string> out;
    auto check = [&](const fs::path &p) {
        struct stat st {};
        if (lstat(p.c_str(), &st) == 0 && !S_ISLNK(st.st_mode) && (st.st_mode & S_IWOTH))
            out.push_back(p.string() + " " + mode_str(st.st_mode));
    };
    check(root);
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::end(it); it.increment(ec))
        check(it->path());
    return out;
}

mode_t mode_of(const std::string &p) {
    struct stat st {};
    lstat(p.c_str(), &st);
    return st.st_mode & 07777;
}

// A daemon with something of everything: a port, a VLAN set, rules, a selector.
void configure(DaemonEnv &env) {
    const std::string a = env.veth.a;
    for (const std::string &c : std::vector<std::string>{
             "port add " + a, "vlan add 43 dev " + a, "rule add udp dport 7000 action divert",
          "load " + a + " " + std::string(OOBBPF_BPF_DIR) + "/sel_udp_range.bpf.o"}) {
        Out o = env.cli(c);
        ASSERT_EQ(o.status, 0) << c << ": " << o.err;
    }
}

}  // namespace

TEST(Access, UnprivilegedUserIsRefusedAndChangesNothing) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    ASSERT_EQ(chmod(env.dir.c_str(), 0755), 0);  // others may reach the socket's directory
    env.start();
    configure(env);
    const std::string rules = env.dir + "/rules.json";
    ASSERT_EQ(sh("echo '[]' > " + rules + "; chmod 0644 " + rules).status, 0);
    const std::string before = env.snapshot();

    // The socket's mode keeps others out: every command, one clear line, exit 1 (route and
    // neigh show read root's pins, not the daemon: refused too).
    for (const auto &cmd : read_only(env)) {
        Out o = as_nobody(env, cmd);
        EXPECT_EQ(o.status, 1) << cmd << "\n" << o.out << o.err;
        EXPECT_TRUE(o.one_line_error()) << cmd << ": " << o.err;
        if (cmd != "route show" && cmd != "neigh show") {
            EXPECT_TRUE(contains(o.err, "ermission denied")) << cmd << ": " << o.err;
        }
        EXPECT_EQ(o.out, "") << cmd;
    }
    for (const auto &cmd : state_changing(env, rules)) {
        Out o = as_nobody(env, cmd);
        EXPECT_EQ(o.status, 1) << cmd << "\n" << o.out << o.err;
        EXPECT_TRUE(o.one_line_error()) << cmd << ": " << o.err;
        EXPECT_TRUE(contains(o.err, "ermission denied")) << cmd << ": " << o.err;
    }
    EXPECT_EQ(env.snapshot(), before);

    // A socket opened to everyone (a mistake of the admin): the daemon's own check refuses.
    ASSERT_EQ(chmod(env.socket.c_str(), 0666), 0);
    for (const auto &cmd : state_changing(env, rules)) {
        Out o = as_nobody(env, cmd);
        EXPECT_EQ(o.status, 1) << cmd;
        EXPECT_TRUE(o.one_line_error()) << cmd << ": " << o.err;
        // route show reads pins, not the daemon: the pins refuse it.
        EXPECT_TRUE(contains(o.err, "permission denied: oobbpfd admits root") ||
                    contains(o.err, "ermission denied"))
            << cmd << ": " << o.err;
    }
    for (const std::string cmd : {"status", "port show", "rule show", "stats"}) {
        Out o = as_nobody(env, cmd);
        EXPECT_EQ(o.status, 1) << cmd;
        EXPECT_TRUE(o.one_line_error()) << cmd << ": " << o.err;
        EXPECT_TRUE(contains(o.err, "permission denied: oobbpfd admits root")) << cmd << ": "
                                                                               << o.err;
    }
    EXPECT_EQ(env.snapshot(), before);

    // The pins themselves: nobody can neither read nor write a map, nor remove a pin.
    Out dump = run("setpriv --reuid=65534 --regid=65534 --clear-groups bpftool map dump pinned " +
                   env.pin_root + "/devs");
    EXPECT_NE(dump.status, 0) << dump.out;
    Out upd = run("setpriv --reuid=65534 --regid=65534 --clear-groups bpftool map update pinned " +
                  env.pin_root + "/rule_masks key 0 0 0 0 value 0 0 0 0 2>&1");
    EXPECT_NE(upd.status, 0) << upd.out;
    Out rm = run("setpriv --reuid=65534 --regid=65534 --clear-groups rm -f " + env.pin_root +
                 "/links/" + env.veth.a + " " + env.pin_root + "/devs");
    EXPECT_NE(rm.status, 0);
    // The daemon down: the CLI reads the pins directly, and they refuse nobody too; status
    // shows what it can and names the refusal among its problems.
    env.stop();
    for (const std::string cmd : {"port show", "stats", "rule show", "divert show"}) {
        Out o = as_nobody(env, cmd);
        EXPECT_EQ(o.status, 1) << cmd << "\n" << o.out << o.err;
        EXPECT_TRUE(contains(o.err, "Permission denied")) << cmd << ": " << o.err;
        EXPECT_EQ(o.out, "") << cmd;
    }
    Out st = as_nobody(env, "status");
    EXPECT_EQ(st.status, 0) << st.err;
    EXPECT_TRUE(contains(st.out, "not running")) << st.out;
    EXPECT_TRUE(contains(st.out, "Permission denied")) << st.out;
    env.start();
    EXPECT_EQ(env.snapshot(), before);
}

TEST(Access, AdmittedGroupMayChangeStateOthersMayNot) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    ASSERT_EQ(chmod(env.dir.c_str(), 0755), 0);
    env.start("--group nogroup");
    EXPECT_EQ(mode_of(env.socket), 0660u);
    Out ok = as_nobody(env, "rule add udp dport 7000 action divert");
    EXPECT_EQ(ok.status, 0) << ok.err;
    Out show = as_nobody(env, "-j rule show");
    EXPECT_EQ(show.status, 0) << show.err;
    // Another unprivileged gid: refused, nothing changed.
    Out no = as_nobody(env, "rule flush", "100");
    EXPECT_EQ(no.status, 1);
    EXPECT_TRUE(no.one_line_error()) << no.err;
    EXPECT_TRUE(contains(no.err, "ermission denied")) << no.err;
    EXPECT_EQ(env.cli_json("rule show").size(), 1u);
}

// Started with umask 000 (a careless shell), the daemon still makes nothing others may write.
TEST(Access, NothingWorldWritableWhateverTheUmask) {
    OOBBPF_REQUIRE_PRIVILEGE();
    for (mode_t mask : {022, 000}) {
        SCOPED_TRACE("umask " + mode_str(mask));
        DaemonEnv env;
        // The socket's directory made by the daemon, like /run/oobbpf.
        env.socket = env.dir + "/run/oobbpfd.sock";
        const mode_t old = umask(mask);
        env.start();
        umask(old);
        configure(env);
        std::vector<std::string> bad = world_writable(env.pin_root);
        for (const auto &p : std::vector<std::string>{env.socket, env.dir + "/run",
                                                      env.socket + ".lock", env.socket + ".prog",
                                                      env.state_dir, env.state_dir + "/config.json"})
            if (fs::exists(p) && (mode_of(p) & S_IWOTH))
                bad.push_back(p + " " + mode_str(mode_of(p)));
        EXPECT_TRUE(bad.empty()) << [&] {
            std::string s;
            for (const auto &b : bad)
                s += b + "\n";
            return s;
        }();
        // The modes, as a user would list them.
        std::printf("umask %s:\n%s", mode_str(mask).c_str(),
                    sh("find " + env.pin_root + " " + env.dir +
                       "/run " + env.state_dir + " -printf '  %m %p\\n' | sed 's|" + env.pin_root +
                       "|<pin root>|; s|" + env.dir + "|<dir>|'")
                        .out.c_str());
        EXPECT_EQ(mode_of(env.socket), 0600u);
        EXPECT_EQ(mode_of(env.state_dir), 0700u);
        EXPECT_EQ(mode_of(env.state_dir + "/config.json") & 077, 0u);
        env.stop();
    }
}
