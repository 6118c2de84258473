// SPDX-License-Identifier: MIT
// The classifier fixture table through the C++ back-end, unprivileged (the same table runs
// through the XDP program in tests/bpf).
#include "fixture_table.h"
#include "soft.h"

#include <gtest/gtest.h>

using namespace oobbpf;
using namespace oobbpf::test;

TEST(SoftClassifier, FixtureTable) {
    const uint32_t ifindex[3] = {11, 12, 13};
    SoftTables t;
    configure_fixture(t, ifindex);
    t.set_xsk(0 * OOB_MAX_QUEUES + 0, true);
    size_t unusual = 0;
    for (const auto &c : fixture_cases()) {
        SCOPED_TRACE(c.what);
        Judgement j = t.classify(c.frame.data(), c.frame.size(), ifindex[c.dev], c.queue);
        EXPECT_EQ(j.verdict, c.verdict);
        EXPECT_EQ(j.reason, c.reason);
        EXPECT_EQ(j.rule_id, c.rule_id);
        EXPECT_EQ(j.port_id, c.port_id);
        unusual += c.reason != OOB_R_RULE && c.reason != OOB_R_DEFAULT;
    }
    EXPECT_GE(unusual, 30u);
}

// Every truncation of a valid frame is judged without reading past its end and goes in-band.
TEST(SoftClassifier, EveryTruncationPasses) {
    const uint32_t ifindex[3] = {11, 12, 13};
    SoftTables t;
    configure_fixture(t, ifindex);
    for (const auto &c : fixture_cases()) {
        if (c.verdict != OOB_DIVERT)
            continue;
        for (size_t n = 0; n + 1 < std::min<size_t>(c.frame.size(), 120); n++) {
            Bytes cut(c.frame.begin(), c.frame.begin() + static_cast<long>(n));
            Judgement j = t.classify(cut.data(), cut.size(), ifindex[c.dev], c.queue);
            EXPECT_NE(j.verdict, static_cast<uint32_t>(OOB_DIVERT)) << c.what << " cut at " << n;
        }
    }
}
