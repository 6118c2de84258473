// SPDX-License-Identifier: MIT
// Stands in for the daemon in liboob's tests and benchmark: loads the classifier skeleton, pins
// its maps under a pin root with the names the daemon uses (abi.h OOB_PIN_*), attaches it to
// devices inside namespaces, and writes dev records, VLAN ports and UDP diversion rules through
// oobbpf::BpfTables. Also: entering a namespace from a thread (setns), and finding ifindexes.
#pragma once

#include "bpf_tables.h"
#include "netns.h"

#include <oobbpf/abi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

struct oob_xdp;

namespace oobbpf::test {

// Moves the calling thread into a namespace for the object's lifetime; back on destruction.
// Sockets created meanwhile stay bound to that namespace.
class NetnsScope {
  public:
    explicit NetnsScope(const std::string &ns_name);
    ~NetnsScope();
    NetnsScope(const NetnsScope &) = delete;
    NetnsScope &operator=(const NetnsScope &) = delete;

  private:
    int old_ = -1;
};

// ifindex of dev inside ns (sysfs shows the host's devices only, so ask `ip`).
int ifindex_in(const Netns &ns, const std::string &dev);

class StagedClassifier {
  public:
    explicit StagedClassifier(std::string pin_root);
    ~StagedClassifier();
    StagedClassifier(const StagedClassifier &) = delete;
    StagedClassifier &operator=(const StagedClassifier &) = delete;

    // Attaches the classifier (native XDP) to dev in ns and writes its dev record: diversion
    // on, slot, and (untagged_port) the device itself a port with port_id. Returns the ifindex.
    uint32_t attach(const Netns &ns, const std::string &dev, uint32_t slot, uint32_t port_id,
                    bool untagged_port = true);
    // A VLAN port: (lower device, vid) with its own port id.
    void add_vlan_port(uint32_t lower_ifindex, uint16_t vid, uint32_t vlan_ifindex,
                       uint32_t port_id);
    // One rule set: divert UDP (IPv4 and IPv6) to each of dports, and every frame of each of
    // ethertypes (host order); rule ids from 1.
    // With fragments, also every IP fragment (a rule naming fragments, as users would write).
    void divert_udp(const std::vector<uint16_t> &dports,
                    const std::vector<uint16_t> &ethertypes = {}, bool fragments = false);

    oobbpf::BpfTables &tables() { return *tables_; }
    const std::string &pin_root() const { return root_; }
    int xsk_regs_fd() const;
    oob_port_stats port_stats(uint32_t port_id) const { return tables_->port_stats(port_id); }

  private:
    struct Attachment {
        std::string ns, dev;
        uint32_t ifindex;
    };
    std::string root_;
    oob_xdp *skel_ = nullptr;
    std::unique_ptr<oobbpf::BpfTables> tables_;
    std::vector<Attachment> attached_;
};

}  // namespace oobbpf::test
