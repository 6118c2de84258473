// SPDX-License-Identifier: MIT
// Fuzz target: flow rules as users write them (userd/rules), the way `oobbpf rule add` and
// `oobbpf rule import FILE` read them.
//
// The input is
//   - with a NUL byte: command-line arguments, NUL-separated (argv may hold any bytes but NUL);
//   - starting with '[' or '{': a JSON rule file (an array of rules, or {"rules": [...]});
//   - otherwise: a rule file in the CLI grammar, one rule per line, '#' starting a comment.
// What must hold:
//   - bad input is one oobbpf::Error (anything else escaping is a crash here);
//   - errors of the text grammar are one line;
//   - every accepted rule survives its canonical forms: parse(split(format(r))) == r, and
//     from_json(to_json(r)) == r through the bytes of the control protocol (dump, parse);
//   - set validation and compilation of what was accepted refuse with oobbpf::Error only.
#include "error.h"
#include "rules.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace oobbpf;
using namespace oobbpf::rules;
using nlohmann::json;

namespace {

[[noreturn]] void broken(const std::string &what, const std::string &detail) {
    std::fprintf(stderr, "fuzz_rules: %s\n  %s\n", what.c_str(), detail.c_str());
    std::abort();
}

void one_line(const Error &e, const std::string &input) {
    const std::string m = e.what();
    if (m.empty() || m.find('\n') != std::string::npos)
        broken("an error is not one line: [" + m + "]", input);
}

void round_trips(const Rule &r) {
    Rule want = r;
    want.id = 0;
    try {
        Rule again = parse(split(format(r)));
        if (!(again == want))
            broken("format/parse changed the rule", format(r) + " -> " + format(again));
    } catch (const Error &e) {
        broken("the canonical text of an accepted rule is refused: " + std::string(e.what()),
               format(r));
    }
    // As the CLI sends it and the daemon (or its saved configuration) reads it back.
    json j = to_json(r);
    std::string bytes;
    try {
        bytes = j.dump();
    } catch (const json::exception &e) {
        broken("an accepted rule has no JSON text: " + std::string(e.what()), format(r));
    }
    try {
        Rule back = from_json(json::parse(bytes));
        if (!(back == r))
            broken("to_json/from_json changed the rule", bytes + " -> " + format(back));
    } catch (const std::exception &e) {
        broken("the JSON of an accepted rule is refused: " + std::string(e.what()), bytes);
    }
}

// Names the resolver knows: an untagged port, a VLAN port, another untagged port.
std::optional<PortRef> resolve(const std::string &dev) {
    if (dev == "eth0")
        return PortRef{2, 0};
    if (dev == "eth0.42")
        return PortRef{2, 42};
    if (dev == "eth1")
        return PortRef{3, 0};
    return std::nullopt;
}

void judge_set(std::vector<Rule> rs) {
    if (rs.empty() || rs.size() > 64)
        return;
    uint32_t id = 1;
    for (auto &r : rs)
        r.id = id++;
    try {
        validate(rs);
        validate(rs, resolve);
        CompileInfo info;
        RuleSetImage img = compile(rs, resolve, &info);
        if (img.masks.count > OOB_MAX_MASKS || info.masks != img.masks.count ||
            img.entries.size() != info.entries || info.rules != rs.size())
            broken("compile() reports what it did not make",
                   std::to_string(img.masks.count) + " masks, " +
                       std::to_string(img.entries.size()) + " entries");
        for (const auto &[k, v] : img.entries)
            if (k.tuple >= OOB_MAX_MASKS || v.rule_id == 0 || v.rule_id > rs.size())
                broken("compile() made an entry that names no rule",
                       std::to_string(k.tuple) + " " + std::to_string(v.rule_id));
    } catch (const Error &) {
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string in(reinterpret_cast<const char *>(data), size);
    std::vector<Rule> accepted;

    if (in.find('\0') != std::string::npos) {
        std::vector<std::string> argv;
        size_t pos = 0;
        for (;;) {
            size_t z = in.find('\0', pos);
            argv.push_back(in.substr(pos, z == std::string::npos ? std::string::npos : z - pos));
            if (z == std::string::npos)
                break;
            pos = z + 1;
        }
        try {
            accepted.push_back(parse(argv));
        } catch (const Error &) {
            // Arguments may carry newlines of their own, which the message quotes.
        }
    } else {
        const auto first = in.find_first_not_of(" \t\r\n");
        if (first != std::string::npos && (in[first] == '[' || in[first] == '{')) {
            json j = json::parse(in, nullptr, false);
            if (j.is_discarded())
                return 0;
            try {
                accepted = list_from_json(j.is_object() && j.contains("rules") ? j["rules"] : j);
            } catch (const Error &) {
            }
        } else {
            size_t pos = 0;
            while (pos <= in.size()) {
                size_t nl = in.find('\n', pos);
                std::string line = in.substr(pos, nl == std::string::npos ? nl : nl - pos);
                pos = nl == std::string::npos ? in.size() + 1 : nl + 1;
                if (auto hash = line.find('#'); hash != std::string::npos)
                    line.erase(hash);
                auto tokens = split(line);
                if (tokens.empty())
                    continue;
                try {
                    accepted.push_back(parse(tokens));
                } catch (const Error &e) {
                    one_line(e, line);
                }
            }
        }
    }

    for (const auto &r : accepted)
        round_trips(r);
    judge_set(std::move(accepted));
    return 0;
}
