// SPDX-License-Identifier: MIT
#include "probes.h"

#include "error.h"
#include "fd.h"
#include "netlink.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/utsname.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace oobbpf::daemon {

namespace {

Probe fail(const std::string &what, int err) {
    if (err < 0)
        err = -err;
    return {false, what + ": " + std::strerror(err)};
}

constexpr bpf_insn mov_imm(int reg, int imm) {
    return {BPF_ALU64 | BPF_MOV | BPF_K, static_cast<__u8>(reg), 0, 0, imm};
}
constexpr bpf_insn exit_insn() {
    return {BPF_JMP | BPF_EXIT, 0, 0, 0, 0};
}
constexpr bpf_insn call_local(int off) {
    return {BPF_JMP | BPF_CALL, 0, BPF_PSEUDO_CALL, 0, off};
}

// A tracing program on a kernel function or tracepoint, attached and let go at once.
Probe probe_tracing(const char *target, bpf_attach_type type, const char *what) {
    int btf_id = libbpf_find_vmlinux_btf_id(target, type);
    if (btf_id < 0)
        return fail(std::string(what) + ": no BTF for " + target, btf_id);
    const bpf_insn insns[] = {mov_imm(BPF_REG_0, 0), exit_insn()};
    LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = type,
                .attach_btf_id = static_cast<__u32>(btf_id));
    UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_TRACING, "oob_probe", "GPL", insns, 2, &opts));
    if (!prog)
        return fail(std::string(what) + ": load", errno);
    UniqueFd link(bpf_raw_tracepoint_open(nullptr, prog.get()));
    if (!link)
        return fail(std::string(what) + ": attach", errno);
    return {true, ""};
}

// libxdp's dispatcher replaces global stub functions of its XDP program with the components
// (BPF_PROG_TYPE_EXT, attached through a trampoline). Probe exactly that: an XDP program calling
// a global function `int f(int)`, and an EXT program replacing f. Hand-made BTF, because the
// verifier matches the two prototypes through it.
Probe probe_freplace() {
    std::unique_ptr<btf, decltype(&btf__free)> b(btf__new_empty(), &btf__free);
    if (!b)
        return fail("freplace: BTF", errno);
    int t_int = btf__add_int(b.get(), "int", 4, BTF_INT_SIGNED);
    int t_proto = btf__add_func_proto(b.get(), t_int);
    btf__add_func_param(b.get(), "x", t_int);
    int t_f = btf__add_func(b.get(), "f", BTF_FUNC_GLOBAL, t_proto);
    int t_main = btf__add_func(b.get(), "probe_main", BTF_FUNC_GLOBAL, t_proto);
    if (t_int < 0 || t_proto < 0 || t_f < 0 || t_main < 0)
        return fail("freplace: BTF", -t_main);
    if (int err = btf__load_into_kernel(b.get()); err < 0)
        return fail("freplace: BTF load", err);
    const int btf_fd = btf__fd(b.get());

    // main: r1 = 0; call f; r0 = XDP_PASS; exit.   f: r0 = 0; exit.
    const bpf_insn target_insns[] = {mov_imm(BPF_REG_1, 0), call_local(2),
                                     mov_imm(BPF_REG_0, 2), exit_insn(),
                                     mov_imm(BPF_REG_0, 0), exit_insn()};
    const bpf_func_info target_funcs[] = {{0, static_cast<__u32>(t_main)},
                                          {4, static_cast<__u32>(t_f)}};
    LIBBPF_OPTS(bpf_prog_load_opts, topts, .prog_btf_fd = static_cast<__u32>(btf_fd),
                .func_info = target_funcs, .func_info_cnt = 2,
                .func_info_rec_size = sizeof(bpf_func_info));
    UniqueFd target(
        bpf_prog_load(BPF_PROG_TYPE_XDP, "oob_probe_tgt", "GPL", target_insns, 6, &topts));
    if (!target)
        return fail("freplace: target load", errno);

    const bpf_insn ext_insns[] = {mov_imm(BPF_REG_0, 0), exit_insn()};
    const bpf_func_info ext_funcs[] = {{0, static_cast<__u32>(t_f)}};
    LIBBPF_OPTS(bpf_prog_load_opts, eopts, .prog_btf_fd = static_cast<__u32>(btf_fd),
                .attach_btf_id = static_cast<__u32>(t_f),
                .attach_prog_fd = static_cast<__u32>(target.get()), .func_info = ext_funcs,
                .func_info_cnt = 1, .func_info_rec_size = sizeof(bpf_func_info));
    UniqueFd ext(bpf_prog_load(BPF_PROG_TYPE_EXT, "oob_probe_ext", "GPL", ext_insns, 2, &eopts));
    if (!ext)
        return fail("freplace: extension load", errno);
    UniqueFd link(bpf_raw_tracepoint_open(nullptr, ext.get()));
    if (!link)
        return fail("freplace: attach", errno);
    return {true, ""};
}

nlohmann::json probe_json(const Probe &p) {
    nlohmann::json j = {{"ok", p.ok}};
    if (!p.ok)
        j["error"] = p.error;
    return j;
}

}  // namespace

Features probe_features() {
    Features f;
    int r = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, nullptr);
    f.xdp = r == 1 ? Probe{true, ""} : fail("xdp", r < 0 ? r : -EOPNOTSUPP);
    f.freplace = probe_freplace();
    f.fentry = probe_tracing("bpf_fentry_test1", BPF_TRACE_FENTRY, "fentry");
    f.tp_btf = probe_tracing("fib_table_lookup", BPF_TRACE_RAW_TP, "tp_btf fib_table_lookup");
    try {
        dump_xsks();
        f.xsk_diag = {true, ""};
    } catch (const Error &e) {
        f.xsk_diag = e.err() == ENOENT
                         ? Probe{false, "no sock_diag handler for AF_XDP (CONFIG_XDP_SOCKETS_DIAG)"}
                         : Probe{false, e.what()};
    }
    struct utsname u {};
    if (uname(&u) == 0)
        f.kernel = u.release;
    return f;
}

nlohmann::json to_json(const Features &f) {
    return {{"xdp", probe_json(f.xdp)},           {"freplace", probe_json(f.freplace)},
            {"fentry", probe_json(f.fentry)},     {"tp_btf", probe_json(f.tp_btf)},
            {"xsk_diag", probe_json(f.xsk_diag)}, {"kernel", f.kernel}};
}

}  // namespace oobbpf::daemon
