// SPDX-License-Identifier: MIT
// A tap taken during real traffic holds exactly the diverted frames, with the right verdicts, in
// a pcapng file that tshark reads; with the verdict filter at `all` it also holds the in-band
// frames of the device, each with its judgement. Two sessions on one device each get their own
// copies (each through its own ring), filtered by their own verdict masks in the kernel.
#include "datapath.h"
#include "error.h"
#include "fd.h"
#include "netns.h"
#include "tap.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>

#include <thread>

using namespace oobbpf;
using namespace oobbpf::test;

namespace {

RuleSetImage divert_udp_dport(uint16_t port) {
    RuleSetImage img;
    oob_rule_key m{}, k{};
    m.flags = OOB_KF_FRAG;
    m.l4proto = 0xff;
    m.dport = 0xffff;
    k.l4proto = 17;
    k.dport = htons(port);
    img.masks.count = 1;
    img.masks.mask[0] = m;
    img.masks.best_prio[0] = 10;
    img.entries.push_back({k, oob_rule_val{1, 10, OOB_DIVERT, 0}});
    return img;
}

// A map of the loaded classifier, by name (the test datapath names only the older maps).
UniqueFd prog_map(int prog_fd, const std::string &name) {
    bpf_prog_info info{};
    uint32_t ids[64] = {};
    info.nr_map_ids = 64;
    info.map_ids = reinterpret_cast<uint64_t>(ids);
    uint32_t len = sizeof(info);
    if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
        return UniqueFd();
    for (uint32_t i = 0; i < info.nr_map_ids; i++) {
        UniqueFd fd(bpf_map_get_fd_by_id(ids[i]));
        bpf_map_info mi{};
        uint32_t mlen = sizeof(mi);
        if (fd && bpf_obj_get_info_by_fd(fd.get(), &mi, &mlen) == 0 && name == mi.name)
            return fd;
    }
    return UniqueFd();
}

// What oobbpfd does for tap.start: the ring into the slot, then the session.
void start_session(int rings, int sess, uint32_t slot, int ring, const oob_tap_sess &s) {
    ASSERT_EQ(bpf_map_update_elem(rings, &slot, &ring, BPF_ANY), 0) << strerror(errno);
    ASSERT_EQ(bpf_map_update_elem(sess, &slot, &s, BPF_ANY), 0) << strerror(errno);
}

}  // namespace

TEST(Tap, PcapngHoldsExactlyTheDivertedFrames) {
    OOBBPF_REQUIRE_PRIVILEGE();
    Netns oob, peer;
    Veth v = make_veth(oob, peer, "10.80.0.1/24", "10.80.0.2/24");
    const auto ifindex = static_cast<uint32_t>(oob.ifindex(v.a));
    EnterNetns in(oob.name());
    Datapath dp;
    dp.tables().put_dev(ifindex, oob_dev{OOB_DEV_DIVERT | OOB_DEV_PORT | OOB_DEV_TAP, 0, 1, 0});
    install_rules(dp.tables(), divert_udp_dport(7000));
    dp.attach(static_cast<int>(ifindex));
    XskSocket xsk(v.a, 0);
    xsk.register_in(dp.fds(), 0);

    UniqueFd rings = prog_map(dp.prog_fd(), "oob_tap_rings");
    UniqueFd sess = prog_map(dp.prog_fd(), "oob_tap_sess");
    ASSERT_TRUE(rings && sess);
    UniqueFd ring_all(tap::create_session_ring()), ring_divert(tap::create_session_ring()),
        ring_other(tap::create_session_ring());
    // Session 0 keeps every verdict, session 3 only DIVERT, session 5 taps another device.
    start_session(rings.get(), sess.get(), 0, ring_all.get(),
                  oob_tap_sess{ifindex, tap::verdict_mask(-1), OOB_TAP_KEEP_TX, 0, 0, 0});
    start_session(rings.get(), sess.get(), 3, ring_divert.get(),
                  oob_tap_sess{ifindex, tap::verdict_mask(OOB_DIVERT), 0, 0, 0, 0});
    start_session(rings.get(), sess.get(), 5, ring_other.get(),
                  oob_tap_sess{ifindex + 1000, tap::verdict_mask(-1), 0, 0, 0, 0});

    std::vector<tap::Record> all, diverted, other;
    tap::Reader reader(ring_all.get(), [&](const tap::Record &r) { all.push_back(r); });
    tap::Reader reader2(ring_divert.get(), [&](const tap::Record &r) { diverted.push_back(r); });
    tap::Reader reader3(ring_other.get(), [&](const tap::Record &r) { other.push_back(r); });

    peer.sh_ok("ping -c2 -i0.2 -W2 10.80.0.1 >/dev/null");
    peer.sh_ok("for i in $(seq 10); do echo d$i | socat -u - UDP:10.80.0.1:7000; done");
    peer.sh_ok("for i in $(seq 5); do echo p$i | socat -u - UDP:10.80.0.1:7001; done");
    for (int i = 0; i < 10 && reader.poll(200) >= 0; i++) {
    }
    reader2.poll(100);
    reader3.poll(100);
    EXPECT_EQ(xsk.receive(500).size(), 10u);

    // The second session's ring holds the ten diverted frames and nothing else; the session of
    // another device got nothing; the sessions count their copies.
    EXPECT_EQ(diverted.size(), 10u);
    for (const auto &r : diverted)
        EXPECT_EQ(r.hdr.verdict, static_cast<uint32_t>(OOB_DIVERT));
    EXPECT_TRUE(other.empty());
    oob_tap_sess s0{}, s3{};
    uint32_t k0 = 0, k3 = 3;
    bpf_map_lookup_elem(sess.get(), &k3, &s3);
    // The unfiltered session keeps taking the device's own chatter (IPv6 neighbour discovery)
    // while the test reads: its count and its ring agree once the ring is drained after the
    // count was read, with nothing new in between.
    for (int i = 0; i < 20; i++) {
        bpf_map_lookup_elem(sess.get(), &k0, &s0);
        while (reader.poll(50) > 0) {
        }
        if (s0.copied == all.size())
            break;
    }
    EXPECT_EQ(s0.copied, all.size());
    EXPECT_EQ(s3.copied, 10u);
    EXPECT_EQ(s0.lost + s3.lost, 0u);

    const std::string file = "/tmp/oobbpf-tap-" + v.a + ".pcapng";
    FILE *f = fopen(file.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    {
        tap::PcapngWriter w(f, 256);
        tap::Filter divert{OOB_DIVERT, ifindex};
        for (const auto &r : all)
            if (divert.keep(r.hdr))
                w.write(r, v.a);
        w.flush();
    }
    fclose(f);

    CmdResult t = sh("tshark -r " + file +
                     " -T fields -e udp.dstport -e frame.comment -E separator=';' 2>/dev/null");
    sh("rm -f " + file);
    ASSERT_EQ(t.status, 0) << t.out;
    int lines = 0;
    size_t pos = 0;
    for (std::string line; pos < t.out.size(); pos = t.out.find('\n', pos) + 1) {
        line = t.out.substr(pos, t.out.find('\n', pos) - pos);
        if (line.empty())
            break;
        lines++;
        EXPECT_EQ(line.substr(0, 5), "7000;") << line;
        EXPECT_NE(line.find("verdict=DIVERT reason=rule rule=1 port=1 queue=0"),
                  std::string::npos)
            << line;
    }
    EXPECT_EQ(lines, 10) << t.out;

    // The unfiltered tap saw every frame of the device: the in-band ones are PASS.
    size_t pass_udp = 0, control = 0;
    for (const auto &r : all) {
        if (r.hdr.verdict == OOB_PASS && r.hdr.reason == OOB_R_DEFAULT)
            pass_udp += tap::text_line(r, v.a).find(".7001: UDP") != std::string::npos;
        control += r.hdr.reason == OOB_R_CONTROL;
    }
    EXPECT_EQ(pass_udp, 5u);
    EXPECT_GE(control, 1u);  // ARP
}

TEST(Tap, VerdictNamesAndFilter) {
    EXPECT_EQ(tap::parse_verdict("divert"), OOB_DIVERT);
    EXPECT_EQ(tap::parse_verdict("all"), -1);
    EXPECT_THROW(tap::parse_verdict("sometimes"), Error);
    oob_tap_hdr h{};
    h.verdict = OOB_DROP;
    h.reason = OOB_R_RULE;
    h.rule_id = 3;
    EXPECT_EQ(tap::judgement(h), "verdict=DROP reason=rule rule=3 port=0 queue=0 dir=rx");
    EXPECT_TRUE((tap::Filter{OOB_DROP, 0}.keep(h)));
    EXPECT_FALSE((tap::Filter{OOB_DIVERT, 0}.keep(h)));
    EXPECT_STREQ(tap::reason_name(OOB_R_BAD_IP6_HDR), "bad-ip6-hdr");
}
