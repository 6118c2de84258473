// SPDX-License-Identifier: MIT
// The control protocol between oobbpfd and its clients (the CLI, oob applications).
//
// A Unix stream socket; one JSON object per line each way, one response per request, in order.
//   request   {"v":1,"cmd":"port.add","args":{"dev":"eth0"}}
//   success   {"v":1,"ok":true,"result":...,"warnings":["..."]}      (warnings optional)
//   failure   {"v":1,"ok":false,"error":"one clear line","details":"..."}  (details optional:
//             e.g. a verifier log, which the CLI shows with -v)
// A request may carry file descriptors (SCM_RIGHTS) with its bytes: xsk.register hands over the
// AF_XDP socket that way. Unknown members of args are refused (a typo must not pass silently).
#pragma once

#include "error.h"
#include "fd.h"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace oobbpf::daemon {

constexpr int kProtocolVersion = 1;
// A rule import of OOB_MAX_RULES rules fits with room to spare; anything longer is refused.
constexpr size_t kMaxLine = 16u << 20;

struct Request {
    std::string cmd;
    nlohmann::json args = nlohmann::json::object();
};

// Parses one request line (without its newline). Throws oobbpf::Error with one clear line.
Request parse_request(std::string_view line);
std::string format_request(const Request &r);

struct Response {
    bool ok = false;
    nlohmann::json result;  // null when there is none
    std::string error;
    std::string details;  // failures only, may be empty
    std::vector<std::string> warnings;
};

// A failure reported by oobbpfd (Client::call_ok), with its details.
class RemoteError : public Error {
  public:
    RemoteError(const std::string &msg, std::string details)
        : Error(msg), details_(std::move(details)) {}
    const std::string &details() const { return details_; }

  private:
    std::string details_;
};

std::string format_response(const Response &r);
// Throws oobbpf::Error when the line is not a response of this protocol.
Response parse_response(std::string_view line);

// Typed access to request arguments, each failure one clear line naming the argument.
class Args {
  public:
    explicit Args(const nlohmann::json &j) : j_(j) {}
    std::string str(const char *name) const;
    std::optional<std::string> opt_str(const char *name) const;
    int64_t integer(const char *name, int64_t lo, int64_t hi) const;
    std::optional<int64_t> opt_integer(const char *name, int64_t lo, int64_t hi) const;
    bool boolean(const char *name, bool dflt) const;
    const nlohmann::json &raw(const char *name) const;
    bool has(const char *name) const { return j_.contains(name) && !j_[name].is_null(); }
    // Refuses members other than these.
    void only(std::initializer_list<const char *> names) const;

  private:
    const nlohmann::json &j_;
};

// A connected client. Calls are synchronous: one request, one response.
class Client {
  public:
    // Throws oobbpf::Error ("oobbpfd is not running (no socket at PATH)" and the like).
    static Client connect(const std::string &socket_path);
    // Sends a request (with fds, if any) and returns the response; transport failures throw.
    Response call(const std::string &cmd, const nlohmann::json &args = nlohmann::json::object(),
                  const std::vector<int> &fds = {});
    // As call(), but a failed response throws RemoteError with its message.
    nlohmann::json call_ok(const std::string &cmd,
                           const nlohmann::json &args = nlohmann::json::object(),
                           std::vector<std::string> *warnings = nullptr,
                           const std::vector<int> &fds = {});
    int fd() const { return fd_.get(); }

  private:
    explicit Client(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
    std::string buf_;
};

// Sends bytes with optional SCM_RIGHTS fds, all of it (retries on short writes and EINTR).
void send_all(int fd, std::string_view data, const std::vector<int> &fds = {});

}  // namespace oobbpf::daemon
