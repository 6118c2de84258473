// SPDX-License-Identifier: MIT
// Writes the seed corpus of fuzz_classifier (tests/fuzz/corpus/classifier/) from the classifier's
// fixture table (tests/common/fixture_table.h), in fuzz_classifier's input form:
//   classifier_seeds DIR
// The configuration is the fixture's (A an untagged port, B with VLAN port 42, C not diverting,
// global oob VLAN set {100}, A's set {200}, a socket on A's queue 0), the rules are the fixture's
// rules written in the CLI grammar, and the frames are the fixture's, a few per file.
#include "fixture_table.h"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace oobbpf::test;

namespace {

const char *kRules =
    "udp dport 7000 prio 10 action divert\n"
    "udp dport 7100-7103 prio 20 action drop\n"
    "dst 10.9.0.0/16 prio 5 action pass\n"
    "frag udp dst 10.0.0.2/32 prio 10 action divert\n"
    "vlan 42 tcp dport 80 prio 10 action divert\n";

// A replaced rule set (generation flip), devices named, every device flag.
const char *kFlipRules =
    "udp action divert\n"
    "--\n"
    "dev a udp dport 7000-7010 prio 1 action divert\n"
    "dev b.42 ip6 prio 2 action drop\n"
    "ether 0x88b5 prio 3 action divert\n"
    "proto 0 frag prio 4 action pass\n";

void put_frame(std::string &s, const Case &c) {
    s += static_cast<char>(c.dev + 3 * c.queue);
    s += static_cast<char>(c.frame.size() >> 8);
    s += static_cast<char>(c.frame.size() & 0xff);
    s.append(c.frame.begin(), c.frame.end());
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: classifier_seeds DIR\n");
        return 2;
    }
    const std::string dir = argv[1];
    std::vector<Case> cases;
    for (auto &c : fixture_cases())
        if (c.frame.size() <= 1600)  // seeds stay small; the fuzzer grows frames itself
            cases.push_back(c);

    const size_t per_file = 8;
    int files = 0;
    for (size_t i = 0; i < cases.size(); i += per_file) {
        for (int variant = 0; variant < 2; variant++) {
            std::string s;
            if (variant == 0) {
                s = {3, 1, 0, 1, 2 | 8 | 16};
                s += kRules;
            } else {
                s = {7, 5, 4, 0x3f, 0x3f};
                s += kFlipRules;
            }
            s += '\n';
            for (size_t k = i; k < i + per_file && k < cases.size(); k++)
                put_frame(s, cases[k]);
            std::ofstream out(
                dir + "/fixture-" + std::to_string(i / per_file) + (variant ? "-flip" : ""),
                std::ios::binary);
            out << s;
            if (!out) {
                std::fprintf(stderr, "classifier_seeds: cannot write into %s\n", dir.c_str());
                return 1;
            }
            files++;
        }
    }
    std::printf("%d seeds from %zu fixture frames\n", files, cases.size());
    return 0;
}
