// SPDX-License-Identifier: MIT
// The data path loader: the oob_xdp classifier (bytecode embedded through its skeleton), its maps
// pinned under the pin root, and its attachments to devices.
//
// Pinned layout (names are part of the user interface, include/oobbpf/abi.h OOB_PIN_*):
//   <root>/config devs ports vlans rules rule_masks rule_stats port_stats last xsks xsk_regs
//          selectors                 the classifier's maps
//   <root>/progs/oob_xdp             the running classifier
//   <root>/links/<ifname>            one XDP bpf_link per diverting device
// and, beside the control socket, <socket>.prog: which build's classifier is pinned (a hash of the
// embedded object and its prog id), so that a restart of the same build adopts it without loading
// it again.
//
// Attachments outlive the daemon on purpose: diversion is what the oob applications rely on, and
// a daemon restart (upgrade, crash, config reload) must not send their flows in-band for a
// moment. So each attachment is a bpf_link pinned in bpffs: it holds the program on the device
// until it is unpinned, whoever runs. The restarted daemon adopts the pins it finds. Where the
// kernel can attach BPF extensions (freplace), attachments go through libxdp's dispatcher
// instead, so other XDP programs keep running beside ours; libxdp pins that state itself under
// /sys/fs/bpf/xdp/ (ifindex-based names: one bpffs per namespace, as libxdp assumes).
#pragma once

#include "bpf_tables.h"
#include "fd.h"
#include "paths.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct oob_xdp;

namespace oobbpf::daemon {

enum class XdpMode { Native, Generic };
const char *mode_name(XdpMode m);
std::optional<XdpMode> parse_mode(const std::string &s);

// How oob_xdp sits on a device.
struct Attachment {
    uint32_t ifindex = 0;
    std::string ifname;
    XdpMode mode = XdpMode::Native;
    bool dispatcher = false;  // through libxdp's dispatcher (else a pinned bpf_link of our own)
    bool adopted = false;     // found in place at start
    uint32_t prog_id = 0;
    uint32_t link_id = 0;
};
nlohmann::json to_json(const Attachment &a);

// The XDP program a device runs, whoever put it there (bpf_xdp_query).
struct XdpState {
    uint32_t prog_id = 0;  // 0: none
    std::string prog_name;
    std::optional<XdpMode> mode;
    bool multi = false;  // programs in more than one mode
};
XdpState query_xdp(uint32_t ifindex);

// The maps of a pin root opened by path: the CLI's view when it reads them directly.
class PinnedMaps {
  public:
    // Throws oobbpf::Error naming the first map that cannot be opened.
    explicit PinnedMaps(const std::string &pin_root);
    const MapFds &fds() const { return fds_; }
    // An optional extra map (e.g. OOB_PIN_ROUTES, written by the route learner): -1 if absent.
    static UniqueFd open_optional(const std::string &pin_root, const char *name);

  private:
    std::vector<UniqueFd> owned_;
    MapFds fds_;
};

class Datapath {
  public:
    struct Options {
        Paths paths;
        bool use_dispatcher = false;  // libxdp's dispatcher; only where freplace works
    };

    // Mounts bpffs if needed, opens the skeleton, reuses the compatible pinned maps (an
    // incompatible one is an error, never silently replaced), loads, pins, initialises
    // oob_config, and adopts the program and attachments already pinned.
    explicit Datapath(const Options &o);
    ~Datapath();
    Datapath(const Datapath &) = delete;
    Datapath &operator=(const Datapath &) = delete;

    const MapFds &maps() const { return fds_; }
    BpfTables &tables() { return tables_; }
    // Messages worth a line in the log and in status: adoption, upgrades, stale pins removed.
    const std::vector<std::string> &notes() const { return notes_; }
    bool upgraded() const { return upgraded_; }

    // Attachments found at start or made since, by ifindex.
    const std::map<uint32_t, Attachment> &attachments() const { return attached_; }
    std::optional<Attachment> attachment(uint32_t ifindex) const;

    // Puts oob_xdp on a device. mode: nullopt tries native, then generic with a warning.
    // A foreign XDP program on the device is an error unless force (then it is replaced).
    // Re-attaching in another mode detaches first. Throws oobbpf::Error.
    Attachment attach(uint32_t ifindex, const std::string &ifname, std::optional<XdpMode> mode,
                      bool force, std::vector<std::string> &warnings);
    // Takes oob_xdp off a device (no-op when it is not there).
    void detach(uint32_t ifindex);
    // The device is gone: its link is defunct; drop the pin and the record.
    void forget(uint32_t ifindex);

    // Removes every attachment and pin this pin root holds (maps, links, program), and the pin
    // root itself when empty. Leaves anything else alone. Static: works without loading.
    static std::vector<std::string> cleanup(const Paths &p);

  private:
    void open_and_load(bool load_program);
    UniqueFd recorded_program() const;
    bool uses_our_maps(int prog_fd) const;
    void record_program();
    static std::string record_path(const Paths &p);
    void reuse_pinned_maps();
    void init_config();
    void adopt_program();
    void adopt_links();
    void adopt_dispatchers();
    Attachment attach_link(uint32_t ifindex, const std::string &ifname, XdpMode mode);
    Attachment attach_dispatcher(uint32_t ifindex, const std::string &ifname, XdpMode mode);
    std::string link_pin(const std::string &ifname) const;

    Options o_;
    oob_xdp *skel_ = nullptr;
    UniqueFd prog_;  // the running classifier (adopted, or loaded now)
    uint32_t prog_id_ = 0;
    MapFds fds_;
    BpfTables tables_{MapFds{}};
    std::map<uint32_t, Attachment> attached_;
    std::map<uint32_t, UniqueFd> links_;          // link mode: our bpf_link per device
    std::map<uint32_t, std::string> link_paths_;  // ... and where it is pinned
    std::vector<std::string> notes_;
    bool upgraded_ = false;
};

}  // namespace oobbpf::daemon
