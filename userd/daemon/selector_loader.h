// SPDX-License-Identifier: MIT
// The daemon's seam for custom selectors (`oobbpf load DEV FILE.o [section NAME]`, `unload DEV`).
// The daemon decides where a selector may go (a present, diverting, non-VLAN device, diversion
// turned on for it if needed), persists it, and re-loads it from its file when the device comes
// back or the pins were removed; the loader does the loading and the atomic install in the
// device's prog-array slot (userd/selectors).
#pragma once

#include "paths.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>

namespace oobbpf::daemon {

class SelectorLoader {
  public:
    virtual ~SelectorLoader() = default;
    // Loads and installs; replaces the device's previous selector atomically. Returns what was
    // installed (program, prog id, pins). Throws oobbpf::Error with one clear line; the full
    // verifier log, if any, goes to `details`.
    virtual nlohmann::json load(const std::string &dev, const std::string &file,
                                const std::string &section, std::string *details) = 0;
    // Throws oobbpf::Error when there is nothing to remove.
    virtual void unload(const std::string &dev) = 0;
    // The selector installed on dev, if any.
    virtual std::optional<nlohmann::json> show(const std::string &dev) = 0;
    // Every installed selector.
    virtual nlohmann::json list() = 0;
    // Removes every pin the loader made under the pin root (oobbpfd --cleanup).
    virtual std::vector<std::string> cleanup() = 0;
};

// The loader built into this oobbpfd, or nullptr when it was built without userd/selectors.
std::unique_ptr<SelectorLoader> make_selector_loader(const Paths &paths);

}  // namespace oobbpf::daemon
