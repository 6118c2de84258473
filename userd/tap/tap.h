// SPDX-License-Identifier: MIT
// Taps: frames as the classifier judged them, read from the `tap` ring buffer, written as pcapng
// (each packet carries its judgement as a packet comment, which Wireshark and tshark show as
// frame.comment) or printed like tcpdump. No trampolines: the classifier itself copies the frames
// of devices whose OOB_DEV_TAP flag is set, only while a tap runs.
#pragma once

#include <oobbpf/abi.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

struct ring_buffer;

namespace oobbpf::tap {

// One tapped frame.
struct Record {
    oob_tap_hdr hdr{};
    std::vector<uint8_t> data;  // hdr.caplen bytes (before the snaplen cut)
};

// Names of verdicts and reasons, stable like their numbers.
const char *verdict_name(uint32_t v);
const char *reason_name(uint32_t r);
// "verdict=DIVERT reason=rule rule=7 port=1 queue=0 dir=rx"; for frames liboob sent
// "port=0 queue=0 dir=tx".
std::string judgement(const oob_tap_hdr &h);

// Which frames a tap keeps: received ones by verdict (all, or one of divert, drop, pass), and
// the ones liboob sent (dir tx), which no verdict applies to.
struct Filter {
    int verdict = -1;  // -1: all
    uint32_t ifindex = 0;  // 0: every device
    bool tx = true;
    bool keep(const oob_tap_hdr &h) const;
};
// The verdict mask of a tap session (oob_tap_sess.verdicts) for a parse_verdict() value.
uint32_t verdict_mask(int verdict);
// Parses "all", "divert", "drop", "pass"; throws oobbpf::Error otherwise.
int parse_verdict(const std::string &s);

// pcapng output: one interface block per device seen, nanosecond timestamps (wall clock).
class PcapngWriter {
public:
    // snaplen: bytes kept per frame (at most OOB_TAP_SNAP_MAX).
    PcapngWriter(FILE *out, uint32_t snaplen);
    void write(const Record &r, const std::string &ifname);
    void flush();

private:
    uint32_t interface_id(uint32_t ifindex, const std::string &ifname);
    FILE *out_;
    uint32_t snaplen_;
    std::map<uint32_t, uint32_t> ifaces_;
    int64_t mono_to_real_ns_;
};

// One line per frame, tcpdump-like: time, device, judgement, then a short decode.
std::string text_line(const Record &r, const std::string &ifname);

// A ring for one tap session (abi.h, "Tap sessions"): a BPF ring buffer of OOB_TAP_RING_SIZE
// bytes, the size oob_tap_rings takes. Needs CAP_BPF. Throws oobbpf::Error.
int create_session_ring();

// Reads tap records from the ring buffer map (by fd) and hands each to the callback.
class Reader {
public:
    using Callback = std::function<void(const Record &)>;
    Reader(int ring_fd, Callback cb);
    ~Reader();
    Reader(const Reader &) = delete;
    Reader &operator=(const Reader &) = delete;
    // Waits up to timeout_ms and delivers what arrived; returns the number of records.
    int poll(int timeout_ms);

private:
    static int on_sample(void *ctx, void *data, size_t size);
    ring_buffer *rb_ = nullptr;
    Callback cb_;
    int delivered_ = 0;
};

}  // namespace oobbpf::tap
