// SPDX-License-Identifier: MIT
// The namespace fixture itself: namespaces and veth pairs carry traffic, and are torn down even
// when the test that made them fails.
#include "netns.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

using namespace oobbpf::test;

TEST(NetnsFixture, VethPairCarriesTraffic) {
    OOBBPF_REQUIRE_PRIVILEGE();
    Netns a, b;
    Veth v = make_veth(a, b, "10.77.0.1/24", "10.77.0.2/24");
    EXPECT_EQ(a.sh("ping -c1 -W2 10.77.0.2").status, 0);
    // TX checksum offload is off on both ends (DESIGN.md, veth facts).
    EXPECT_NE(a.sh_ok("ethtool -k " + v.a).find("tx-checksumming: off"), std::string::npos);
}

TEST(NetnsFixture, TornDownWhenTheTestFails) {
    OOBBPF_REQUIRE_PRIVILEGE();
    int pipefd[2];
    ASSERT_EQ(pipe(pipefd), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        // A test body that fails half-way, by exception, after creating its environment.
        int rc = 0;
        try {
            Netns a, b;
            Veth v = make_veth(a, b, "", "");
            std::string names = a.name() + " " + b.name() + " " + v.a + "\n";
            if (write(pipefd[1], names.data(), names.size()) < 0)
                rc = 3;
            throw std::runtime_error("the test failed here");
        } catch (const std::exception &) {
            rc = rc ? rc : 1;
        }
        _exit(rc);
    }
    close(pipefd[1]);
    char buf[256] = {};
    ssize_t n = read(pipefd[0], buf, sizeof(buf) - 1);
    close(pipefd[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    ASSERT_GT(n, 0);
    EXPECT_EQ(WEXITSTATUS(st), 1);
    std::string names(buf);
    std::string ns_a = names.substr(0, names.find(' '));
    EXPECT_EQ(sh("ip netns list | grep -w " + ns_a).status, 1) << ns_a << " left behind";
    std::string dev = names.substr(names.rfind(' ') + 1);
    dev.pop_back();
    EXPECT_NE(sh("ip link show " + dev).status, 0) << dev << " left behind";
}
