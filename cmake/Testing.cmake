# SPDX-License-Identifier: MIT
# Test tiers are CTest labels, each with a per-test time budget (seconds):
#   unit   unprivileged: parsers, rule logic, the software classifier, layouts      (60)
#   bpf    BPF_PROG_TEST_RUN fixtures; need CAP_BPF (skip with a reason without it) (120)
#   netns  real veth in namespaces the test creates, real daemon and peers           (300)
#   vm     Debian's 6.1 kernel under qemu (kmod, libxdp dispatcher)                  (900)
# Later tiers: asan, fuzz.
find_package(GTest REQUIRED)
include(GoogleTest)

set(OOBBPF_BUDGET_unit 60)
set(OOBBPF_BUDGET_bpf 120)
set(OOBBPF_BUDGET_netns 300)
set(OOBBPF_BUDGET_vm 900)
set(OOBBPF_BUDGET_asan 600)
set(OOBBPF_BUDGET_fuzz 120)

# oobbpf_gtest(target LABEL tier SOURCES ... LIBS ... [SERIAL])
# One CTest per executable (not per case): keeps namespace setup per process and output readable.
function(oobbpf_gtest target)
  cmake_parse_arguments(T "SERIAL" "LABEL" "SOURCES;LIBS" ${ARGN})
  add_executable(${target} ${T_SOURCES})
  target_link_libraries(${target} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main oobbpf_warnings oobbpf_testlib)
  add_test(NAME ${target} COMMAND ${target} --gtest_color=no)
  set_tests_properties(${target} PROPERTIES LABELS ${T_LABEL} TIMEOUT ${OOBBPF_BUDGET_${T_LABEL}}
    SKIP_RETURN_CODE 77
    ENVIRONMENT "OOBBPF_BUILD=${CMAKE_BINARY_DIR};OOBBPF_SOURCE=${CMAKE_SOURCE_DIR}")
  if(T_SERIAL OR T_LABEL STREQUAL "netns" OR T_LABEL STREQUAL "vm")
    set_tests_properties(${target} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()
