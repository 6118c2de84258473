// SPDX-License-Identifier: MIT
// Test environment of the selector tests: the classifier loaded from its skeleton with its maps
// pinned under a throwaway pin root (as the daemon pins them), entering namespaces, raw frames.
#pragma once

#include "bpf_tables.h"
#include "netns.h"
#include "packet.h"
#include "selectors.h"

#include <oobbpf/abi.h>

#include <cstdint>
#include <memory>
#include <string>

struct oob_xdp;

namespace oobbpf::test {

// build/bpf/NAME.bpf.o
std::string bpf_object_path(const std::string &name);

// The XDP classifier, loaded, its maps pinned under a fresh pin root with the abi.h names.
class Classifier {
  public:
    Classifier();
    ~Classifier();
    Classifier(const Classifier &) = delete;
    Classifier &operator=(const Classifier &) = delete;

    const std::string &pin_root() const { return root_; }
    BpfTables &tables() { return *tables_; }
    int prog_fd() const;
    // A diverting device record (config written too): flags, slot, port of untagged frames.
    void divert(uint32_t ifindex, uint32_t slot, uint32_t port_id,
                uint32_t flags = OOB_DEV_DIVERT | OOB_DEV_PORT);
    oob_dev dev(uint32_t ifindex) const;
    // Attaches in native mode to ifindex of the calling thread's network namespace.
    void attach(int ifindex);
    // The program id in a selector slot (0: empty).
    uint32_t slot_prog(uint32_t slot) const;

  private:
    oob_xdp *skel_ = nullptr;
    std::string root_;
    std::unique_ptr<BpfTables> tables_;
};

// Enters a named network namespace on the calling thread; back to the previous one on exit.
class InNetns {
  public:
    explicit InNetns(const Netns &ns);
    ~InNetns();
    InNetns(const InNetns &) = delete;
    InNetns &operator=(const InNetns &) = delete;

  private:
    int saved_ = -1;
};

// Raw frames out of a device (AF_PACKET), created in a namespace.
class RawSocket {
  public:
    RawSocket(const Netns &ns, const std::string &dev);
    ~RawSocket();
    RawSocket(const RawSocket &) = delete;
    RawSocket &operator=(const RawSocket &) = delete;
    void send(const Bytes &frame);

  private:
    int fd_ = -1;
    int ifindex_ = 0;
};

// Parses "aa:bb:cc:dd:ee:ff".
void parse_mac(const std::string &s, uint8_t out[6]);

// Sets frame's destination MAC (the first six bytes).
Bytes to_mac(Bytes frame, const uint8_t mac[6]);

}  // namespace oobbpf::test
