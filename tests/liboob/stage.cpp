// SPDX-License-Identifier: MIT
#include "stage.h"

#include "error.h"
#include "oob_xdp.skel.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <stdexcept>

namespace oobbpf::test {

NetnsScope::NetnsScope(const std::string &ns_name) {
    old_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int fd = open(("/run/netns/" + ns_name).c_str(), O_RDONLY | O_CLOEXEC);
    if (old_ < 0 || fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        throw oobbpf::sys_error("enter namespace " + ns_name, err);
    }
    close(fd);
}

NetnsScope::~NetnsScope() {
    if (old_ >= 0) {
        setns(old_, CLONE_NEWNET);
        close(old_);
    }
}

int ifindex_in(const Netns &ns, const std::string &dev) {
    std::string out = ns.sh_ok("ip -o link show dev " + dev);
    return std::stoi(out.substr(0, out.find(':')));
}

StagedClassifier::StagedClassifier(std::string pin_root) : root_(std::move(pin_root)) {
    skel_ = oob_xdp__open_and_load();
    if (!skel_)
        throw oobbpf::sys_error("load the oob_xdp classifier", errno);
    oobbpf::MapFds fds;
    const struct {
        bpf_map *map;
        const char *pin;
        int *fd;
    } maps[] = {
        {skel_->maps.oob_config, OOB_PIN_CONFIG, &fds.config},
        {skel_->maps.oob_devs, OOB_PIN_DEVS, &fds.devs},
        {skel_->maps.oob_ports, OOB_PIN_PORTS, &fds.ports},
        {skel_->maps.oob_vlans, OOB_PIN_VLANS, &fds.vlans},
        {skel_->maps.oob_rules, OOB_PIN_RULES, &fds.rules},
        {skel_->maps.oob_rule_masks, OOB_PIN_RULE_MASKS, &fds.rule_masks},
        {skel_->maps.oob_rule_stats, OOB_PIN_RULE_STATS, &fds.rule_stats},
        {skel_->maps.oob_port_stats, OOB_PIN_PORT_STATS, &fds.port_stats},
        {skel_->maps.oob_last, OOB_PIN_LAST, &fds.last},
        {skel_->maps.oob_xsks, OOB_PIN_XSKS, &fds.xsks},
        {skel_->maps.oob_xsk_regs, OOB_PIN_XSK_REGS, &fds.xsk_regs},
        {skel_->maps.oob_selectors, OOB_PIN_SELECTORS, &fds.selectors},
    };
    std::filesystem::create_directories(root_);
    for (auto &m : maps) {
        *m.fd = bpf_map__fd(m.map);
        std::string path = root_ + "/" + m.pin;
        if (bpf_map__pin(m.map, path.c_str()) != 0)
            throw oobbpf::sys_error("pin " + path, errno);
    }
    tables_ = std::make_unique<oobbpf::BpfTables>(fds);
    oob_config cfg{};
    cfg.magic = OOB_CONFIG_MAGIC;
    cfg.version = OOB_ABI_VERSION;
    tables_->set_config(cfg);
}

StagedClassifier::~StagedClassifier() {
    for (auto &a : attached_) {
        try {
            NetnsScope in(a.ns);
            bpf_xdp_detach(static_cast<int>(a.ifindex), XDP_FLAGS_DRV_MODE, nullptr);
        } catch (...) {
            // The namespace (and with it the device) is already gone.
        }
    }
    if (skel_)
        oob_xdp__destroy(skel_);
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
}

uint32_t StagedClassifier::attach(const Netns &ns, const std::string &dev, uint32_t slot,
                                  uint32_t port_id, bool untagged_port) {
    uint32_t ifindex;
    {
        NetnsScope in(ns.name());
        ifindex = if_nametoindex(dev.c_str());
        if (!ifindex)
            throw oobbpf::sys_error("device " + dev, errno);
        int rc = bpf_xdp_attach(static_cast<int>(ifindex), bpf_program__fd(skel_->progs.oob_xdp),
                                XDP_FLAGS_DRV_MODE, nullptr);
        if (rc)
            throw oobbpf::sys_error("attach the classifier to " + dev, rc);
    }
    attached_.push_back({ns.name(), dev, ifindex});
    oob_dev d{};
    d.flags = OOB_DEV_DIVERT | (untagged_port ? OOB_DEV_PORT : 0);
    d.slot = slot;
    d.port_id = port_id;
    tables_->put_dev(ifindex, d);
    return ifindex;
}

void StagedClassifier::add_vlan_port(uint32_t lower_ifindex, uint16_t vid, uint32_t vlan_ifindex,
                                     uint32_t port_id) {
    oob_port_key k{};
    k.ifindex = lower_ifindex;
    k.vid = vid;
    oob_port p{};
    p.port_id = port_id;
    p.flags = OOB_PORT_VLAN;
    p.ifindex = vlan_ifindex;
    p.lower_ifindex = lower_ifindex;
    p.vid = vid;
    tables_->put_port(k, p);
}

void StagedClassifier::divert_udp(const std::vector<uint16_t> &dports,
                                  const std::vector<uint16_t> &ethertypes, bool fragments) {
    oobbpf::RuleSetImage img;
    oob_rule_key udp_mask{}, type_mask{};
    udp_mask.l4proto = 0xff;
    udp_mask.dport = 0xffff;
    type_mask.l3proto = 0xffff;
    oob_rule_key frag_mask{};
    frag_mask.flags = OOB_KF_FRAG;
    img.masks.count = 3;
    img.masks.best_prio[0] = img.masks.best_prio[1] = img.masks.best_prio[2] = 100;
    img.masks.mask[0] = udp_mask;
    img.masks.mask[1] = type_mask;
    img.masks.mask[2] = frag_mask;
    uint32_t id = 1;
    oob_rule_val v{};
    v.prio = 100;
    v.action = OOB_DIVERT;
    for (uint16_t p : dports) {
        oob_rule_key k{};
        k.l4proto = 17;
        k.dport = htons(p);
        k.tuple = 0;
        v.rule_id = id++;
        img.entries.emplace_back(k, v);
    }
    for (uint16_t t : ethertypes) {
        oob_rule_key k{};
        k.l3proto = htons(t);
        k.tuple = 1;
        v.rule_id = id++;
        img.entries.emplace_back(k, v);
    }
    if (fragments) {
        oob_rule_key k{};
        k.flags = OOB_KF_FRAG;
        k.tuple = 2;
        v.rule_id = id++;
        img.entries.emplace_back(k, v);
    }
    oobbpf::install_rules(*tables_, img);
}

int StagedClassifier::xsk_regs_fd() const {
    return tables_->fds().xsk_regs;
}

}  // namespace oobbpf::test
