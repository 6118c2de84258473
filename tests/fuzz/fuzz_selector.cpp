// SPDX-License-Identifier: MIT
// Fuzz target: the selector loader's checks of an untrusted object file (userd/selectors), as
// `oobbpf load DEV FILE.o` runs them before anything reaches the kernel:
//   - check_elf_header(), in the caller's process: the cheap checks before any libbpf parsing;
//   - check_object(): the header checks, then libbpf and the loader's own checks (program,
//     type, frags, SDK ABI marker, maps) in a forked child (userd/selectors/child.h), so that
//     a file that crashes libbpf is a clear error, not the end of the caller;
//   - verifier_summary() on the input as text (a verifier log quotes the user's source lines).
//
// What must hold: the caller never crashes; every refusal is a SelectorError of a failure that
// fits the stage, with one line; an accepted object names its program and this ABI version; the
// child always answers or dies by a signal (an answerless exit is its sanitizer's finding:
// the child runs this build's instrumented code).
//
// In this process the sanitizers and libFuzzer own the fatal signals; the forked child gets the
// defaults back, as in a normal build of oobbpfd and the CLI, so that libbpf crashing there is
// what the loader reports and not a finding of this target.
#include "child.h"
#include "selectors.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

using namespace oobbpf::selectors;

namespace {

[[noreturn]] void broken(const std::string &what, const std::string &detail) {
    std::fprintf(stderr, "fuzz_selector: %s\n  %s\n", what.c_str(), detail.c_str());
    std::abort();
}

void child_defaults() {
    for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE})
        signal(sig, SIG_DFL);
}

int g_fd = -1;
std::string g_path;

void one_line(const SelectorError &e) {
    const std::string m = e.what();
    if (m.empty() || m.find('\n') != std::string::npos)
        broken("a refusal is not one line", m);
}

bool header_stage(Failure f) {
    return f == Failure::NotElf || f == Failure::NotBpf;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    pthread_atfork(nullptr, nullptr, child_defaults);
    g_fd = memfd_create("selector.o", MFD_CLOEXEC);
    if (g_fd < 0) {
        std::perror("memfd_create");
        std::exit(1);
    }
    g_path = "/proc/self/fd/" + std::to_string(g_fd);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    {
        const std::string summary =
            verifier_summary(std::string(reinterpret_cast<const char *>(data), size));
        if (summary.find('\n') != std::string::npos)
            broken("verifier_summary() is not one line", summary);
    }

    if (ftruncate(g_fd, 0) != 0 || pwrite(g_fd, data, size, 0) != static_cast<ssize_t>(size))
        broken("cannot write the memfd", g_path);
    try {
        detail::check_elf_header(g_path);
    } catch (const SelectorError &e) {
        one_line(e);
        if (!header_stage(e.failure()))
            broken("check_elf_header(): unexpected failure kind", e.what());
        return 0;
    }

    try {
        ObjectInfo info = check_object(g_path);
        if (info.program.empty() || info.section.empty() || info.abi_version != OOB_ABI_VERSION)
            broken("an accepted object without a program, a section or this ABI",
                   info.program + " " + info.section + " " + std::to_string(info.abi_version));
    } catch (const SelectorError &e) {
        one_line(e);
        const std::string m = e.what();
        if (header_stage(e.failure()) || e.failure() == Failure::NoFile ||
            e.failure() == Failure::Kernel || e.failure() == Failure::Verifier ||
            e.failure() == Failure::Load || e.failure() == Failure::NoPinRoot)
            broken("check_object(): unexpected failure kind", m);
        if (m.find("ended without an answer") != std::string::npos ||
            m.find("garbled answer") != std::string::npos)
            broken("the checking child ended without its answer (see its report above)", m);
    }
    return 0;
}
