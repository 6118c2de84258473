// SPDX-License-Identifier: MIT
// Fuzz target: the bytes of one control-socket connection to oobbpfd (userd/daemon/protocol.h),
// framed as the daemon frames them: lines ended by '\n' (a '\r' before it dropped, blank lines
// skipped), each parsed into a request whose arguments are then read through Args.
//
// What must hold:
//   - a bad request is one oobbpf::Error (anything else escaping is a crash here);
//   - every answer the daemon would write is one line that its client reads back as it was;
//   - an accepted request survives format_request/parse_request;
//   - typed argument access refuses with oobbpf::Error only;
//   - a request's arguments read as a saved configuration (config.h, what the daemon loads at
//     start) are refused with oobbpf::Error only, and an accepted one survives
//     to_json/config_from_json unchanged.
#include "config.h"
#include "error.h"
#include "protocol.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace oobbpf;
using namespace oobbpf::daemon;
using nlohmann::json;

namespace {

[[noreturn]] void broken(const std::string &what, const std::string &detail) {
    std::fprintf(stderr, "fuzz_control: %s\n  %s\n", what.c_str(), detail.c_str());
    std::abort();
}

// The answer goes out as one line and comes back as it went.
void answer(const Response &r) {
    std::string line;
    try {
        line = format_response(r);
    } catch (const std::exception &e) {
        broken("format_response threw: " + std::string(e.what()), r.error);
    }
    if (line.empty() || line.back() != '\n' || line.find('\n') != line.size() - 1)
        broken("an answer is not one line", line);
    Response back;
    try {
        back = parse_response(std::string_view(line).substr(0, line.size() - 1));
    } catch (const Error &e) {
        broken("the client refuses an answer: " + std::string(e.what()), line);
    }
    if (back.ok != r.ok)
        broken("the client reads another answer", line);
    // Invalid UTF-8 (a name in a request) is replaced on the way out: compare the rest.
    bool intact = true;
    try {
        (void)json(r.error).dump();
    } catch (const json::exception &) {
        intact = false;
    }
    if (intact && (r.ok ? back.result != r.result : back.error != r.error))
        broken("the client reads another answer", line);
}

// The accessors the commands use, on every member, with the ranges they use.
void read_args(const Request &req) {
    const Args a(req.args);
    for (const auto &[k, v] : req.args.items()) {
        const char *name = k.c_str();
        try {
            (void)a.str(name);
        } catch (const Error &) {
        }
        try {
            (void)a.opt_str(name);
        } catch (const Error &) {
        }
        try {
            (void)a.integer(name, 1, 4094);
        } catch (const Error &) {
        }
        try {
            (void)a.opt_integer(name, 0, INT64_MAX);
        } catch (const Error &) {
        }
        try {
            (void)a.boolean(name, false);
        } catch (const Error &) {
        }
        try {
            (void)a.raw(name);
        } catch (const Error &) {
        }
    }
    try {
        a.only({"dev", "queue", "rule", "rules", "id", "file", "section"});
    } catch (const Error &) {
    }
}

// The fuzzer steers arguments into the shape of a saved configuration (the corpus has some).
void configuration(const json &j) {
    Config c;
    try {
        c = config_from_json(j);
    } catch (const Error &) {
        return;
    }
    Config again;
    try {
        again = config_from_json(to_json(c));
    } catch (const Error &e) {
        broken("a configuration it wrote is refused: " + std::string(e.what()), j.dump());
    }
    if (!(again == c))
        broken("to_json/config_from_json changed the configuration", j.dump());
}

void request(const std::string &line) {
    Response r;
    try {
        Request req = parse_request(line);
        Request again = parse_request(format_request(req));
        if (again.cmd != req.cmd || again.args != req.args)
            broken("format_request/parse_request changed the request", line);
        read_args(req);
        configuration(req.args);
        r.ok = true;
        r.result = req.args;
    } catch (const Error &e) {
        r.ok = false;
        r.error = e.what();
    }
    answer(r);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string in(reinterpret_cast<const char *>(data), size);
    for (;;) {
        auto nl = in.find('\n');
        if (nl == std::string::npos)
            break;
        std::string line = in.substr(0, nl);
        in.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos)
            continue;
        request(line);
    }
    // What a client may send without a final newline is never answered; its parse must still
    // be safe (the daemon answers once the line is complete).
    if (!in.empty())
        try {
            (void)parse_request(in);
        } catch (const Error &) {
        }
    return 0;
}
