// SPDX-License-Identifier: MIT
// The control plane's pure parts: protocol parsing, path derivation, the saved configuration.
#include "config.h"
#include "paths.h"
#include "protocol.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace oobbpf;
using namespace oobbpf::daemon;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Every failure is one line: the CLI prints it as is.
void expect_one_line_error(const std::string &line, const std::string &needle) {
    try {
        parse_request(line);
        ADD_FAILURE() << "accepted: " << line;
    } catch (const Error &e) {
        std::string m = e.what();
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
        EXPECT_NE(m.find(needle), std::string::npos) << "for " << line << ": " << m;
    }
}

std::string tmpdir() {
    char t[] = "/tmp/oobt-unit-XXXXXX";
    return mkdtemp(t);
}

}  // namespace

// ---- protocol ---------------------------------------------------------------------------------

TEST(Protocol, ParsesARequest) {
    Request r = parse_request(R"({"v":1,"cmd":"port.add","args":{"dev":"eth0","force":true}})");
    EXPECT_EQ(r.cmd, "port.add");
    EXPECT_EQ(r.args["dev"], "eth0");
    EXPECT_EQ(r.args["force"], true);
}

TEST(Protocol, ArgsAreOptional) {
    Request r = parse_request(R"({"v":1,"cmd":"status"})");
    EXPECT_EQ(r.cmd, "status");
    EXPECT_TRUE(r.args.is_object());
    EXPECT_TRUE(r.args.empty());
}

TEST(Protocol, RequestRoundTrip) {
    Request r{"vlan.add", json{{"vid", 42}, {"dev", "eth0"}}};
    std::string line = format_request(r);
    ASSERT_EQ(line.back(), '\n');
    line.pop_back();
    EXPECT_EQ(line.find('\n'), std::string::npos);
    Request back = parse_request(line);
    EXPECT_EQ(back.cmd, r.cmd);
    EXPECT_EQ(back.args, r.args);
}

TEST(Protocol, MalformedRequestsAreOneClearLine) {
    const std::pair<const char *, const char *> cases[] = {
        {"", "malformed request"},
        {"garbage", "malformed request"},
        {"{\"v\":1,", "malformed request"},
        {"[1,2]", "expected a JSON object, got an array"},
        {"42", "expected a JSON object, got a number"},
        {"\"port.add\"", "expected a JSON object, got a string"},
        {"{}", "\"v\" (protocol version) missing"},
        {R"({"v":"1","cmd":"status"})", "\"v\" (protocol version) missing or not an integer"},
        {R"({"v":2,"cmd":"status"})", "unsupported protocol version 2"},
        {R"({"v":1})", "\"cmd\" missing"},
        {R"({"v":1,"cmd":5})", "\"cmd\" missing or not a string"},
        {R"({"v":1,"cmd":"status","args":[]})", "\"args\" must be an object"},
        {R"({"v":1,"cmd":"status","args":"dev"})", "\"args\" must be an object"},
        {R"({"v":1,"cmd":"status","extra":1})", "unknown member \"extra\""},
        {"{\"v\":1,\"cmd\":\"status\"}\n{", "malformed request"},
    };
    for (const auto &[line, needle] : cases)
        expect_one_line_error(line, needle);
}

TEST(Protocol, OverlongRequestRefused) {
    std::string line =
        R"({"v":1,"cmd":"status","args":{"x":")" + std::string(kMaxLine, 'a') + "\"}}";
    expect_one_line_error(line, "request too long");
}

TEST(Protocol, ResponsesRoundTrip) {
    Response ok;
    ok.ok = true;
    ok.result = json{{"dev", "eth0"}, {"port_id", 1}};
    ok.warnings = {"eth0: native XDP unavailable; using generic mode"};
    std::string line = format_response(ok);
    ASSERT_EQ(line.back(), '\n');
    Response back = parse_response(line.substr(0, line.size() - 1));
    EXPECT_TRUE(back.ok);
    EXPECT_EQ(back.result, ok.result);
    EXPECT_EQ(back.warnings, ok.warnings);

    Response bad;
    bad.error = "eth9: no such device";
    back = parse_response(format_response(bad));
    EXPECT_FALSE(back.ok);
    EXPECT_EQ(back.error, bad.error);
    EXPECT_TRUE(back.details.empty());
    EXPECT_FALSE(json::parse(format_response(bad)).contains("details"));

    // A verifier log travels as details, on one line of the protocol all the same.
    Response verifier;
    verifier.error = "sel.o: the verifier rejected sel_udp_range: R1 invalid mem access";
    verifier.details = "0: (61) r2 = *(u32 *)(r1 +4)\n1: (b7) r0 = 0\nR1 invalid mem access\n";
    line = format_response(verifier);
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    back = parse_response(line);
    EXPECT_EQ(back.details, verifier.details);
    EXPECT_EQ(json::parse(format_response(bad))["v"], kProtocolVersion);
}

TEST(Protocol, InvalidUtf8InAResponseIsReplacedNotFatal) {
    Response bad;
    bad.error = std::string("dev \xff\xfe: no such device");
    std::string line;
    ASSERT_NO_THROW(line = format_response(bad));
    EXPECT_FALSE(parse_response(line).ok);
}

TEST(Protocol, MalformedResponsesRefused) {
    EXPECT_THROW(parse_response("nope"), Error);
    EXPECT_THROW(parse_response("{}"), Error);
    EXPECT_THROW(parse_response(R"({"ok":"yes"})"), Error);
    EXPECT_THROW(parse_response(R"({"v":9,"ok":true})"), Error);
}

TEST(Protocol, TypedArguments) {
    json j = {{"dev", "eth0"}, {"vid", 42}, {"force", true}, {"big", 1LL << 40}, {"n", "7"}};
    Args a(j);
    EXPECT_EQ(a.str("dev"), "eth0");
    EXPECT_EQ(a.integer("vid", 0, 4095), 42);
    EXPECT_TRUE(a.boolean("force", false));
    EXPECT_FALSE(a.boolean("absent", false));
    EXPECT_FALSE(a.opt_str("absent").has_value());
    auto msg = [](auto f) {
        try {
            f();
        } catch (const Error &e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(msg([&] { a.str("vid"); }), "argument \"vid\" must be a string");
    EXPECT_EQ(msg([&] { a.integer("n", 0, 10); }), "argument \"n\" must be an integer");
    EXPECT_EQ(msg([&] { a.integer("big", 0, 4095); }), "argument \"big\" out of range (0..4095)");
    EXPECT_EQ(msg([&] { a.str("missing"); }), "missing argument \"missing\"");
    EXPECT_EQ(msg([&] { a.boolean("dev", false); }), "argument \"dev\" must be true or false");
    EXPECT_EQ(msg([&] { a.only({"dev", "vid", "force", "big"}); }), "unknown argument \"n\"");
    EXPECT_EQ(msg([&] { a.only({"dev", "vid", "force", "big", "n"}); }), "no error");
}

TEST(Protocol, ClientWithoutDaemonSaysSo) {
    std::string dir = tmpdir();
    try {
        Client::connect(dir + "/none.sock");
        ADD_FAILURE() << "connected to nothing";
    } catch (const Error &e) {
        EXPECT_EQ(std::string(e.what()),
                  "oobbpfd is not running (no daemon at " + dir + "/none.sock)");
    }
    fs::remove_all(dir);
}

// The client's framing and descriptor passing against a minimal server on a real socket.
TEST(Protocol, ClientSendsDescriptorsWithItsRequest) {
    std::string dir = tmpdir();
    const std::string path = dir + "/s.sock";
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    strcpy(sa.sun_path, path.c_str());
    ASSERT_EQ(bind(ls, reinterpret_cast<sockaddr *>(&sa), sizeof(sa)), 0);
    ASSERT_EQ(listen(ls, 1), 0);
    std::string got;
    int got_fds = 0;
    std::thread server([&] {
        int c = accept(ls, nullptr, nullptr);
        char buf[4096], ctl[CMSG_SPACE(sizeof(int) * 4)];
        while (got.find('\n') == std::string::npos) {
            iovec iov = {buf, sizeof(buf)};
            msghdr m{};
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            m.msg_control = ctl;
            m.msg_controllen = sizeof(ctl);
            ssize_t n = recvmsg(c, &m, 0);
            if (n <= 0)
                break;
            for (cmsghdr *cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
                if (cm->cmsg_type == SCM_RIGHTS) {
                    size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                    for (size_t i = 0; i < k; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                        close(fd);
                        got_fds++;
                    }
                }
            got.append(buf, static_cast<size_t>(n));
        }
        std::string reply = R"({"v":1,"ok":true,"result":{"index":3}})"
                            "\n";
        send(c, reply.data(), reply.size(), 0);
        close(c);
    });
    Client cl = Client::connect(path);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    json r = cl.call_ok("xsk.register", {{"dev", "eth0"}, {"queue", 0}}, nullptr, {p[0]});
    server.join();
    EXPECT_EQ(r["index"], 3);
    EXPECT_EQ(got_fds, 1);
    Request req = parse_request(got.substr(0, got.find('\n')));
    EXPECT_EQ(req.cmd, "xsk.register");
    EXPECT_EQ(req.args["queue"], 0);
    close(p[0]);
    close(p[1]);
    close(ls);
    fs::remove_all(dir);
}

// ---- paths ------------------------------------------------------------------------------------

TEST(Paths, InitialNamespaceGetsThePlainDefaults) {
    Paths p = derive_paths(NetnsId{kInitNetInode, true});
    EXPECT_EQ(p.pin_root, "/sys/fs/bpf/oobbpf");
    EXPECT_EQ(p.socket, "/run/oobbpf/oobbpfd.sock");
    EXPECT_EQ(p.state_dir, "/var/lib/oobbpf");
    EXPECT_EQ(p.links_dir(), "/sys/fs/bpf/oobbpf/links");
    EXPECT_EQ(p.config_file(), "/var/lib/oobbpf/config.json");
}

TEST(Paths, OtherNamespacesAreSuffixedWithTheirInode) {
    Paths p = derive_paths(NetnsId{4026532177, false});
    EXPECT_EQ(p.pin_root, "/sys/fs/bpf/oobbpf-ns4026532177");
    EXPECT_EQ(p.socket, "/run/oobbpf/oobbpfd-ns4026532177.sock");
    EXPECT_EQ(p.state_dir, "/var/lib/oobbpf/ns4026532177");
    // Two namespaces never share a path.
    Paths q = derive_paths(NetnsId{4026532178, false});
    EXPECT_NE(p.pin_root, q.pin_root);
    EXPECT_NE(p.socket, q.socket);
    EXPECT_NE(p.state_dir, q.state_dir);
}

TEST(Paths, OverridesWinOneByOne) {
    PathOverrides o;
    o.socket = "/tmp/x.sock";
    Paths p = derive_paths(NetnsId{7, false}, o);
    EXPECT_EQ(p.socket, "/tmp/x.sock");
    EXPECT_EQ(p.pin_root, "/sys/fs/bpf/oobbpf-ns7");
    o.pin_root = "/sys/fs/bpf/mine/";
    o.state_dir = "/srv/oob//";
    p = derive_paths(NetnsId{7, false}, o);
    EXPECT_EQ(p.pin_root, "/sys/fs/bpf/mine");
    EXPECT_EQ(p.state_dir, "/srv/oob");
}

TEST(Paths, TheCliTakesTheEnvironmentTheDaemonDoesNot) {
    setenv("OOBBPF_SOCKET", "/tmp/env.sock", 1);
    setenv("OOBBPF_PIN_ROOT", "/sys/fs/bpf/env", 1);
    Paths cli = resolve_paths({}, true);
    EXPECT_EQ(cli.socket, "/tmp/env.sock");
    EXPECT_EQ(cli.pin_root, "/sys/fs/bpf/env");
    PathOverrides o;
    o.socket = "/tmp/option.sock";
    EXPECT_EQ(resolve_paths(o, true).socket, "/tmp/option.sock");  // the option beats env
    Paths d = resolve_paths({}, false);
    EXPECT_NE(d.socket, "/tmp/env.sock");
    unsetenv("OOBBPF_SOCKET");
    unsetenv("OOBBPF_PIN_ROOT");
    EXPECT_EQ(resolve_paths({}, true).socket, d.socket);
}

TEST(Paths, CurrentNamespaceIsThisProcesses) {
    struct stat st {};
    ASSERT_EQ(stat("/proc/self/ns/net", &st), 0);
    NetnsId id = current_netns();
    EXPECT_EQ(id.inode, st.st_ino);
    EXPECT_EQ(derive_paths(id).pin_root, id.initial
                                             ? "/sys/fs/bpf/oobbpf"
                                             : "/sys/fs/bpf/oobbpf-ns" + std::to_string(st.st_ino));
}

// ---- configuration
// --------------------------------------------------------------------------------

TEST(Config, RoundTrip) {
    Config c;
    c.devices["eth0"] = DevConf{true, std::string("generic")};
    c.ports["eth0"] = PortConf{1};
    c.ports["eth0.42"] = PortConf{2};
    c.vlans.push_back(VlanConf{42, "", 3});
    c.vlans.push_back(VlanConf{7, "eth0", 4});
    c.rules =
        json::array({json{{"id", 1}, {"l4proto", "udp"}, {"dport", 7000}, {"action", "divert"}}});
    c.selectors["eth0"] = SelectorConf{"/opt/sel.bpf.o", "xdp.frags"};
    EXPECT_EQ(config_from_json(to_json(c)), c);
    EXPECT_EQ(config_from_json(json::parse(to_json(c).dump())), c);
}

TEST(Config, RefusesWhatItCannotRead) {
    EXPECT_THROW(config_from_json(json::array()), Error);
    EXPECT_THROW(config_from_json(json{{"version", 99}}), Error);
    // A version of another type: one error, not a JSON type exception (found by fuzz_control).
    EXPECT_THROW(config_from_json(json{{"version", "1"}}), Error);
    EXPECT_THROW(config_from_json(json{{"version", 1.5}}), Error);
    EXPECT_THROW(config_from_json(json{{"version", json::array()}}), Error);
    EXPECT_THROW(config_from_json(json{{"version", 1}, {"ports", json::array()}}), Error);
    EXPECT_THROW(config_from_json(json{{"version", 1}, {"ports", {{"eth0", {{"x", 1}}}}}}), Error);
    EXPECT_THROW(config_from_json(json{{"version", 1}, {"vlans", {{{"vid", "x"}}}}}), Error);
    // Out of range for the field's width: refused, never converted.
    EXPECT_THROW(config_from_json(json::parse(R"({"version":1,"ports":{"eth0":{"id":1e300}}})")),
                 Error);
    EXPECT_THROW(config_from_json(json::parse(R"({"version":1,"ports":{"eth0":{"id":-1}}})")),
                 Error);
    EXPECT_THROW(config_from_json(json::parse(R"({"version":1,"vlans":[{"vid":70000}]})")), Error);
    EXPECT_THROW(config_from_json(json::parse(R"({"version":1,"vlans":[{"vid":5,"id":-2}]})")),
                 Error);
}

TEST(Config, MissingFileIsEmptyBrokenFileIsAnError) {
    std::string dir = tmpdir();
    EXPECT_EQ(load_config(dir + "/none.json"), Config{});
    std::ofstream(dir + "/bad.json") << "{ not json";
    EXPECT_THROW(load_config(dir + "/bad.json"), Error);
    fs::remove_all(dir);
}

TEST(Config, SavedAtomicallyIntoAPrivateDirectory) {
    std::string dir = tmpdir();
    const std::string path = dir + "/state/config.json";
    Config c;
    c.ports["veth0"] = PortConf{5};
    save_config(path, c);
    EXPECT_EQ(load_config(path), c);
    struct stat st {};
    ASSERT_EQ(stat((dir + "/state").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    c.ports["veth1"] = PortConf{6};
    save_config(path, c);
    EXPECT_EQ(load_config(path), c);
    // No temporary file is left behind.
    int files = 0;
    for (const auto &e : fs::directory_iterator(dir + "/state")) {
        (void)e;
        files++;
    }
    EXPECT_EQ(files, 1);
    fs::remove_all(dir);
}
