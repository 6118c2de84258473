// SPDX-License-Identifier: MIT
// The kmod back-end: the kernel module (kmod/, /dev/oobbpf) in observe mode reports the flows the
// in-band stack decided towards oob ports (its ip_learn_oob_route() hook on Dovetail kernels,
// its fib_table_lookup tracepoint probe on stock ones), as records laid out like the tp_btf
// programs' events; the learner completes and writes them as for any back-end.
#pragma once

#include "backend.h"
#include "bpf_tables.h"

#include <memory>
#include <string>
#include <vector>

namespace oobbpf::learn {

// Opens /dev/oobbpf and hands the module the namespace's maps with OOBK_MAPS_OBSERVE: the
// classifier's (which say what an oob port is) and the learner's routes and neighs (which the
// module then only reads, to skip known flows). Throws oobbpf::Error when the module is not
// loaded, speaks another ABI, has no route hook, or refuses the maps. The maps stay handed over
// after the back-end is gone (the module keeps its own references; the delivery hook may be
// using them); the module simply has no reader for its records then.
std::unique_ptr<Backend> make_kmod_backend(const MapFds &classifier, const BackendContext &ctx);

// A KmodFactory for Config::kmod over the classifier's maps.
KmodFactory kmod_factory(const MapFds &classifier);

// Is the module loaded (its device there)? Then "auto" tries kmod before tp_btf: whoever loads
// oobbpf.ko wants its route hook (on Dovetail kernels the only one that sees every decision).
bool kmod_loaded();

// The order "auto" tries the back-ends in: kmod, tp_btf, netlink with the module loaded;
// tp_btf, kmod, netlink without.
std::vector<std::string> auto_order();

}  // namespace oobbpf::learn
