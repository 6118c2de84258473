// SPDX-License-Identifier: MIT
// The loader's checks on objects, without loading anything (no privilege needed): every way a
// file can be wrong gives its own failure and one clear line; hostile files never take the
// calling process down.
#include "env.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace fs = std::filesystem;
using namespace oobbpf;
using namespace oobbpf::selectors;
using oobbpf::test::bpf_object_path;

namespace {

class TempDir {
  public:
    TempDir() {
        path_ = fs::temp_directory_path() / ("oobsel-" + std::to_string(getpid()));
        fs::create_directories(path_);
    }
    ~TempDir() { fs::remove_all(path_); }
    std::string file(const std::string &name, const std::string &content) const {
        std::string p = (path_ / name).string();
        std::ofstream(p, std::ios::binary) << content;
        return p;
    }
    std::string path(const std::string &name) const { return (path_ / name).string(); }

  private:
    fs::path path_;
};

std::string slurp(const std::string &p) {
    std::ifstream f(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), {}};
}

// Runs check_object and returns the failure; the test fails if it succeeds.
SelectorError check_fails(const std::string &file, const std::string &section = {}) {
    try {
        check_object(file, section);
    } catch (const SelectorError &e) {
        // One line, for people.
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
        return e;
    }
    ADD_FAILURE() << file << " [" << section << "] passed the checks";
    return SelectorError(Failure::Kernel, "passed");
}

#define EXPECT_FAILS(file, section, f, text)                                          \
    do {                                                                              \
        SelectorError e_ = check_fails(file, section);                                \
        EXPECT_EQ(e_.failure(), Failure::f) << e_.what();                             \
        EXPECT_NE(std::string(e_.what()).find(text), std::string::npos) << e_.what(); \
    } while (0)

}  // namespace

TEST(SelectorCheck, ExamplesPass) {
    ObjectInfo u = check_object(bpf_object_path("sel_udp_range"));
    EXPECT_EQ(u.program, "sel_udp_range");
    EXPECT_EQ(u.section, "xdp.frags");
    EXPECT_EQ(u.abi_version, static_cast<uint32_t>(OOB_ABI_VERSION));
    EXPECT_EQ(u.own_maps, std::vector<std::string>{"udp_range"});

    ObjectInfo e = check_object(bpf_object_path("sel_ethercat"));
    EXPECT_EQ(e.program, "sel_ethercat");
    EXPECT_TRUE(e.own_maps.empty());

    ObjectInfo a = check_object(bpf_object_path("sel_allow_src"), "sel_allow_src");
    EXPECT_EQ(a.own_maps, std::vector<std::string>{"allow_src"});
    // The section name works as well when one program has it.
    EXPECT_EQ(check_object(bpf_object_path("sel_allow_src"), "xdp.frags").program, "sel_allow_src");
}

TEST(SelectorCheck, SectionPicksOneOfSeveral) {
    EXPECT_EQ(check_object(bpf_object_path("fx_two"), "probe_b").program, "probe_b");
    EXPECT_EQ(check_object(bpf_object_path("fx_two"), "probe_a").program, "probe_a");
    EXPECT_FAILS(bpf_object_path("fx_two"), "", Ambiguous,
                 "holds 2 programs: probe_a (xdp.frags), probe_b (xdp.frags); pick one with "
                 "section NAME");
    EXPECT_FAILS(bpf_object_path("fx_two"), "xdp.frags", Ambiguous,
                 "2 programs in section xdp.frags");
    EXPECT_FAILS(bpf_object_path("fx_two"), "probe_c", NoSuchSection,
                 "has no section or program probe_c; it has probe_a (xdp.frags), probe_b");
}

TEST(SelectorCheck, FileErrors) {
    TempDir t;
    EXPECT_FAILS(t.path("missing.o"), "", NoFile,
                 "cannot open " + t.path("missing.o") + ": No such file or directory");
    EXPECT_FAILS(t.path(""), "", NotElf, "is a directory");
    EXPECT_FAILS("/dev/null", "", NotElf, "/dev/null is not a regular file");
    ASSERT_EQ(mkfifo(t.path("fifo.o").c_str(), 0600), 0);
    EXPECT_FAILS(t.path("fifo.o"), "", NotElf, "is not a regular file");
    EXPECT_FAILS(t.file("text.o", "int main() { return 0; }\n"), "", NotElf, "is not an ELF file");
    EXPECT_FAILS(t.file("empty.o", ""), "", NotElf, "is not an ELF file");
    EXPECT_FAILS("/proc/self/exe", "", NotBpf, "is an ELF file for x86-64, not a BPF object");
    // An ELF header and nothing else.
    std::string obj = slurp(bpf_object_path("sel_ethercat"));
    EXPECT_FAILS(t.file("head.o", obj.substr(0, 64)), "", Malformed, "is not a usable BPF object");
    EXPECT_FAILS(t.file("half.o", obj.substr(0, obj.size() / 2)), "", Malformed,
                 "is not a usable BPF object");
}

TEST(SelectorCheck, ProgramErrors) {
    EXPECT_FAILS(bpf_object_path("fx_no_prog"), "", NoProgram,
                 "holds no program (define the selector with OOB_SELECTOR)");
    EXPECT_FAILS(bpf_object_path("fx_tc"), "", WrongType,
                 "program not_xdp (section tc) of " + bpf_object_path("fx_tc") +
                     " is a sched_cls program, not a selector");
    EXPECT_FAILS(bpf_object_path("fx_devmap"), "", WrongType, "is XDP for xdp_devmap");
    EXPECT_FAILS(bpf_object_path("fx_no_frags"), "", NoFrags,
                 "program no_frags (section xdp) of " + bpf_object_path("fx_no_frags") +
                     " is XDP without frags");
}

TEST(SelectorCheck, AbiErrors) {
    EXPECT_FAILS(bpf_object_path("fx_no_marker"), "", NoAbiMarker,
                 "was not built with <oobbpf/selector.h>");
    EXPECT_FAILS(bpf_object_path("fx_abi_old"), "", AbiMismatch,
                 "was built for selector ABI " + std::to_string(OOB_ABI_VERSION + 100) +
                     ", this oobbpf speaks ABI " + std::to_string(OOB_ABI_VERSION));
}

TEST(SelectorCheck, NoBtfSaysCompileWithG) {
    TempDir t;
    std::string out = t.path("nobtf.o");
    auto r = test::sh("llvm-objcopy --remove-section=.BTF --remove-section=.BTF.ext " +
                      bpf_object_path("sel_udp_range") + " " + out);
    if (r.status != 0)
        GTEST_SKIP() << "llvm-objcopy unavailable: " << r.out;
    EXPECT_FAILS(out, "", Malformed, "its maps need BTF, compile with clang -g");
}

// Damaged copies of a real object: every one is accepted or refused with one line; none takes
// this process down, whatever libbpf does with it in the child.
TEST(SelectorCheck, DamagedObjectsNeverCrashTheCaller) {
    TempDir t;
    const std::string orig = slurp(bpf_object_path("sel_allow_src"));
    ASSERT_GT(orig.size(), 1000u);
    std::mt19937 rng(20261122);
    int accepted = 0, refused = 0, crashed = 0;
    for (int i = 0; i < 150; i++) {
        std::string bad = orig;
        // A few bytes anywhere past the ELF identification, or a whole header field.
        int n = 1 + static_cast<int>(rng() % 8);
        for (int k = 0; k < n; k++)
            bad[16 + rng() % (bad.size() - 16)] = static_cast<char>(rng());
        std::string p = t.file("fuzz.o", bad);
        try {
            check_object(p);
            accepted++;
        } catch (const SelectorError &e) {
            refused++;
            std::string w = e.what();
            EXPECT_EQ(w.find('\n'), std::string::npos) << w;
            if (w.find("libbpf crashed") != std::string::npos)
                crashed++;
        }
    }
    EXPECT_EQ(accepted + refused, 150);
    RecordProperty("accepted", accepted);
    RecordProperty("refused", refused);
    RecordProperty("libbpf_crashes_contained", crashed);
    std::printf(
        "damaged objects: %d accepted, %d refused (%d of them crashed libbpf in the "
        "child)\n",
        accepted, refused, crashed);
}

TEST(SelectorCheck, SharedMapPins) {
    EXPECT_EQ(shared_map_pin("oob_devs"), OOB_PIN_DEVS);
    EXPECT_EQ(shared_map_pin("oob_selectors"), OOB_PIN_SELECTORS);
    EXPECT_EQ(shared_map_pin("oob_port_stats"), OOB_PIN_PORT_STATS);
    EXPECT_EQ(shared_map_pin("oob_rule_masks"), OOB_PIN_RULE_MASKS);
    EXPECT_EQ(shared_map_pin("allow_src"), "");
    EXPECT_EQ(shared_map_pin("oob_"), "");
}

TEST(SelectorCheck, VerifierSummary) {
    const std::string log =
        "func#0 @0\n"
        "0: R1=ctx() R10=fp0\n"
        "; __u8 *data = (void *)(long)ctx->data; @ fx_verifier.bpf.c:9\n"
        "0: (61) r2 = *(u32 *)(r1 +0)          ; R1=ctx() R2_w=pkt(r=0)\n"
        "; return data[100] == 0x42 ? OOB_DROP : OOB_SKIP; @ fx_verifier.bpf.c:11\n"
        "1: (71) r3 = *(u8 *)(r2 +100)\n"
        "invalid access to packet, off=100 size=1, R2(id=0,off=100,r=0)\n"
        "R2 offset is outside of the packet\n"
        "processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 "
        "mark_read 0\n";
    EXPECT_EQ(verifier_summary(log),
              "invalid access to packet, off=100 size=1, R2(id=0,off=100,r=0); R2 offset is "
              "outside of the packet, at insn 1 `r3 = *(u8 *)(r2 +100)`: `return data[100] == "
              "0x42 ? OOB_DROP : OOB_SKIP;` (fx_verifier.bpf.c:11)");
    EXPECT_EQ(verifier_summary("R0 !read_ok\n"), "R0 !read_ok");
    EXPECT_EQ(verifier_summary(""), "no log");
}
