// SPDX-License-Identifier: MIT
// The filesystems under the daemon fail: its pin root read-only or not on bpffs at start, its
// state directory full, its bpffs unmounted while it runs. Each test mounts a private bpffs or
// tmpfs on its own paths (never on the host's /sys/fs/bpf beyond its own directory).
//
// At start: one clear error line, a non-zero exit, nothing half-made (no pins, no socket, no XDP
// program). While running: a change that cannot be saved is refused with one line and nothing
// changes; a pin root that vanishes does not stop the daemon, and a restart on a fresh bpffs
// rebuilds everything from the saved configuration.
#include "daemon_env.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

using namespace oobbpf;
using namespace oobbpf::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A filesystem mounted on a directory of the test's own, unmounted and removed at the end.
class Mount {
  public:
    Mount(const std::string &dir, const std::string &type, const std::string &opts = "")
        : dir_(dir) {
        fs::create_directories(dir_);
        sh_ok("mount -t " + type + " " + (opts.empty() ? "" : "-o " + opts + " ") + type + " " +
              dir_);
    }
    ~Mount() {
        umount();
        rmdir(dir_.c_str());
    }
    void umount() {
        if (mounted_)
            ::umount2(dir_.c_str(), MNT_DETACH);
        mounted_ = false;
    }
    const std::string &dir() const { return dir_; }

  private:
    std::string dir_;
    bool mounted_ = true;
};

// oobbpfd run to its end (it is expected to fail at start), with a time limit.
Out start_expecting_failure(const DaemonEnv &env) {
    return run("timeout 60 nsenter --net=/run/netns/" + env.oob.name() + " -- " OOBBPFD_BIN " " +
               env.flags());
}

uint32_t xdp_prog_on(const DaemonEnv &env) {
    std::string o = env.oob.sh("ip -d link show " + env.veth.a).out;
    auto p = o.find("prog/xdp id ");
    return p == std::string::npos ? 0 : static_cast<uint32_t>(std::stoul(o.substr(p + 12)));
}

// What a directory holds, without what the kernel puts in every bpffs it mounts (bpf_preload's
// maps.debug and progs.debug).
std::string listing(const std::string &dir) {
    return sh("ls -A " + dir + " 2>/dev/null | grep -v -x -e maps.debug -e progs.debug").out;
}

// A failed start: the daemon's log of what it did so far, then the error, once, as the last line.
void expect_one_error_line(const Out &o, const std::string &what) {
    EXPECT_EQ(o.status, 1) << o.err;
    ASSERT_FALSE(o.err.empty());
    ASSERT_EQ(o.err.back(), '\n');
    const auto start = o.err.rfind('\n', o.err.size() - 2);
    const std::string last = o.err.substr(start == std::string::npos ? 0 : start + 1);
    EXPECT_EQ(last.rfind("oobbpfd: ", 0), 0u) << o.err;
    EXPECT_TRUE(contains(last, what)) << o.err;
    size_t n = 0;
    for (size_t p = 0; (p = o.err.find(what, p)) != std::string::npos; p += what.size())
        n++;
    EXPECT_EQ(n, 1u) << o.err;
}

// A configuration with a port on the veth, saved, with nothing left pinned or attached.
void saved_port_only(DaemonEnv &env) {
    env.start();
    ASSERT_EQ(env.cli("port add " + env.veth.a).status, 0);
    ASSERT_EQ(env.cli("rule add udp dport 7000 action divert").status, 0);
    env.stop();
    ASSERT_EQ(env.cleanup().status, 0);
    ASSERT_EQ(xdp_prog_on(env), 0u);
    ASSERT_TRUE(fs::exists(env.state_dir + "/config.json"));
}

}  // namespace

TEST(Bpffs, ReadOnlyPinRootAtStartIsOneLineAndNothingMade) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    saved_port_only(env);
    const std::string config = sh("cat " + env.state_dir + "/config.json").out;
    ensure_bpffs();
    Mount m("/sys/fs/bpf/" + unique_name("oobt"), "bpf", "ro");
    env.pin_root = m.dir() + "/root";

    Out o = start_expecting_failure(env);
    expect_one_error_line(o, "Read-only file system");
    EXPECT_TRUE(contains(o.err, "create " + env.pin_root + ": Read-only")) << o.err;
    // Nothing half-made: no pin, no socket, no program on the device, the configuration as it was.
    EXPECT_EQ(listing(m.dir()), "");
    EXPECT_FALSE(fs::exists(env.socket));
    EXPECT_FALSE(fs::exists(env.socket + ".prog"));
    EXPECT_EQ(xdp_prog_on(env), 0u);
    EXPECT_EQ(sh("cat " + env.state_dir + "/config.json").out, config);
    env.pin_root = m.dir() + "/gone";  // the destructor's cleanup has nothing to do there
}

TEST(Bpffs, PinRootNotOnBpffsAtStartIsOneLineAndNothingMade) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    saved_port_only(env);
    Mount m(env.dir + "/tmpfs", "tmpfs", "size=1m");
    env.pin_root = m.dir() + "/root";

    Out o = start_expecting_failure(env);
    expect_one_error_line(o, "is not on a bpf filesystem");
    EXPECT_EQ(listing(m.dir()), "");
    EXPECT_FALSE(fs::exists(env.socket));
    EXPECT_EQ(xdp_prog_on(env), 0u);
    m.umount();
}

TEST(Bpffs, FullStateDirRefusesChangesAndChangesNothing) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    Mount m(env.state_dir, "tmpfs", "size=64k,mode=0700");
    env.start();
    const std::string a = env.veth.a;
    ASSERT_EQ(env.cli("rule add udp dport 7000 action divert").status, 0);
    // Fill it up, as a runaway log would.
    sh("dd if=/dev/zero of=" + env.state_dir + "/filler bs=4k count=64 2>/dev/null");
    const std::string before = env.snapshot();

    for (const std::string &cmd : std::vector<std::string>{
             "port add " + a, "rule add udp dport 7001 action drop", "vlan add 42", "rule del 1"}) {
        Out o = env.cli(cmd);
        EXPECT_EQ(o.status, 1) << cmd;
        EXPECT_TRUE(o.one_line_error()) << cmd << ": " << o.err;
        EXPECT_TRUE(contains(o.err, "No space left on device")) << o.err;
        EXPECT_TRUE(contains(o.err, "nothing changed")) << o.err;
    }
    EXPECT_EQ(env.snapshot(), before);
    EXPECT_EQ(xdp_prog_on(env), 0u);
    EXPECT_EQ(kill(env.pid(), 0), 0);
    // Space again: the same command works.
    unlink((env.state_dir + "/filler").c_str());
    EXPECT_EQ(env.cli("port add " + a).status, 0);
    EXPECT_NE(xdp_prog_on(env), 0u);
    env.stop();
    env.cleanup("--purge");
    m.umount();
}

TEST(Bpffs, UnmountedUnderTheDaemonThenRestartRebuilds) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    ensure_bpffs();
    auto m = std::make_unique<Mount>("/sys/fs/bpf/" + unique_name("oobt"), "bpf");
    const std::string mdir = m->dir();
    env.pin_root = mdir + "/root";
    env.start();
    const std::string a = env.veth.a;
    ASSERT_EQ(env.cli("port add " + a).status, 0);
    ASSERT_EQ(env.cli("rule add udp dport 7000 action divert").status, 0);
    send_udp(env.peer.name(), "10.77.0.1", 7000, 10);
    EXPECT_EQ(port_reason(env.cli_json("stats"), a, "no-xsk"), 10u);

    // The bpffs goes away under the daemon.
    m->umount();
    EXPECT_EQ(listing(mdir), "");
    // The daemon holds its maps, program and links: it stays up, answers, and diverts on.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    ASSERT_EQ(kill(env.pid(), 0), 0) << env.log();
    Out st = env.cli("-j status");
    EXPECT_EQ(st.status, 0) << st.err;
    EXPECT_NE(xdp_prog_on(env), 0u);
    // A change that needs a new pin (a bpf_link for another device) is refused with one line.
    const std::string other = unique_name("ot"), peer = unique_name("ot");
    env.oob.sh_ok("ip link add " + other + " type veth peer name " + peer + "; ip link set " +
                  other + " up; ip link set " + peer + " up");
    Out d = env.cli("divert on " + other);
    std::printf("divert on, pin root unmounted: exit %d: %s", d.status, d.err.c_str());
    EXPECT_EQ(d.status, 1);
    EXPECT_TRUE(d.one_line_error()) << d.err;
    EXPECT_TRUE(contains(env.oob.sh("ip -d link show " + other).out, "prog/xdp") == false)
        << "half-made: a program attached without its pin";
    EXPECT_EQ(env.cli_json("divert show").size(), 1u);

    // A clean stop: nothing pins the links any more, so diversion ends with the daemon.
    env.stop();
    EXPECT_EQ(xdp_prog_on(env), 0u);
    // A fresh bpffs and a restart: everything rebuilt from the saved configuration.
    m = std::make_unique<Mount>(mdir, "bpf");
    env.start();
    EXPECT_NE(xdp_prog_on(env), 0u);
    EXPECT_EQ(env.cli_json("port show")[0]["state"], "active");
    send_udp(env.peer.name(), "10.77.0.1", 7000, 10);
    EXPECT_EQ(rule_packets(env.cli_json("stats"), 1), 10u);
    env.stop();
    EXPECT_EQ(env.cleanup("--purge").status, 0);
    EXPECT_EQ(listing(mdir), "");
    m.reset();
    EXPECT_FALSE(fs::exists(mdir));
    env.pin_root = mdir;  // gone: nothing for the destructor to clean there
}
