// SPDX-License-Identifier: MIT
// The classifier's fixture table, shared by the BPF_PROG_TEST_RUN test (tests/bpf) and the
// unprivileged test of the C++ back-end (tests/unit): every parse path, port/VLAN case and
// action, with at least 30 malformed or unusual frames.
//
// The environment: device 0 (A) is diverting and an untagged port (port 1, slot 0); device 1 (B)
// is diverting, not a port itself, with VLAN port 42 (port 2, slot 1); device 2 (C) has no
// diversion. Global oob VLAN set {100} (port 3), A's own set {200} (port 4). An oob socket sits
// on A's queue 0 only.
#pragma once

#include "packet.h"
#include "tables.h"

#include <string>
#include <vector>

namespace oobbpf::test {

struct Case {
    std::string what;
    int dev;  // 0: A, 1: B, 2: C
    uint32_t queue;
    Bytes frame;
    uint32_t verdict, reason, rule_id, port_id;
};

RuleSetImage fixture_rules();
std::vector<Case> fixture_cases();
// Puts the environment above into t, with the given ifindexes of A, B, C.
void configure_fixture(Tables &t, const uint32_t ifindex[3]);

}  // namespace oobbpf::test
