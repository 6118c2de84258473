// SPDX-License-Identifier: MIT
// The verifier's key lines. A rejection log is the walk of every path the verifier took; what a
// person needs is at its end: the error (one to a few lines of prose), the instruction it was
// looking at and the source line that instruction came from (";" lines, from BTF line info).
#include "selectors.h"

#include <cctype>
#include <regex>
#include <vector>

namespace oobbpf::selectors {

namespace {

std::string trim(const std::string &s) {
    size_t b = 0, e = s.size();
    while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
        b++;
    while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
        e--;
    return s.substr(b, e - b);
}

const std::regex kInsn(R"(^(\d+): \([0-9a-f]{2}\) (.*)$)");
// Register state ("0: R1=ctx() R10=fp0", "frame1: R2_w=..."), branch and backtracking notes.
// Not prose that merely starts with a register: "R2 offset is outside of the packet".
const std::regex kState(
    R"(^(\d+: )?(frame\d+: )?R\d+(_[a-z]+)?=|^from \d+ to \d+:|^func#\d+|^mark_precise|^last_idx|^regs=|^parent )");
const std::regex kStats(
    R"(^(processed \d+ insns|verification time|stack depth|max_states_per_insn|mark_read))");

}  // namespace

std::string verifier_summary(const std::string &log) {
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos < log.size()) {
        size_t nl = log.find('\n', pos);
        if (nl == std::string::npos)
            nl = log.size();
        std::string l = trim(log.substr(pos, nl - pos));
        if (!l.empty())
            lines.push_back(l);
        pos = nl + 1;
    }
    while (!lines.empty() && std::regex_search(lines.back(), kStats))
        lines.pop_back();
    if (lines.empty())
        return "no log";

    // The error: the prose lines at the end, after the last instruction, state or source line.
    std::vector<std::string> err;
    size_t i = lines.size();
    while (i > 0) {
        const std::string &l = lines[i - 1];
        if (std::regex_search(l, kInsn) || std::regex_search(l, kState) || l[0] == ';')
            break;
        err.insert(err.begin(), l);
        i--;
    }
    if (err.empty())
        err.push_back(lines.back());
    if (err.size() > 3)
        err.erase(err.begin(), err.end() - 3);
    std::string out;
    for (const auto &e : err)
        out += (out.empty() ? "" : "; ") + e;

    // Where: the last instruction before the error, and the source line it came from.
    std::string insn, src;
    for (size_t j = i; j > 0; j--) {
        const std::string &l = lines[j - 1];
        std::smatch m;
        if (insn.empty() && std::regex_match(l, m, kInsn)) {
            std::string text = m[2];
            // Drop the register state the verifier appends after "  ; ".
            size_t semi = text.find("  ; ");
            if (semi != std::string::npos)
                text = trim(text.substr(0, semi));
            insn = "insn " + m[1].str() + " `" + text + "`";
        } else if (l[0] == ';' && !insn.empty()) {
            std::string s = trim(l.substr(1));
            size_t at = s.rfind(" @ ");
            if (at != std::string::npos)
                src = "`" + trim(s.substr(0, at)) + "` (" + s.substr(at + 3) + ")";
            else
                src = "`" + s + "`";
            break;
        }
    }
    if (!insn.empty())
        out += ", at " + insn;
    if (!src.empty())
        out += ": " + src;
    return out;
}

}  // namespace oobbpf::selectors
