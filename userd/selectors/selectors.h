// SPDX-License-Identifier: MIT
// Custom eBPF selectors: load a user's object onto a diverting device, replace it, remove it.
//
// A selector is an XDP (frags) program built with <oobbpf/selector.h>. It runs by tail call from
// the device's classifier, out of the prog array pinned at <pin root>/selectors, slot = the
// device's oob_devs slot. Loading:
//   1. a forked child opens the object with libbpf and checks it (ELF, program, type and frags,
//      SDK ABI version), makes it reuse the classifier's pinned maps and the previous selector's
//      own maps whose definition is unchanged, loads it, and hands the program and map fds back
//      over a socket: libbpf never parses a user's file inside the caller, so a hostile or broken
//      file is one clear error, not a crash of the daemon;
//   2. the caller pins the program (<pin root>/selector/<dev>/prog) and its own maps
//      (<pin root>/selector/<dev>/maps/<name>), then installs it with one update of the prog
//      array slot: the kernel swaps the pointer, so every frame runs either the old selector or the
//      new one, never neither; then sets OOB_DEV_SELECTOR on the device if it was not set.
// Any failure before step 2's slot update leaves the previous selector in place, untouched.
//
// Pins are the selector's lifetime: the prog array holds the program, the pin names it for
// people and tools (bpftool prog show pinned ...), and both outlive the loading process.
//
// Loads and unloads on one pin root, from threads or processes, are serialised by an flock on
// <pin root>/selector.
#pragma once

#include <oobbpf/abi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "error.h"

namespace oobbpf::selectors {

// Why a load or an unload failed; the message says it for people, this says it for code.
enum class Failure {
    NoFile,         // cannot read the file
    NotElf,         // not an ELF file
    NotBpf,         // an ELF file, but not for the BPF machine
    Malformed,      // libbpf refused the object, or crashed reading it
    NoProgram,      // the object holds no program
    NoSuchSection,  // `section NAME` names no program of the object
    Ambiguous,      // several programs and no `section NAME`
    WrongType,      // not XDP (or XDP for devmap/cpumap)
    NoFrags,        // XDP without the frags flag: the selector slot refuses it
    NoAbiMarker,    // not built with <oobbpf/selector.h>
    AbiMismatch,    // built for another SDK ABI version
    Verifier,       // the kernel's verifier rejected the program
    Load,           // another load failure (maps, BTF, relocations)
    NoPinRoot,      // the classifier's maps are not pinned there
    NoDevice,       // no such network device
    NoDiversion,    // the device does not divert: no classifier runs there
    NotLoaded,      // unload: the device has no selector
    Kernel,         // a system call failed
};

class SelectorError : public Error {
  public:
    SelectorError(Failure f, const std::string &msg, int err = 0, std::string details = {})
        : Error(msg, err), failure_(f), details_(std::move(details)) {}
    Failure failure() const { return failure_; }
    // The whole verifier log (Failure::Verifier) or libbpf's messages; for `-v`.
    const std::string &details() const { return details_; }

  private:
    Failure failure_;
    std::string details_;
};

// What the checks found in an object.
struct ObjectInfo {
    std::string program;                // the selector's function name
    std::string section;                // its ELF section ("xdp.frags")
    uint32_t abi_version = 0;           // oob_sdk_abi_version
    std::vector<std::string> own_maps;  // maps of its own (not the classifier's, not .rodata etc.)
};

// A selector installed on a device.
struct Installed {
    std::string dev;
    uint32_t ifindex = 0;
    uint32_t slot = 0;
    uint32_t prog_id = 0;               // what the slot holds now
    std::string program;                // program name (the kernel keeps 15 characters)
    std::string pin;                    // <pin root>/selector/<dev>/prog
    std::vector<std::string> map_pins;  // <pin root>/selector/<dev>/maps/<name>, per own map
    // load() only:
    uint32_t replaced_prog_id = 0;       // the selector it replaced; 0 if the slot was empty
    std::vector<std::string> kept_maps;  // own maps whose contents the previous selector left
};

// The checks alone, without loading (no privilege needed). section may be empty.
ObjectInfo check_object(const std::string &file, const std::string &section = {});

// Load file's selector (section: a program or section name; empty when the object holds one)
// onto dev, the name of a device of the caller's network namespace, which must divert; replaces
// the device's previous selector atomically. Throws SelectorError.
Installed load(const std::string &pin_root, const std::string &dev, const std::string &file,
               const std::string &section = {});

// Remove dev's selector: clear OOB_DEV_SELECTOR first (frames stop being handed over), wait for
// the frames in flight, then empty the slot and remove the pins. Throws SelectorError
// (Failure::NotLoaded when there is nothing to remove).
void unload(const std::string &pin_root, const std::string &dev);

// The selector installed on dev, if any (from its pin and the slot).
std::optional<Installed> show(const std::string &pin_root, const std::string &dev);
// Every pinned selector under pin_root, by device name.
std::vector<Installed> list(const std::string &pin_root);

// "<pin root>/selector": one directory per device with a selector.
std::string pin_dir(const std::string &pin_root);
// The name of dev's directory there: bpffs refuses dots in names, so '.' is written "%2e" (and
// '%' "%25"): eth0.42 -> <pin root>/selector/eth0%2e42/prog.
std::string pin_name(const std::string &dev);

// The pin name (abi.h OOB_PIN_*) of a classifier map as the SDK names it ("oob_devs" -> "devs"),
// or empty when name is not one of them. Every map named oob_* is the classifier's: an object
// that declares one must find it pinned under the pin root.
std::string shared_map_pin(const std::string &map_name);

// The verifier's key lines, in one line: the error and where (instruction, source line).
std::string verifier_summary(const std::string &log);

}  // namespace oobbpf::selectors
