// SPDX-License-Identifier: MIT
// The JSON output of the CLI is a contract: docs/json.md lists, for every `oobbpf -j` command,
// every key it prints. This test runs each of those commands against a real daemon with real
// state (a port, a VLAN set, rules, a registered oob socket, traffic, a learned route) and checks
// both directions: every key printed is documented, and every documented key (not marked
// optional) is printed. A key renamed, removed or added without the document fails here.
#include "daemon_env.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

using namespace oobbpf::test;
using nlohmann::json;

namespace {

struct Key {
    std::string pattern;  // dotted path; [] array elements; * any one key; ** anything below
    bool optional = false;
};

// "### `oobbpf -j CMD`" headings, each followed by a table whose first column is a `key`.
std::map<std::string, std::vector<Key>> documented(const std::string &path) {
    std::ifstream in(path);
    std::map<std::string, std::vector<Key>> out;
    std::string line, cmd;
    const std::regex head("^### `oobbpf -j ([^`]+)`");
    const std::regex row("^\\| `([^`]+)` \\|(.*)$");
    while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_search(line, m, head)) {
            cmd = m[1];
            out[cmd];
        } else if (line.rfind("#", 0) == 0) {
            cmd.clear();
        } else if (!cmd.empty() && std::regex_search(line, m, row)) {
            out[cmd].push_back({m[1], m[2].str().find("optional") != std::string::npos});
        }
    }
    return out;
}

// Leaf paths of a document: scalars, and empty arrays or objects (as their own path).
void flatten(const json &j, const std::string &at, std::set<std::string> &out) {
    if (j.is_object() && !j.empty()) {
        for (auto &[k, v] : j.items())
            flatten(v, at.empty() ? k : at + "." + k, out);
    } else if (j.is_array() && !j.empty()) {
        for (auto &v : j)
            flatten(v, at + "[]", out);
    } else {
        out.insert(at);
    }
}

std::vector<std::string> split(const std::string &p) {
    // "a[].b.c" -> a, [], b, c
    std::vector<std::string> parts;
    std::string cur;
    for (size_t i = 0; i < p.size(); i++) {
        if (p[i] == '.') {
            if (!cur.empty())
                parts.push_back(cur);
            cur.clear();
        } else if (p.compare(i, 2, "[]") == 0) {
            if (!cur.empty())
                parts.push_back(cur);
            cur.clear();
            parts.push_back("[]");
            i++;
        } else {
            cur += p[i];
        }
    }
    if (!cur.empty())
        parts.push_back(cur);
    return parts;
}

// Does the concrete path match the pattern? `prefix_ok`: the path may stop inside the pattern
// (an empty array or object where the pattern goes deeper).
bool matches(const std::string &pattern, const std::string &path, bool prefix_ok) {
    auto pp = split(pattern), ap = split(path);
    size_t i = 0;
    for (; i < pp.size(); i++) {
        if (pp[i] == "**")
            return true;
        if (i >= ap.size())
            return prefix_ok;
        if (pp[i] == "*" ? ap[i] == "[]" : pp[i] != ap[i])
            return false;
    }
    return i == ap.size();
}

}  // namespace

TEST(Json, EveryKeyPrintedIsDocumentedAndEveryDocumentedKeyPrinted) {
    OOBBPF_REQUIRE_PRIVILEGE();
    const char *src = std::getenv("OOBBPF_SOURCE");
    ASSERT_TRUE(src) << "OOBBPF_SOURCE not set";
    auto doc = documented(std::string(src) + "/docs/json.md");
    ASSERT_GE(doc.size(), 10u) << "docs/json.md lists too few commands";

    DaemonEnv env;
    env.start();
    const std::string a = env.veth.a;
    ASSERT_EQ(env.cli("port add " + a).status, 0);
    ASSERT_EQ(env.cli("vlan add 43 dev " + a).status, 0);
    ASSERT_EQ(env.cli("vlan add 44").status, 0);
    ASSERT_EQ(env.cli("rule add udp dport 7000 action divert").status, 0);
    ASSERT_EQ(env.cli("rule add dev " + a + " udp dport 7001-7003 prio 10 action pass").status, 0);
    ASSERT_EQ(env.cli("rule add ip src 10.77.0.0/24 tcp dport 22 prio 5 action pass").status, 0);

    // An oob socket, so that xsk show and the socket statistics have something to say.
    Out echo = run(env.oob.prefix() + OOBBPF_BUILD_DIR "/tools/oob-echo/oob-echo --dev " + a +
                   " --port 7000 --pin-root " + env.pin_root + " --duration 60 >" + env.dir +
                   "/echo.log 2>&1 & echo $!");
    const pid_t echo_pid = std::atoi(echo.out.c_str());
    ASSERT_GT(echo_pid, 0);
    struct Reaper {
        pid_t pid;
        ~Reaper() {
            kill(pid, SIGTERM);
        }
    } reaper{echo_pid};
    bool registered = false;
    for (int i = 0; i < 100 && !registered; i++) {
        json x = env.cli_json("xsk show");
        registered = x.is_array() && !x.empty();
        if (!registered)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(registered) << run("cat " + env.dir + "/echo.log").out;
    send_udp(env.peer.name(), "10.77.0.1", 7000, 5);
    send_udp(env.peer.name(), "10.77.0.1", 7002, 2);
    run(env.peer.prefix() + "ping -c 1 -W 1 10.77.0.1");
    ASSERT_EQ(env.cli("route resolve 10.77.0.2").status, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));

    // Placeholders of the document's headings.
    auto instantiate = [&](std::string cmd) {
        const std::pair<const char *, std::string> subst[] = {
            {"ADDR", "10.77.0.2"}, {"DEV", a}, {"RULE", "udp dport 7100 prio 50 action drop"}};
        for (auto &[from, to] : subst)
            for (size_t at; (at = cmd.find(from)) != std::string::npos;)
                cmd.replace(at, std::strlen(from), to);
        return cmd;
    };
    for (auto &[doc_cmd, keys] : doc) {
        const std::string cmd = instantiate(doc_cmd);
        SCOPED_TRACE("oobbpf -j " + cmd);
        json j = env.cli_json(cmd);
        std::set<std::string> paths;
        flatten(j, "", paths);
        for (auto &p : paths) {
            bool ok = false;
            for (auto &k : keys)
                ok = ok || matches(k.pattern, p, true);
            EXPECT_TRUE(ok) << "printed but not documented in docs/json.md: " << p;
        }
        for (auto &k : keys) {
            if (k.optional)
                continue;
            bool seen = false;
            for (auto &p : paths)
                seen = seen || matches(k.pattern, p, false);
            EXPECT_TRUE(seen) << "documented in docs/json.md but not printed: " << k.pattern
                              << "\n" << j.dump().substr(0, 2000);
        }
    }
}

TEST(Json, FailuresPrintNothingOnStdout) {
    OOBBPF_REQUIRE_PRIVILEGE();
    DaemonEnv env;
    env.start();
    for (const std::string cmd : {"port add nosuchdev0", "vlan add 4095", "rule add udp dport x",
                                  "route resolve 300.1.1.1", "port show nosuchdev0"}) {
        Out o = env.cli("-j " + cmd);
        EXPECT_NE(o.status, 0) << cmd;
        EXPECT_EQ(o.out, "") << cmd;
        EXPECT_TRUE(o.one_line_error()) << cmd << ": " << o.err;
    }
}
