// SPDX-License-Identifier: MIT
#include "tap.h"

#include "error.h"
#include "metrics.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cstring>
#include <ctime>

namespace oobbpf::tap {

namespace {

int64_t now_ns(clockid_t c) {
    timespec ts{};
    clock_gettime(c, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

void put32(std::vector<uint8_t> &b, uint32_t v) {
    uint8_t x[4];
    std::memcpy(x, &v, 4);
    b.insert(b.end(), x, x + 4);
}

void put16(std::vector<uint8_t> &b, uint16_t v) {
    uint8_t x[2];
    std::memcpy(x, &v, 2);
    b.insert(b.end(), x, x + 2);
}

void pad4(std::vector<uint8_t> &b) {
    while (b.size() % 4)
        b.push_back(0);
}

void option(std::vector<uint8_t> &b, uint16_t code, const void *data, size_t len) {
    put16(b, code);
    put16(b, static_cast<uint16_t>(len));
    const auto *p = static_cast<const uint8_t *>(data);
    b.insert(b.end(), p, p + len);
    pad4(b);
}

// A block: type, total length, body, total length again.
void block(FILE *out, uint32_t type, const std::vector<uint8_t> &body) {
    std::vector<uint8_t> b;
    const uint32_t total = static_cast<uint32_t>(12 + body.size());
    put32(b, type);
    put32(b, total);
    b.insert(b.end(), body.begin(), body.end());
    put32(b, total);
    if (fwrite(b.data(), 1, b.size(), out) != b.size())
        throw sys_error("write pcapng", errno);
}

uint16_t get16(const uint8_t *p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

std::string decode(const std::vector<uint8_t> &d, uint32_t len) {
    char buf[256];
    if (d.size() < 14)
        return "truncated frame";
    size_t off = 12;
    uint16_t type = get16(&d[off]);
    std::string vlan;
    while ((type == 0x8100 || type == 0x88a8) && d.size() >= off + 6) {
        vlan += "vlan " + std::to_string(get16(&d[off + 2]) & 0xfff) + " ";
        off += 4;
        type = get16(&d[off]);
    }
    off += 2;
    if (type == 0x0800 && d.size() >= off + 20) {
        const uint8_t *ip = &d[off];
        char s[INET_ADDRSTRLEN], t[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, ip + 12, s, sizeof(s));
        inet_ntop(AF_INET, ip + 16, t, sizeof(t));
        size_t l4 = off + (ip[0] & 0xf) * 4u;
        const bool frag = (get16(ip + 6) & 0x3fff) != 0;
        if (!frag && (ip[9] == 17 || ip[9] == 6) && d.size() >= l4 + 4) {
            snprintf(buf, sizeof(buf), "%sIP %s.%u > %s.%u: %s, length %u", vlan.c_str(), s,
                     get16(&d[l4]), t, get16(&d[l4 + 2]), ip[9] == 17 ? "UDP" : "TCP", len);
        } else {
            snprintf(buf, sizeof(buf), "%sIP %s > %s: proto %u%s, length %u", vlan.c_str(), s, t,
                     ip[9], frag ? " (fragment)" : "", len);
        }
        return buf;
    }
    if (type == 0x86dd && d.size() >= off + 40) {
        char s[INET6_ADDRSTRLEN], t[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &d[off + 8], s, sizeof(s));
        inet_ntop(AF_INET6, &d[off + 24], t, sizeof(t));
        snprintf(buf, sizeof(buf), "%sIP6 %s > %s: next header %u, length %u", vlan.c_str(), s,
                 t, d[off + 6], len);
        return buf;
    }
    if (type == 0x0806)
        return vlan + "ARP, length " + std::to_string(len);
    snprintf(buf, sizeof(buf), "%sethertype 0x%04x, length %u", vlan.c_str(), type, len);
    return buf;
}

}  // namespace

const char *verdict_name(uint32_t v) {
    switch (v) {
    case OOB_PASS: return "PASS";
    case OOB_DIVERT: return "DIVERT";
    case OOB_DROP: return "DROP";
    case OOB_SKIP: return "SKIP";
    default: return "?";
    }
}

const char *reason_name(uint32_t r) { return reason_label(r); }

std::string judgement(const oob_tap_hdr &h) {
    if (h.dir == OOB_TAP_TX)  // sent by liboob: nothing judged it
        return "port=" + std::to_string(h.port_id) + " queue=" + std::to_string(h.queue) +
               " dir=tx";
    std::string s = std::string("verdict=") + verdict_name(h.verdict) + " reason=" +
                    reason_name(h.reason);
    if (h.rule_id)
        s += " rule=" + std::to_string(h.rule_id);
    s += " port=" + std::to_string(h.port_id) + " queue=" + std::to_string(h.queue);
    s += h.dir == OOB_TAP_TX ? " dir=tx" : " dir=rx";
    return s;
}

bool Filter::keep(const oob_tap_hdr &h) const {
    if (ifindex && h.ifindex != ifindex)
        return false;
    if (h.dir == OOB_TAP_TX)
        return tx;
    return verdict < 0 || h.verdict == static_cast<uint32_t>(verdict);
}

int parse_verdict(const std::string &s) {
    if (s == "all")
        return -1;
    if (s == "divert")
        return OOB_DIVERT;
    if (s == "drop")
        return OOB_DROP;
    if (s == "pass")
        return OOB_PASS;
    throw Error("verdict must be one of divert, drop, pass, all (got \"" + s + "\")");
}

uint32_t verdict_mask(int verdict) {
    if (verdict < 0)
        return (1U << OOB_VERDICT_MAX) - 1;
    return 1U << verdict;
}

int create_session_ring() {
    int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "oob_tap_ring", 0, 0, OOB_TAP_RING_SIZE, nullptr);
    if (fd < 0)
        throw sys_error("create a tap ring (BPF ring buffer; needs CAP_BPF)", -fd);
    return fd;
}

PcapngWriter::PcapngWriter(FILE *out, uint32_t snaplen)
    : out_(out), snaplen_(snaplen ? std::min<uint32_t>(snaplen, OOB_TAP_SNAP_MAX)
                                  : OOB_TAP_SNAP_MAX),
      mono_to_real_ns_(now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC)) {
    std::vector<uint8_t> shb;
    put32(shb, 0x1a2b3c4d);  // byte-order magic
    put16(shb, 1);           // version 1.0
    put16(shb, 0);
    put32(shb, 0xffffffff);  // section length unknown
    put32(shb, 0xffffffff);
    const char app[] = "oobbpf tap";
    option(shb, 4 /* shb_userappl */, app, sizeof(app) - 1);
    put32(shb, 0);  // opt_endofopt
    block(out_, 0x0a0d0d0a, shb);
}

uint32_t PcapngWriter::interface_id(uint32_t ifindex, const std::string &ifname) {
    auto it = ifaces_.find(ifindex);
    if (it != ifaces_.end())
        return it->second;
    std::vector<uint8_t> idb;
    put16(idb, 1);  // LINKTYPE_ETHERNET
    put16(idb, 0);
    put32(idb, snaplen_);
    option(idb, 2 /* if_name */, ifname.data(), ifname.size());
    const uint8_t tsresol = 9;  // nanoseconds
    option(idb, 9 /* if_tsresol */, &tsresol, 1);
    put32(idb, 0);
    block(out_, 1, idb);
    const uint32_t id = static_cast<uint32_t>(ifaces_.size());
    ifaces_[ifindex] = id;
    return id;
}

void PcapngWriter::write(const Record &r, const std::string &ifname) {
    const uint32_t id = interface_id(r.hdr.ifindex, ifname);
    const uint32_t cap = std::min<uint32_t>(static_cast<uint32_t>(r.data.size()), snaplen_);
    const uint64_t ts = static_cast<uint64_t>(static_cast<int64_t>(r.hdr.ts_ns) + mono_to_real_ns_);
    std::vector<uint8_t> epb;
    put32(epb, id);
    put32(epb, static_cast<uint32_t>(ts >> 32));
    put32(epb, static_cast<uint32_t>(ts));
    put32(epb, cap);
    put32(epb, r.hdr.len);
    epb.insert(epb.end(), r.data.begin(), r.data.begin() + cap);
    pad4(epb);
    const std::string comment = "oobbpf " + judgement(r.hdr);
    option(epb, 1 /* opt_comment */, comment.data(), comment.size());
    const uint32_t flags = r.hdr.dir == OOB_TAP_TX ? 2 : 1;  // epb_flags: outbound / inbound
    option(epb, 2 /* epb_flags */, &flags, 4);
    put32(epb, 0);
    block(out_, 6, epb);
}

void PcapngWriter::flush() { fflush(out_); }

std::string text_line(const Record &r, const std::string &ifname) {
    const int64_t real =
        static_cast<int64_t>(r.hdr.ts_ns) + (now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC));
    time_t secs = real / 1000000000LL;
    tm t{};
    localtime_r(&secs, &t);
    char ts[64];
    snprintf(ts, sizeof(ts), "%02d:%02d:%02d.%06lld", t.tm_hour, t.tm_min, t.tm_sec,
             static_cast<long long>(real % 1000000000LL / 1000));
    if (r.hdr.dir == OOB_TAP_TX)
        return std::string(ts) + " " + ifname + " Out SENT (liboob) q" +
               std::to_string(r.hdr.queue) + " " + decode(r.data, r.hdr.len);
    std::string verdict = verdict_name(r.hdr.verdict);
    std::string why = reason_name(r.hdr.reason);
    if (r.hdr.rule_id)
        why += " " + std::to_string(r.hdr.rule_id);
    return std::string(ts) + " " + ifname + " In  " + verdict + " (" + why + ") q" +
           std::to_string(r.hdr.queue) + " " + decode(r.data, r.hdr.len);
}

Reader::Reader(int ring_fd, Callback cb) : cb_(std::move(cb)) {
    rb_ = ring_buffer__new(ring_fd, &Reader::on_sample, this, nullptr);
    if (!rb_)
        throw sys_error("open the tap ring buffer", errno);
}

Reader::~Reader() { ring_buffer__free(rb_); }

int Reader::on_sample(void *ctx, void *data, size_t size) {
    auto *self = static_cast<Reader *>(ctx);
    if (size < sizeof(oob_tap_hdr))
        return 0;
    Record r;
    std::memcpy(&r.hdr, data, sizeof(r.hdr));
    const size_t cap = std::min<size_t>(r.hdr.caplen, size - sizeof(oob_tap_hdr));
    const auto *p = static_cast<const uint8_t *>(data) + sizeof(oob_tap_hdr);
    r.data.assign(p, p + cap);
    self->cb_(r);
    self->delivered_++;
    return 0;
}

int Reader::poll(int timeout_ms) {
    delivered_ = 0;
    int rc = ring_buffer__poll(rb_, timeout_ms);
    if (rc < 0 && rc != -EINTR)
        throw sys_error("poll the tap ring buffer", rc);
    return delivered_;
}

}  // namespace oobbpf::tap
