// SPDX-License-Identifier: MIT
// The learner back-ends as oobbpfd sees them (userd/daemon/route_learner.h): one factory per
// back-end, registered in the order auto tries them: tp_btf, kmod, netlink; kmod first when the
// module is loaded (auto_order(), kmod_backend.h).
#pragma once

namespace oobbpf::daemon {
class LearnerRegistry;
}

namespace oobbpf::learn {
void register_learners(oobbpf::daemon::LearnerRegistry &r);
}
