// SPDX-License-Identifier: MIT
// oobbpfd: owns the data path of one network namespace (DESIGN.md "Control plane").
//
// The configuration (config.h) says what is wanted, by device name; apply() makes the maps and
// the attachments say the same for the devices present now, and is called after every change,
// every device event and at start. A command changes a copy of the configuration, applies it,
// and on failure applies the previous one again: bad input changes nothing.
//
// Single-threaded: one poll loop serves the control socket, rtnetlink device events, the
// learner's fds, signals and a one-second tick. Nothing a client sends can stop it: every request
// is parsed and answered inside a catch-all.
#pragma once

#include "config.h"
#include "datapath.h"
#include "route_learner.h"
#include "netlink.h"
#include "paths.h"
#include "probes.h"
#include "protocol.h"
#include "selector_loader.h"

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace oobbpf::daemon {

struct DaemonOptions {
    Paths paths;
    std::optional<gid_t> group;    // admitted besides root
    std::string learner = "auto";  // back-end: auto, none, or a registered name
    bool dispatcher = true;        // use libxdp's dispatcher where freplace works
    bool verbose = false;
};

// Who is asking (SO_PEERCRED).
struct Peer {
    pid_t pid = 0;
    uid_t uid = 0;
    gid_t gid = 0;
};

class Daemon {
  public:
    Daemon(const DaemonOptions &o, const LearnerRegistry &learners,
           std::unique_ptr<SelectorLoader> selectors);
    ~Daemon();

    // Serves until SIGTERM or SIGINT (SIGHUP re-reads the configuration file).
    void run();

    // One request, answered (never throws). fds: descriptors that came with it; the handler
    // takes what it uses, the rest is closed by the caller.
    Response handle(const Request &req, const Peer &peer, std::vector<UniqueFd> &fds);

  private:
    struct Conn;
    struct Want;

    // ---- state -----------------------------------------------------------------------------
    void apply(const std::set<std::string> &force, bool rules_changed,
               std::vector<std::string> &warnings);
    void install_rule_set(const std::vector<Link> &links, std::vector<std::string> &warnings);
    bool same_as_active(const RuleSetImage &img) const;
    // Applies cfg; when dev then has a problem, restores the previous configuration and throws.
    void commit(Config next, const std::string &dev, const std::set<std::string> &force,
                bool rules_changed, std::vector<std::string> &warnings);
    void save();
    uint32_t alloc_port_id() const;
    uint32_t alloc_rule_id() const;
    void zero_port_stats(uint32_t id);
    void zero_rule_stats(uint32_t id);
    void purge_xsk_slot(uint32_t slot);
    void reap_xsks();
    // Every AF_XDP socket of the namespace (sock_diag), or nullopt where the kernel has no
    // sock_diag for AF_XDP.
    std::optional<std::vector<XskInfo>> xsk_sockets();
    static bool pid_holds(uint32_t pid, uint32_t inode);
    void notify_learner();
    std::vector<PortInfo> port_infos(const std::vector<Link> &links) const;

    // ---- commands --------------------------------------------------------------------------
    nlohmann::json cmd_status();
    nlohmann::json cmd_port_add(const Args &a, std::vector<std::string> &w);
    nlohmann::json cmd_port_del(const Args &a, std::vector<std::string> &w);
    nlohmann::json cmd_port_show(const Args &a);
    nlohmann::json cmd_divert(const Args &a, std::vector<std::string> &w);
    nlohmann::json cmd_divert_show(const Args &a);
    nlohmann::json cmd_vlan_add(const Args &a, std::vector<std::string> &w);
    nlohmann::json cmd_vlan_del(const Args &a, std::vector<std::string> &w);
    nlohmann::json cmd_vlan_show(const Args &a);
    nlohmann::json cmd_rule_add(const Args &a, std::vector<std::string> &w);
    nlohmann::json cmd_rule_del(const Args &a, std::vector<std::string> &w);
    nlohmann::json cmd_rule_show(const Args &a);
    nlohmann::json cmd_rule_flush(const Args &a, std::vector<std::string> &w);
    nlohmann::json cmd_rule_replace(const Args &a, std::vector<std::string> &w);
    nlohmann::json cmd_load(const Args &a, std::vector<std::string> &w);
    nlohmann::json cmd_unload(const Args &a, std::vector<std::string> &w);
    nlohmann::json cmd_route_resolve(const Args &a);
    nlohmann::json cmd_xsk_register(const Args &a, const Peer &p, std::vector<UniqueFd> &fds,
                                    std::vector<std::string> &warnings);
    nlohmann::json cmd_xsk_unregister(const Args &a);
    nlohmann::json cmd_xsk_show(const Args &a);
    nlohmann::json cmd_tap_start(const Args &a, const Peer &p, std::vector<UniqueFd> &fds);
    nlohmann::json cmd_tap_show(const Args &a);

    // ---- taps (abi.h "Tap sessions"): a session lives as long as the connection that began it
    struct TapSession {
        uint32_t ifindex = 0;
        std::string dev;
        pid_t pid = 0;
        uint32_t verdicts = 0, flags = 0;
        const Conn *conn = nullptr;
    };
    void open_tap_maps();
    void clear_taps();  // at start: no session survives the connections of a previous run
    void end_taps(const Conn *c);
    bool tapped(uint32_t ifindex) const;
    void set_tap_flag(uint32_t ifindex);

    // ---- control socket --------------------------------------------------------------------
    void listen_socket();
    void notify_ready();
    void accept_conn();
    bool read_conn(Conn &c);
    bool write_conn(Conn &c);
    bool admitted(const Peer &p) const;
    void on_links();

    DaemonOptions o_;
    NetnsId netns_;
    Features features_;
    std::unique_ptr<Datapath> dp_;
    Config cfg_;
    std::unique_ptr<Learner> learner_;
    std::vector<std::string> learner_why_;
    std::unique_ptr<SelectorLoader> selectors_;
    std::unique_ptr<LinkMonitor> monitor_;
    std::string attach_why_;  // why libxdp's dispatcher is (not) used

    std::map<std::string, std::string> problems_;  // configured device -> what is wrong
    std::map<std::string, std::pair<uint32_t, uint16_t>> resolved_;  // rule devices, last install
    std::vector<nlohmann::json> rule_status_;                        // per rule: active or why not
    std::map<uint32_t, uint32_t> xsk_inodes_;  // XSKMAP index -> socket inode (this run)
    bool xsk_diag_ = true;                     // sock_diag answers for AF_XDP
    std::vector<PortInfo> last_ports_;
    nlohmann::json last_rule_info_;
    std::string details_;  // of the request being answered, when it fails (a verifier log)

    UniqueFd lock_;
    UniqueFd listen_;
    std::vector<std::unique_ptr<Conn>> conns_;
    const Conn *current_ = nullptr;        // the connection whose request is being handled
    std::map<uint32_t, TapSession> taps_;  // by session slot
    UniqueFd tap_sess_, tap_rings_;
    std::string tap_why_;  // why taps are unavailable, empty when they work
    time_t started_ = 0;
};

}  // namespace oobbpf::daemon
