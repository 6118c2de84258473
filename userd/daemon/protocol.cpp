// SPDX-License-Identifier: MIT
#include "protocol.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

namespace oobbpf::daemon {

using nlohmann::json;

namespace {

std::string type_name(const json &j) {
    switch (j.type()) {
        case json::value_t::null:
            return "null";
        case json::value_t::boolean:
            return "a boolean";
        case json::value_t::string:
            return "a string";
        case json::value_t::array:
            return "an array";
        case json::value_t::object:
            return "an object";
        default:
            return "a number";
    }
}

// Requests nest a few levels (the deepest, a port range in a rule set: args.rules[].dport.lo,
// is 4). A line nested a hundred thousand levels deep is valid JSON that costs the
// single-threaded daemon tens of milliseconds to build and free, during which good requests wait:
// nesting past this is refused while parsing, at the first level too deep.
constexpr int kMaxDepth = 32;

json parse_json_line(std::string_view line, const char *what, bool limit_depth = false) {
    try {
        if (!limit_depth)
            return json::parse(line);
        return json::parse(line, [what](int depth, json::parse_event_t ev, json &) {
            if ((ev == json::parse_event_t::object_start ||
                 ev == json::parse_event_t::array_start) &&
                depth >= kMaxDepth)
                throw Error(std::string("malformed ") + what + ": nested deeper than " +
                            std::to_string(kMaxDepth) + " levels");
            return true;
        });
    } catch (const json::parse_error &e) {
        // nlohmann's message starts with "[json.exception.parse_error.101] parse error at ...".
        std::string m = e.what();
        auto p = m.find("] ");
        throw Error(std::string("malformed ") + what + ": " +
                    (p == std::string::npos ? m : m.substr(p + 2)));
    }
}

}  // namespace

Request parse_request(std::string_view line) {
    if (line.size() > kMaxLine)
        throw Error("request too long (more than " + std::to_string(kMaxLine) + " bytes)");
    json j = parse_json_line(line, "request", true);
    if (!j.is_object())
        throw Error("malformed request: expected a JSON object, got " + type_name(j));
    for (auto &[k, v] : j.items())
        if (k != "v" && k != "cmd" && k != "args")
            throw Error("malformed request: unknown member " + json(k).dump());
    if (!j.contains("v") || !j["v"].is_number_integer())
        throw Error("malformed request: \"v\" (protocol version) missing or not an integer");
    if (j["v"].get<int64_t>() != kProtocolVersion)
        throw Error("unsupported protocol version " + j["v"].dump() + " (oobbpfd speaks " +
                    std::to_string(kProtocolVersion) + ")");
    if (!j.contains("cmd") || !j["cmd"].is_string())
        throw Error("malformed request: \"cmd\" missing or not a string");
    Request r;
    r.cmd = j["cmd"].get<std::string>();
    if (j.contains("args")) {
        if (!j["args"].is_object())
            throw Error("malformed request: \"args\" must be an object, got " +
                        type_name(j["args"]));
        r.args = j["args"];
    }
    return r;
}

std::string format_request(const Request &r) {
    json j = {{"v", kProtocolVersion}, {"cmd", r.cmd}, {"args", r.args}};
    return j.dump() + "\n";
}

std::string format_response(const Response &r) {
    json j = {{"v", kProtocolVersion}, {"ok", r.ok}};
    if (r.ok) {
        j["result"] = r.result;
        if (!r.warnings.empty())
            j["warnings"] = r.warnings;
    } else {
        j["error"] = r.error;
        if (!r.details.empty())
            j["details"] = r.details;
    }
    // Invalid UTF-8 (a device name or file name from a request) is replaced, never fatal.
    return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

Response parse_response(std::string_view line) {
    json j = parse_json_line(line, "response from oobbpfd");
    if (!j.is_object() || !j.contains("ok") || !j["ok"].is_boolean())
        throw Error("malformed response from oobbpfd");
    if (j.contains("v") && j["v"] != kProtocolVersion)
        throw Error("oobbpfd speaks protocol version " + j["v"].dump() + ", this client " +
                    std::to_string(kProtocolVersion));
    Response r;
    r.ok = j["ok"].get<bool>();
    if (r.ok) {
        r.result = j.value("result", json());
        if (j.contains("warnings") && j["warnings"].is_array())
            for (const auto &w : j["warnings"])
                if (w.is_string())
                    r.warnings.push_back(w.get<std::string>());
    } else {
        r.error = j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>()
                                                                : "oobbpfd failed";
        if (j.contains("details") && j["details"].is_string())
            r.details = j["details"].get<std::string>();
    }
    return r;
}

// ---- Args -------------------------------------------------------------------------------------

const json &Args::raw(const char *name) const {
    if (!has(name))
        throw Error(std::string("missing argument \"") + name + "\"");
    return j_[name];
}

std::string Args::str(const char *name) const {
    const json &v = raw(name);
    if (!v.is_string())
        throw Error(std::string("argument \"") + name + "\" must be a string");
    return v.get<std::string>();
}

std::optional<std::string> Args::opt_str(const char *name) const {
    if (!has(name))
        return std::nullopt;
    return str(name);
}

int64_t Args::integer(const char *name, int64_t lo, int64_t hi) const {
    const json &v = raw(name);
    if (!v.is_number_integer())
        throw Error(std::string("argument \"") + name + "\" must be an integer");
    int64_t x =
        v.is_number_unsigned() && v.get<uint64_t>() > INT64_MAX ? INT64_MAX : v.get<int64_t>();
    if (x < lo || x > hi)
        throw Error(std::string("argument \"") + name + "\" out of range (" + std::to_string(lo) +
                    ".." + std::to_string(hi) + ")");
    return x;
}

std::optional<int64_t> Args::opt_integer(const char *name, int64_t lo, int64_t hi) const {
    if (!has(name))
        return std::nullopt;
    return integer(name, lo, hi);
}

bool Args::boolean(const char *name, bool dflt) const {
    if (!has(name))
        return dflt;
    if (!j_[name].is_boolean())
        throw Error(std::string("argument \"") + name + "\" must be true or false");
    return j_[name].get<bool>();
}

void Args::only(std::initializer_list<const char *> names) const {
    for (auto &[k, v] : j_.items()) {
        bool known = false;
        for (const char *n : names)
            known = known || k == n;
        if (!known)
            throw Error("unknown argument " + json(k).dump());
    }
}

// ---- transport ------------------------------------------------------------------------------

void send_all(int fd, std::string_view data, const std::vector<int> &fds) {
    bool fds_sent = fds.empty();
    while (!data.empty()) {
        struct iovec iov = {const_cast<char *>(data.data()), data.size()};
        struct msghdr msg {};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        std::vector<char> ctl;
        if (!fds_sent) {
            ctl.resize(CMSG_SPACE(sizeof(int) * fds.size()));
            msg.msg_control = ctl.data();
            msg.msg_controllen = ctl.size();
            struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
            std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
        }
        ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd p = {fd, POLLOUT, 0};
                poll(&p, 1, 1000);
                continue;
            }
            throw sys_error("send to control socket", errno);
        }
        fds_sent = true;
        data.remove_prefix(static_cast<size_t>(n));
    }
}

Client Client::connect(const std::string &path) {
    struct sockaddr_un sa {};
    sa.sun_family = AF_UNIX;
    if (path.size() >= sizeof(sa.sun_path))
        throw Error("socket path too long: " + path);
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd)
        throw sys_error("socket", errno);
    if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&sa), sizeof(sa)) < 0) {
        int e = errno;
        if (e == ENOENT || e == ECONNREFUSED)
            throw Error("oobbpfd is not running (no daemon at " + path + ")", e);
        if (e == EACCES || e == EPERM)
            throw Error("permission denied on " + path + " (oobbpfd admits root and its group)", e);
        throw sys_error("connect to " + path, e);
    }
    return Client(std::move(fd));
}

Response Client::call(const std::string &cmd, const json &args, const std::vector<int> &fds) {
    std::optional<Error> send_failed;
    try {
        send_all(fd_.get(), format_request({cmd, args}), fds);
    } catch (const Error &e) {
        // The daemon may have refused us and hung up first: its answer says why.
        if (e.err() != EPIPE && e.err() != ECONNRESET)
            throw;
        send_failed = e;
    }
    for (;;) {
        auto nl = buf_.find('\n');
        if (nl != std::string::npos) {
            std::string line = buf_.substr(0, nl);
            buf_.erase(0, nl + 1);
            return parse_response(line);
        }
        char tmp[65536];
        ssize_t n = ::read(fd_.get(), tmp, sizeof(tmp));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 && send_failed)
            throw *send_failed;
        if (n < 0)
            throw sys_error("read from oobbpfd", errno);
        if (n == 0)
            throw Error("oobbpfd closed the connection");
        if (buf_.size() + static_cast<size_t>(n) > kMaxLine)
            throw Error("response from oobbpfd too long");
        buf_.append(tmp, static_cast<size_t>(n));
    }
}

json Client::call_ok(const std::string &cmd, const json &args, std::vector<std::string> *warnings,
                     const std::vector<int> &fds) {
    Response r = call(cmd, args, fds);
    if (!r.ok)
        throw RemoteError(r.error, r.details);
    if (warnings)
        *warnings = r.warnings;
    return r.result;
}

}  // namespace oobbpf::daemon
