# SPDX-License-Identifier: MIT
# Test tiers are CTest labels, each with a per-test time budget (seconds):
#   unit   unprivileged: parsers, rule logic, the software classifier, layouts      (60)
#   bpf    BPF_PROG_TEST_RUN fixtures; need CAP_BPF (skip with a reason without it) (120)
#   netns  real veth in namespaces the test creates, real daemon and peers           (300)
#   vm     Debian's 6.1 kernel under qemu (kmod, libxdp dispatcher)                  (900)
# Tiers of the sanitizer build (-DOOBBPF_ASAN=ON, docs/sanitizers.md), on top of the above:
#   asan   the unit and netns tests again, built with AddressSanitizer + UBSan           (600)
#   fuzz   libFuzzer targets, each for a bounded time from its corpus (tests/fuzz)      (120)
find_package(GTest REQUIRED)
include(GoogleTest)

set(OOBBPF_BUDGET_unit 60)
set(OOBBPF_BUDGET_bpf 120)
set(OOBBPF_BUDGET_netns 300)
set(OOBBPF_BUDGET_vm 900)
set(OOBBPF_BUDGET_asan 600)
set(OOBBPF_BUDGET_fuzz 120)

if(OOBBPF_ASAN)
  # The sanitizers' settings (docs/sanitizers.md says why each is there). Detection stays on,
  # leaks included, in every process a test starts (oobbpfd, the CLI, oob-echo inherit them).
  set(asan_opts "detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1")
  set(ubsan_opts "print_stacktrace=1:halt_on_error=1")
  # Fuzz targets: reports on stderr, beside libFuzzer's own.
  set(OOBBPF_FUZZ_ENV "ASAN_OPTIONS=${asan_opts}" "UBSAN_OPTIONS=${ubsan_opts}")
  # The asan tier: reports go to files, one per process, because a daemon's stderr is a log the
  # test may never read, and a leak found when it exits changes nothing the test sees.
  # zz_asan_no_reports fails the tier when any process of it wrote one.
  set(OOBBPF_SANITIZER_REPORTS ${CMAKE_BINARY_DIR}/sanitizer-reports)
  set(log "log_path=${OOBBPF_SANITIZER_REPORTS}/report:log_exe_name=1")
  set(OOBBPF_SANITIZER_ENV "ASAN_OPTIONS=${asan_opts}:${log}" "UBSAN_OPTIONS=${ubsan_opts}:${log}")

  # Around the tier (a fixture: also when only some of its tests run): an empty report directory
  # first; at the end, no report, and nothing left behind (the netns tier's check, which is not
  # part of this tier).
  file(MAKE_DIRECTORY ${OOBBPF_SANITIZER_REPORTS})
  add_test(NAME asan_reports_reset
    COMMAND sh -c "rm -rf \"$0\" && mkdir -p \"$0\"" ${OOBBPF_SANITIZER_REPORTS})
  add_test(NAME zz_asan_no_reports COMMAND sh -c
    "set -- \"$0\"/*; [ -e \"$1\" ] || { echo 'no sanitizer reports'; exit 0; }; for f; do echo \"== $f\"; cat \"$f\"; done; exit 1"
    ${OOBBPF_SANITIZER_REPORTS})
  add_test(NAME zz_asan_nothing_left_behind COMMAND ${CMAKE_SOURCE_DIR}/tests/leakcheck/leakcheck.sh)
  set_tests_properties(asan_reports_reset PROPERTIES LABELS asan TIMEOUT 30
    FIXTURES_SETUP oobbpf_asan)
  set_tests_properties(zz_asan_no_reports zz_asan_nothing_left_behind PROPERTIES LABELS asan
    TIMEOUT 30 RUN_SERIAL TRUE FIXTURES_CLEANUP oobbpf_asan)

  # oobbpf_san_tiers: what `ctest -L asan` and `ctest -L fuzz` need and nothing else (CI builds
  # this instead of everything): every executable of the build and the BPF objects, but not the
  # test binaries of the other tiers. Defined once the whole build is known.
  function(_oobbpf_san_targets dir out)
    get_property(ts DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
    get_property(skip GLOBAL PROPERTY OOBBPF_NON_ASAN_TESTS)
    set(keep)
    foreach(t IN LISTS ts)
      get_target_property(type ${t} TYPE)
      get_target_property(exclude ${t} EXCLUDE_FROM_ALL)
      if(exclude OR t IN_LIST skip)
        continue()
      endif()
      if(type STREQUAL "EXECUTABLE" OR (type STREQUAL "UTILITY" AND t MATCHES "^bpf_"))
        list(APPEND keep ${t})
      endif()
    endforeach()
    get_property(subs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
    foreach(s IN LISTS subs)
      _oobbpf_san_targets(${s} more)
      list(APPEND keep ${more})
    endforeach()
    set(${out} ${keep} PARENT_SCOPE)
  endfunction()
  function(_oobbpf_san_tiers)
    _oobbpf_san_targets(${CMAKE_SOURCE_DIR} targets)
    add_custom_target(oobbpf_san_tiers)
    add_dependencies(oobbpf_san_tiers ${targets})
  endfunction()
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL _oobbpf_san_tiers)
endif()

# For tests/fuzz, which the top level adds after tests/.
set_property(GLOBAL PROPERTY OOBBPF_BUDGET_fuzz ${OOBBPF_BUDGET_fuzz})
set_property(GLOBAL PROPERTY OOBBPF_FUZZ_ENV "${OOBBPF_FUZZ_ENV}")

# oobbpf_gtest(target LABEL tier SOURCES ... LIBS ... [SERIAL])
# One CTest per executable (not per case): keeps namespace setup per process and output readable.
function(oobbpf_gtest target)
  cmake_parse_arguments(T "SERIAL" "LABEL" "SOURCES;LIBS" ${ARGN})
  add_executable(${target} ${T_SOURCES})
  target_link_libraries(${target} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main oobbpf_warnings oobbpf_testlib)
  add_test(NAME ${target} COMMAND ${target} --gtest_color=no)
  set(labels ${T_LABEL})
  set(budget ${OOBBPF_BUDGET_${T_LABEL}})
  set(env "OOBBPF_BUILD=${CMAKE_BINARY_DIR};OOBBPF_SOURCE=${CMAKE_SOURCE_DIR}")
  if(OOBBPF_ASAN AND (T_LABEL STREQUAL "unit" OR T_LABEL STREQUAL "netns"))
    list(APPEND labels asan)
    set(budget ${OOBBPF_BUDGET_asan})
    list(APPEND env ${OOBBPF_SANITIZER_ENV})
    set_tests_properties(${target} PROPERTIES FIXTURES_REQUIRED oobbpf_asan)
  else()
    set_property(GLOBAL APPEND PROPERTY OOBBPF_NON_ASAN_TESTS ${target})
  endif()
  set_tests_properties(${target} PROPERTIES LABELS "${labels}" TIMEOUT ${budget}
    SKIP_RETURN_CODE 77 ENVIRONMENT "${env}")
  if(T_SERIAL OR T_LABEL STREQUAL "netns" OR T_LABEL STREQUAL "vm")
    set_tests_properties(${target} PROPERTIES RUN_SERIAL TRUE)
  endif()
endfunction()
