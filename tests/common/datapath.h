// SPDX-License-Identifier: MIT
// The classifier as tests use it without the daemon: the embedded skeleton loaded, its maps as
// BpfTables, attached to a device of the namespace this process has entered, and AF_XDP
// sockets bound to a queue and registered in the XSKMAP.
#pragma once

#include "bpf_tables.h"
#include "packet.h"

#include <memory>
#include <string>
#include <vector>

struct oob_xdp;
struct xsk_umem;
struct xsk_socket;

namespace oobbpf::test {

// Moves the calling process into a namespace and back (RAII).
class EnterNetns {
public:
    explicit EnterNetns(const std::string &name);
    ~EnterNetns();
    EnterNetns(const EnterNetns &) = delete;
    EnterNetns &operator=(const EnterNetns &) = delete;

private:
    int home_ = -1;
};

class Datapath {
public:
    Datapath();  // open + load the skeleton; throws on failure
    ~Datapath();
    Datapath(const Datapath &) = delete;
    Datapath &operator=(const Datapath &) = delete;

    const MapFds &fds() const { return fds_; }
    BpfTables &tables() { return *tables_; }
    int prog_fd() const;
    // Attach to ifindex (in the current namespace); native unless generic is asked for.
    void attach(int ifindex, bool generic = false);
    // A fresh config (magic, version, generation 0).
    void init_config();

private:
    oob_xdp *skel_ = nullptr;
    MapFds fds_;
    std::unique_ptr<BpfTables> tables_;
    std::vector<std::pair<int, unsigned>> attached_;
};

// An AF_XDP socket (copy mode) on one queue of a device, with its UMEM and rings.
class XskSocket {
public:
    XskSocket(const std::string &dev, unsigned queue);
    ~XskSocket();
    XskSocket(const XskSocket &) = delete;
    XskSocket &operator=(const XskSocket &) = delete;

    int fd() const;
    // Puts this socket in the XSKMAP at slot * OOB_MAX_QUEUES + queue.
    void register_in(const MapFds &fds, unsigned slot);
    // Receives frames for up to timeout_ms; returns them (and recycles their buffers).
    std::vector<Bytes> receive(int timeout_ms, size_t max = 64);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    unsigned queue_;
};

}  // namespace oobbpf::test
