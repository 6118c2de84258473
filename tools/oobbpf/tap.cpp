// SPDX-License-Identifier: MIT
// oobbpf tap DEV [-w FILE] [-c COUNT] [-s SNAPLEN] [verdict divert|drop|pass|all]
//
// A tap session (abi.h "Tap sessions"): this process makes a ring, hands it to oobbpfd with
// tap.start, and reads it until COUNT frames, SIGINT/SIGTERM, or the daemon's end. The session
// lives as long as the connection: when this process ends, however it ends, oobbpfd sees the
// connection close, removes the session and clears the device's tap bit when no other session
// taps it.
#include "cli.h"

#include "error.h"
#include "fd.h"
#include "tap.h"

#include <bpf/bpf.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <memory>

namespace oobbpf::cli {

namespace {

volatile sig_atomic_t g_stop = 0;

void on_signal(int) {
    g_stop = 1;
}

}  // namespace

int run_tap(Ctx &c, const TapOptions &o) {
    const int verdict = tap::parse_verdict(o.verdict);
    daemon::Client &d = c.daemon();  // "not running" before anything else
    UniqueFd ring(tap::create_session_ring());
    std::vector<std::string> warnings;
    json r = d.call_ok("tap.start", {{"dev", o.dev}, {"verdict", o.verdict}, {"tx", true}},
                       &warnings, {ring.get()});
    for (const auto &w : warnings)
        std::cerr << "oobbpf: warning: " << w << "\n";
    const uint32_t slot = r["slot"];
    const uint32_t ifindex = r["ifindex"];

    // The session first, the file after: a bad device leaves an existing FILE alone, and a FILE
    // that cannot be opened ends this process, and the session with it.
    FILE *out = nullptr;
    std::unique_ptr<FILE, int (*)(FILE *)> file(nullptr, fclose);
    std::unique_ptr<tap::PcapngWriter> pcap;
    if (!o.write.empty()) {
        if (o.write == "-") {
            out = stdout;
        } else {
            file.reset(fopen(o.write.c_str(), "wb"));
            if (!file)
                throw sys_error("open " + o.write, errno);
            out = file.get();
        }
        pcap = std::make_unique<tap::PcapngWriter>(out, o.snaplen);
        pcap->flush();
    } else {
        std::cerr << "oobbpf: tapping " << o.dev << " (verdict " << o.verdict
                  << ", frames sent by liboob too); ^C to stop\n";
    }

    struct sigaction sa {};
    sa.sa_handler = on_signal;  // no SA_RESTART: the ring's epoll wait returns EINTR
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    signal(SIGPIPE, SIG_IGN);  // a reader that went away (tshark done) is a write error

    tap::Filter keep{verdict, ifindex, true};
    uint64_t captured = 0;
    bool write_failed = false;
    tap::Reader reader(ring.get(), [&](const tap::Record &rec) {
        if (write_failed || (o.count && captured >= o.count) || !keep.keep(rec.hdr))
            return;
        if (pcap) {
            try {
                pcap->write(rec, o.dev);
            } catch (const Error &) {
                write_failed = true;
                return;
            }
        } else {
            std::cout << tap::text_line(rec, o.dev) << "\n";
        }
        captured++;
    });

    std::string ended_by;
    while (!g_stop && !write_failed && !(o.count && captured >= o.count)) {
        reader.poll(100);
        if (pcap)
            pcap->flush();
        else
            std::cout.flush();
        if (ferror(out ? out : stdout))
            write_failed = true;
        // The daemon's end closes the connection: the session is gone with it.
        pollfd p{d.fd(), POLLIN, 0};
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
            ended_by = "oobbpfd closed the connection: the tap is off";
            break;
        }
    }
    reader.poll(0);  // what is already in the ring
    if (pcap && !write_failed)
        pcap->flush();

    uint64_t lost = 0;
    const std::string sess_path = c.paths.pin_root + "/" + OOB_PIN_TAP_SESS;
    if (UniqueFd sess(bpf_obj_get(sess_path.c_str())); sess) {
        oob_tap_sess s{};
        if (bpf_map_lookup_elem(sess.get(), &slot, &s) == 0 && s.ifindex == ifindex)
            lost = s.lost;
    }
    std::cerr << captured << " frames captured, " << lost << " dropped by the ring\n";
    if (!ended_by.empty()) {
        std::cerr << "oobbpf: " << ended_by << "\n";
        return 1;
    }
    return 0;
}

}  // namespace oobbpf::cli
