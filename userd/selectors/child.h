// SPDX-License-Identifier: MIT
// The part of loading that touches a user's file: done by libbpf in a forked child, which sends
// back a verdict, the facts it found and the file descriptors of what it loaded.
#pragma once

#include "fd.h"
#include "selectors.h"

#include <string>
#include <utility>
#include <vector>

namespace oobbpf::selectors::detail {

struct ChildRequest {
    std::string file;
    std::string section;   // program or section name; empty: the only program
    std::string pin_root;  // empty: checks only, no load
    std::string maps_dir;  // the previous selector's own map pins (kept when compatible)
};

struct ChildResult {
    bool ok = false;
    Failure failure = Failure::Malformed;
    int err = 0;
    std::string message;  // the one line, when !ok
    std::string details;  // verifier log or libbpf's messages
    ObjectInfo info;
    UniqueFd prog;                                       // when loaded
    std::vector<std::pair<std::string, UniqueFd>> maps;  // own maps, when loaded
    std::vector<std::string> kept;                       // own maps reused from maps_dir
};

// Opens file's ELF header and throws SelectorError for a missing file, a non-ELF file or an ELF
// file for another machine: the cheap checks, done before any libbpf parsing.
void check_elf_header(const std::string &file);

// Runs the libbpf part in a forked child; a child that dies (libbpf crashed on the file) or hangs
// becomes a failed result with its reason. Never throws for what is wrong with the file.
ChildResult run_child(const ChildRequest &req);

}  // namespace oobbpf::selectors::detail
