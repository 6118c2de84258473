// SPDX-License-Identifier: MIT
#include "child.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <elf.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

namespace oobbpf::selectors::detail {

namespace {

// How long the child may take: opening is quick, the verifier on a big program is not.
constexpr int kChildTimeoutMs = 60000;
constexpr size_t kMaxFds = 64;

// ---- the reply: records (tag, length, bytes), then the fds in one SCM_RIGHTS message ------

enum Tag : uint8_t {
    T_STATUS = 'S',  // u32 failure (+1; 0 = ok), u32 errno
    T_MESSAGE = 'M',
    T_DETAILS = 'D',
    T_PROGRAM = 'P',
    T_SECTION = 'C',
    T_ABI = 'A',      // u32
    T_OWN_MAP = 'O',  // name of an own map (check)
    T_MAP_FD = 'F',   // name of an own map whose fd follows the program's, in order
    T_KEPT = 'K',
};

class Reply {
  public:
    void put(Tag t, const std::string &s) {
        buf_.push_back(static_cast<char>(t));
        uint32_t n = static_cast<uint32_t>(s.size());
        buf_.append(reinterpret_cast<const char *>(&n), sizeof(n));
        buf_.append(s);
    }
    void put_u32s(Tag t, uint32_t a, uint32_t b = 0) {
        std::string s(8, '\0');
        std::memcpy(s.data(), &a, 4);
        std::memcpy(s.data() + 4, &b, 4);
        put(t, s);
    }
    void fail(Failure f, const std::string &msg, int err = 0, const std::string &details = {}) {
        put_u32s(T_STATUS, static_cast<uint32_t>(f) + 1, static_cast<uint32_t>(err));
        put(T_MESSAGE, msg);
        if (!details.empty())
            put(T_DETAILS, details);
    }
    void ok() { put_u32s(T_STATUS, 0, 0); }
    std::vector<int> fds;
    const std::string &bytes() const { return buf_; }

  private:
    std::string buf_;
};

// ---- libbpf's messages, captured (in the child only: the callback is process-global) -------

std::string g_libbpf_log;

int capture_print(enum libbpf_print_level, const char *fmt, va_list ap) {
    char line[4096];
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(line, sizeof(line), fmt, aq);
    va_end(aq);
    if (n < 0)
        return 0;
    if (static_cast<size_t>(n) < sizeof(line)) {
        g_libbpf_log.append(line, static_cast<size_t>(n));
    } else {
        // The verifier log comes through here in one piece and can be megabytes.
        std::string big(static_cast<size_t>(n) + 1, '\0');
        vsnprintf(big.data(), big.size(), fmt, ap);
        big.resize(static_cast<size_t>(n));
        g_libbpf_log += big;
    }
    return n;
}

// The last warning libbpf printed, without its "libbpf: " prefix: its reason for a failure.
std::string libbpf_reason() {
    std::string last;
    size_t pos = 0;
    while (pos < g_libbpf_log.size()) {
        size_t nl = g_libbpf_log.find('\n', pos);
        if (nl == std::string::npos)
            nl = g_libbpf_log.size();
        std::string l = g_libbpf_log.substr(pos, nl - pos);
        if (l.rfind("libbpf: ", 0) == 0 && l.find("BEGIN PROG LOAD LOG") == std::string::npos)
            last = l.substr(8);
        pos = nl + 1;
    }
    return last;
}

// The verifier log libbpf printed between its markers, if any.
std::string verifier_log() {
    const std::string begin = "-- BEGIN PROG LOAD LOG --\n", end = "-- END PROG LOAD LOG --";
    size_t b = g_libbpf_log.find(begin);
    if (b == std::string::npos)
        return {};
    b += begin.size();
    size_t e = g_libbpf_log.find(end, b);
    return g_libbpf_log.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

std::string prog_kind(const bpf_program *p) {
    const char *t = libbpf_bpf_prog_type_str(bpf_program__type(p));
    return t ? t : "unknown";
}

// Reads oob_sdk_abi_version from the data section that holds it. -1: no such variable.
int64_t abi_marker(bpf_object *obj) {
    const btf *b = bpf_object__btf(obj);
    if (!b)
        return -1;
    for (uint32_t id = 1; id < btf__type_cnt(b); id++) {
        const btf_type *t = btf__type_by_id(b, id);
        if (!btf_is_datasec(t))
            continue;
        const char *sec = btf__name_by_offset(b, t->name_off);
        const btf_var_secinfo *vs = btf_var_secinfos(t);
        for (uint16_t i = 0; i < btf_vlen(t); i++, vs++) {
            const btf_type *v = btf__type_by_id(b, vs->type);
            if (!v || !btf_is_var(v) ||
                std::strcmp(btf__name_by_offset(b, v->name_off), "oob_sdk_abi_version") != 0)
                continue;
            if (vs->size != sizeof(uint32_t))
                return -1;
            // libbpf names internal maps "<object prefix><section>", e.g. "sel_udp.rodata".
            bpf_map *m;
            bpf_object__for_each_map(m, obj) {
                const char *mn = bpf_map__name(m);
                size_t ml = std::strlen(mn), sl = std::strlen(sec);
                if (!bpf_map__is_internal(m) || ml < sl || std::strcmp(mn + ml - sl, sec) != 0)
                    continue;
                size_t sz = 0;
                const void *data = bpf_map__initial_value(m, &sz);
                if (!data || vs->offset + sizeof(uint32_t) > sz)
                    return -1;
                uint32_t val;
                std::memcpy(&val, static_cast<const char *>(data) + vs->offset, sizeof(val));
                return val;
            }
            return -1;
        }
    }
    return -1;
}

bool map_info(int fd, bpf_map_info &info) {
    std::memset(&info, 0, sizeof(info));
    uint32_t len = sizeof(info);
    return bpf_obj_get_info_by_fd(fd, &info, &len) == 0;
}

std::string sizes(uint32_t type, uint32_t k, uint32_t v, uint32_t n) {
    const char *t = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(type));
    return std::string(t ? t : "?") + " key " + std::to_string(k) + " value " + std::to_string(v) +
           " entries " + std::to_string(n);
}

// Everything the child does. Fills reply; the caller sends it.
void child_body(const ChildRequest &req, Reply &reply) {
    const std::string &file = req.file;
    libbpf_set_print(capture_print);

    bpf_object *obj = bpf_object__open_file(file.c_str(), nullptr);
    if (!obj) {
        int err = errno;
        std::string why = libbpf_reason();
        std::string msg = file + " is not a usable BPF object";
        if (g_libbpf_log.find("BTF is required") != std::string::npos)
            msg += ": its maps need BTF, compile with clang -g";
        else if (!why.empty())
            msg += " (libbpf: " + why + ")";
        reply.fail(Failure::Malformed, msg, err, g_libbpf_log);
        return;
    }

    // Pick the program.
    std::vector<bpf_program *> progs;
    bpf_program *p;
    bpf_object__for_each_program(p, obj) {
        // libbpf lists the functions of .text as a program when no section holds one: they are
        // subprograms (the SDK's oob_selector_parse, for one), not selectors.
        if (std::strcmp(bpf_program__section_name(p), ".text") != 0)
            progs.push_back(p);
    }
    if (progs.empty()) {
        reply.fail(Failure::NoProgram,
                   file + " holds no program (define the selector with OOB_SELECTOR)");
        return;
    }
    auto listing = [&] {
        std::string s;
        for (auto *q : progs)
            s += std::string(s.empty() ? "" : ", ") + bpf_program__name(q) + " (" +
                 bpf_program__section_name(q) + ")";
        return s;
    };
    bpf_program *prog = nullptr;
    if (!req.section.empty()) {
        for (auto *q : progs)
            if (req.section == bpf_program__name(q))
                prog = q;
        if (!prog) {
            int n = 0;
            for (auto *q : progs)
                if (req.section == bpf_program__section_name(q)) {
                    prog = q;
                    n++;
                }
            if (n > 1) {
                reply.fail(Failure::Ambiguous, file + " has " + std::to_string(n) +
                                                   " programs in section " + req.section +
                                                   ": name one of them: " + listing());
                return;
            }
        }
        if (!prog) {
            reply.fail(Failure::NoSuchSection, file + " has no section or program " + req.section +
                                                   "; it has " + listing());
            return;
        }
    } else if (progs.size() > 1) {
        reply.fail(Failure::Ambiguous, file + " holds " + std::to_string(progs.size()) +
                                           " programs: " + listing() +
                                           "; pick one with section NAME");
        return;
    } else {
        prog = progs[0];
    }
    const std::string name = bpf_program__name(prog), sec = bpf_program__section_name(prog);
    const std::string what = "program " + name + " (section " + sec + ") of " + file;

    // Type and flags: the kernel refuses a program in the prog array unless they match its
    // owner, the classifier (XDP, frags), and says only EINVAL; say it here instead.
    if (bpf_program__type(prog) != BPF_PROG_TYPE_XDP) {
        std::string kind = bpf_program__type(prog) == BPF_PROG_TYPE_UNSPEC
                               ? "of no type libbpf knows"
                               : "a " + prog_kind(prog) + " program";
        reply.fail(Failure::WrongType, what + " is " + kind +
                                           ", not a selector: a selector is XDP with frags, "
                                           "defined with OOB_SELECTOR (SEC(\"xdp.frags\"))");
        return;
    }
    if (bpf_program__expected_attach_type(prog) != BPF_XDP) {
        const char *at = libbpf_bpf_attach_type_str(bpf_program__expected_attach_type(prog));
        reply.fail(Failure::WrongType, what + " is XDP for " + (at ? at : "another hook") +
                                           ", not a selector: use OOB_SELECTOR "
                                           "(SEC(\"xdp.frags\"))");
        return;
    }
    // libbpf adds BPF_F_XDP_HAS_FRAGS only at load time, from the section name.
    if (!(bpf_program__flags(prog) & BPF_F_XDP_HAS_FRAGS) && sec != "xdp.frags") {
        reply.fail(Failure::NoFrags,
                   what +
                       " is XDP without frags: the classifier is xdp.frags and the "
                       "kernel admits only programs of the same kind to its selector slot; "
                       "use OOB_SELECTOR (SEC(\"xdp.frags\"))");
        return;
    }

    int64_t abi = abi_marker(obj);
    if (abi < 0) {
        reply.fail(Failure::NoAbiMarker, file +
                                             " was not built with <oobbpf/selector.h> (it has "
                                             "no oob_sdk_abi_version)");
        return;
    }
    if (abi != OOB_ABI_VERSION) {
        reply.fail(Failure::AbiMismatch,
                   file + " was built for selector ABI " + std::to_string(abi) +
                       ", this oobbpf speaks ABI " + std::to_string(OOB_ABI_VERSION) +
                       ": rebuild it against this version's <oobbpf/selector.h>");
        return;
    }

    reply.put(T_PROGRAM, name);
    reply.put(T_SECTION, sec);
    reply.put_u32s(T_ABI, static_cast<uint32_t>(abi));
    std::vector<bpf_map *> own;
    bpf_map *m;
    bpf_object__for_each_map(m, obj) {
        if (bpf_map__is_internal(m) || !shared_map_pin(bpf_map__name(m)).empty())
            continue;
        own.push_back(m);
        reply.put(T_OWN_MAP, bpf_map__name(m));
    }
    if (req.pin_root.empty()) {
        reply.ok();
        return;
    }

    // The classifier's maps: its pinned instances. Own maps: the previous selector's instance
    // when the definition is unchanged, so replacing a selector keeps its state.
    bpf_object__for_each_map(m, obj) {
        if (bpf_map__is_internal(m))
            continue;
        const std::string mname = bpf_map__name(m), pin = shared_map_pin(mname);
        bpf_map_info info;
        if (!pin.empty()) {
            std::string path = req.pin_root + "/" + pin;
            UniqueFd fd(bpf_obj_get(path.c_str()));
            if (!fd) {
                reply.fail(Failure::NoPinRoot,
                           "no classifier map " + path + " (" + std::strerror(errno) +
                               "): is the classifier loaded with this pin root?",
                           errno);
                return;
            }
            if (!map_info(fd.get(), info) || info.type != bpf_map__type(m) ||
                info.key_size != bpf_map__key_size(m) ||
                info.value_size != bpf_map__value_size(m)) {
                reply.fail(Failure::AbiMismatch,
                           "map " + mname + " of " + file + " (" +
                               sizes(bpf_map__type(m), bpf_map__key_size(m), bpf_map__value_size(m),
                                     bpf_map__max_entries(m)) +
                               ") does not match the classifier's " + path + " (" +
                               sizes(info.type, info.key_size, info.value_size, info.max_entries) +
                               "): rebuild against this version's <oobbpf/selector.h>");
                return;
            }
            if (bpf_map__reuse_fd(m, fd.get()) < 0) {
                reply.fail(
                    Failure::Load,
                    "cannot reuse " + path + " for map " + mname + ": " + std::strerror(errno),
                    errno);
                return;
            }
            continue;
        }
        if (req.maps_dir.empty())
            continue;
        std::string path = req.maps_dir + "/" + mname;
        struct stat st;
        if (stat(path.c_str(), &st) != 0)
            continue;
        UniqueFd fd(bpf_obj_get(path.c_str()));
        if (fd && map_info(fd.get(), info) && info.type == bpf_map__type(m) &&
            info.key_size == bpf_map__key_size(m) && info.value_size == bpf_map__value_size(m) &&
            info.max_entries == bpf_map__max_entries(m) &&
            info.map_flags == bpf_map__map_flags(m) && bpf_map__reuse_fd(m, fd.get()) == 0)
            reply.put(T_KEPT, mname);
    }
    for (auto *q : progs)
        if (q != prog)
            bpf_program__set_autoload(q, false);

    // A v3 build uses 32-bit jumps (class BPF_JMP32) somewhere; a v1 build never does. Counted
    // before the load, which rewrites the instructions.
    bool jmp32 = false;
    for (size_t i = 0; i < bpf_program__insn_cnt(prog); i++)
        jmp32 = jmp32 || BPF_CLASS(bpf_program__insns(prog)[i].code) == BPF_JMP32;

    g_libbpf_log.clear();
    if (bpf_object__load(obj) < 0) {
        int err = errno;
        std::string vlog = verifier_log();
        if (!vlog.empty())
            reply.fail(Failure::Verifier,
                       name + " of " + file +
                           " rejected by the verifier: " + verifier_summary(vlog) +
                           (jmp32 ? "" : " (built for BPF ISA v1? compile with clang -mcpu=v3)") +
                           " (whole log with -v)",
                       err, vlog);
        else
            reply.fail(Failure::Load,
                       "cannot load " + name + " of " + file + ": " +
                           (libbpf_reason().empty() ? std::strerror(err) : libbpf_reason()),
                       err, g_libbpf_log);
        return;
    }
    reply.fds.push_back(bpf_program__fd(prog));
    for (auto *om : own) {
        reply.put(T_MAP_FD, bpf_map__name(om));
        reply.fds.push_back(bpf_map__fd(om));
    }
    reply.ok();
    // obj is not closed: the process exits right after sending, the kernel keeps what it loaded
    // alive through the fds in flight.
}

[[noreturn]] void child_main(const ChildRequest &req, int sock) {
    Reply reply;
    child_body(req, reply);

    uint32_t hdr[2] = {static_cast<uint32_t>(reply.bytes().size()),
                       static_cast<uint32_t>(reply.fds.size())};
    iovec iov{hdr, sizeof(hdr)};
    alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (!reply.fds.empty() && reply.fds.size() <= kMaxFds) {
        msg.msg_control = cbuf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * reply.fds.size());
        cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * reply.fds.size());
        std::memcpy(CMSG_DATA(c), reply.fds.data(), sizeof(int) * reply.fds.size());
    }
    if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
        _exit(3);
    const char *p = reply.bytes().data();
    size_t left = reply.bytes().size();
    while (left) {
        ssize_t n = write(sock, p, left);
        if (n <= 0)
            _exit(3);
        p += n;
        left -= static_cast<size_t>(n);
    }
    _exit(0);
}

int64_t now_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Reads exactly n bytes (or fewer at EOF) before the deadline; collects passed fds.
size_t read_full(int sock, void *buf, size_t n, int64_t deadline, std::vector<UniqueFd> &fds) {
    size_t got = 0;
    while (got < n) {
        int left = static_cast<int>(deadline - now_ms());
        pollfd pfd{sock, POLLIN, 0};
        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            break;
        iovec iov{static_cast<char *>(buf) + got, n - got};
        alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)];
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf;
        msg.msg_controllen = sizeof(cbuf);
        ssize_t r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        if (r < 0 && errno == EINTR)
            continue;
        for (cmsghdr *c = CMSG_FIRSTHDR(&msg); r >= 0 && c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; i++) {
                int fd;
                std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                fds.emplace_back(fd);
            }
        }
        if (r <= 0)
            break;
        got += static_cast<size_t>(r);
    }
    return got;
}

std::string signal_name(int sig) {
    const char *d = sigdescr_np(sig);
    const char *a = sigabbrev_np(sig);
    return std::string(a ? std::string("SIG") + a : std::to_string(sig)) +
           (d ? ", " + std::string(d) : "");
}

}  // namespace

void check_elf_header(const std::string &file) {
    // O_NONBLOCK: a FIFO must not hang the caller; it is refused below.
    UniqueFd fd(open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd)
        throw SelectorError(Failure::NoFile, "cannot open " + file + ": " + std::strerror(errno),
                            errno);
    struct stat st;
    if (fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode))
        throw SelectorError(Failure::NotElf, file + " is a directory, not an ELF object");
    if (fstat(fd.get(), &st) == 0 && !S_ISREG(st.st_mode))
        throw SelectorError(Failure::NotElf, file + " is not a regular file");
    Elf64_Ehdr eh{};
    ssize_t n = pread(fd.get(), &eh, sizeof(eh), 0);
    if (n < SELFMAG || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
        throw SelectorError(Failure::NotElf,
                            file +
                                " is not an ELF file (a selector is an object built with "
                                "clang -target bpf)");
    if (n < static_cast<ssize_t>(sizeof(eh)) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
        eh.e_machine != EM_BPF) {
        std::string mach = n >= static_cast<ssize_t>(sizeof(eh)) && eh.e_machine == EM_X86_64
                               ? "x86-64"
                               : "machine " + std::to_string(n >= 20 ? eh.e_machine : 0);
        if (eh.e_ident[EI_CLASS] != ELFCLASS64)
            mach = "a 32-bit machine";
        throw SelectorError(Failure::NotBpf, file + " is an ELF file for " + mach +
                                                 ", not a BPF object (compile with clang "
                                                 "-target bpf)");
    }
}

ChildResult run_child(const ChildRequest &req) {
    ChildResult res;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        res.failure = Failure::Kernel;
        res.err = errno;
        res.message = std::string("socketpair: ") + std::strerror(errno);
        return res;
    }
    UniqueFd mine(sv[0]), theirs(sv[1]);
    pid_t pid = fork();
    if (pid < 0) {
        res.failure = Failure::Kernel;
        res.err = errno;
        res.message = std::string("fork: ") + std::strerror(errno);
        return res;
    }
    if (pid == 0) {
        mine.release();  // not closed: the child's exit closes everything
        // A crash in libbpf is expected here and reported by the parent from the signal: the
        // child dies by it, whatever handlers the process had (a sanitizer's among them).
        for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT})
            signal(sig, SIG_DFL);
        child_main(req, theirs.get());
    }
    theirs.reset();

    int64_t deadline = now_ms() + kChildTimeoutMs;
    std::vector<UniqueFd> fds;
    uint32_t hdr[2] = {0, 0};
    std::string payload;
    bool complete = false;
    if (read_full(mine.get(), hdr, sizeof(hdr), deadline, fds) == sizeof(hdr) &&
        hdr[0] < (1U << 30)) {
        payload.resize(hdr[0]);
        complete = read_full(mine.get(), payload.data(), payload.size(), deadline, fds) ==
                       payload.size() &&
                   fds.size() == hdr[1];
    }
    bool timed_out = now_ms() >= deadline;
    if (timed_out)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }

    if (!complete) {
        res.failure = Failure::Malformed;
        if (timed_out)
            res.message = "reading " + req.file + " took longer than " +
                          std::to_string(kChildTimeoutMs / 1000) + " s; gave up";
        else if (WIFSIGNALED(status))
            res.message = "libbpf crashed reading " + req.file + " (" +
                          signal_name(WTERMSIG(status)) + "): the object is malformed";
        else
            res.message = "the check of " + req.file + " ended without an answer (exit status " +
                          std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")";
        return res;
    }

    // Parse the records.
    size_t pos = 0, next_fd = 0;
    bool have_status = false;
    while (pos + 5 <= payload.size()) {
        Tag t = static_cast<Tag>(payload[pos]);
        uint32_t n;
        std::memcpy(&n, payload.data() + pos + 1, 4);
        pos += 5;
        if (pos + n > payload.size())
            break;
        std::string v = payload.substr(pos, n);
        pos += n;
        uint32_t a = 0, b = 0;
        if (v.size() >= 8) {
            std::memcpy(&a, v.data(), 4);
            std::memcpy(&b, v.data() + 4, 4);
        }
        switch (t) {
            case T_STATUS:
                have_status = true;
                res.ok = a == 0;
                if (a)
                    res.failure = static_cast<Failure>(a - 1);
                res.err = static_cast<int>(b);
                break;
            case T_MESSAGE:
                res.message = v;
                break;
            case T_DETAILS:
                res.details = v;
                break;
            case T_PROGRAM:
                res.info.program = v;
                break;
            case T_SECTION:
                res.info.section = v;
                break;
            case T_ABI:
                res.info.abi_version = a;
                break;
            case T_OWN_MAP:
                res.info.own_maps.push_back(v);
                break;
            case T_KEPT:
                res.kept.push_back(v);
                break;
            case T_MAP_FD:
                // fds[0] is the program; own maps follow in record order.
                if (next_fd + 1 < fds.size())
                    res.maps.emplace_back(v, std::move(fds[++next_fd]));
                break;
        }
    }
    if (res.ok && !fds.empty())
        res.prog = std::move(fds[0]);
    if (!have_status) {
        res.ok = false;
        res.failure = Failure::Malformed;
        res.message = "the check of " + req.file + " returned a garbled answer";
    }
    return res;
}

}  // namespace oobbpf::selectors::detail
