# SPDX-License-Identifier: MIT
# VM tests: a guest script run by tests/vm/vm-run.sh in Debian's kernel under qemu.
#
#   include(${CMAKE_SOURCE_DIR}/tests/vm/VmTest.cmake)
#   oobbpf_vm_test(NAME name SCRIPT guest.sh [KMOD] [TIMEOUT s]
#                  [FILES file...] [BINS target...] [DEPENDS target...] [MODULES mod...]
#                  [ARGS vm-run-arg...])
#
# Registers CTest `vm_<name>` (label vm, serial). KMOD carries build/kmod/oobbpf.ko and is only
# registered where the module is built (OOBBPF_HAVE_KMOD); kmod tests have `kmod` in their name.
# BINS are executables of this build (copied with their shared libraries); FILES land in
# /test/files; DEPENDS are further targets the guest needs (e.g. bpf_oob_xdp). Every test
# requires the fixture `oobbpf_vm`: `vm_build` builds the targets all VM tests named, `vm_kernel`
# fetches and unpacks the kernel image once (cached in build/vm/kernel).
include_guard(GLOBAL)

# Functions find the harness next to their own definition: they also run from other directories
# (and, deferred, from the top level), where this file's variables are not in scope.
function(_oobbpf_vm_fixture)
  set(vm_run ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/vm-run.sh)
  get_property(targets GLOBAL PROPERTY OOBBPF_VM_TARGETS)
  list(REMOVE_DUPLICATES targets)
  add_test(NAME vm_build COMMAND ${CMAKE_COMMAND} --build ${CMAKE_BINARY_DIR} --target ${targets})
  set(kdir)
  if(OOBBPF_HAVE_KMOD)
    set(kdir --kdir ${OOBBPF_KDIR})
  endif()
  add_test(NAME vm_kernel COMMAND ${vm_run} --prepare --build ${CMAKE_BINARY_DIR} ${kdir})
  set_tests_properties(vm_build vm_kernel PROPERTIES LABELS vm FIXTURES_SETUP oobbpf_vm
    TIMEOUT 600 RUN_SERIAL TRUE SKIP_RETURN_CODE 77)
endfunction()

function(oobbpf_vm_test)
  cmake_parse_arguments(V "KMOD" "NAME;SCRIPT;TIMEOUT" "FILES;BINS;DEPENDS;MODULES;ARGS" ${ARGN})
  if(NOT V_NAME OR NOT V_SCRIPT)
    message(FATAL_ERROR "oobbpf_vm_test: NAME and SCRIPT are required")
  endif()
  if(V_KMOD AND NOT OOBBPF_HAVE_KMOD)
    message(STATUS "vm: vm_${V_NAME} NOT registered: no kernel build tree to build the module "
      "(set OOBBPF_KDIR; Debian: apt-get install linux-headers-amd64)")
    return()
  endif()
  if(NOT V_TIMEOUT)
    set(V_TIMEOUT 180)
  endif()
  get_filename_component(script ${V_SCRIPT} ABSOLUTE)

  set(args --build ${CMAKE_BINARY_DIR} --name ${V_NAME} --script ${script} --timeout ${V_TIMEOUT})
  set(targets ${V_DEPENDS} ${V_BINS})
  if(OOBBPF_HAVE_KMOD)
    list(APPEND args --kdir ${OOBBPF_KDIR})
  endif()
  if(V_KMOD)
    list(APPEND args --kmod ${OOBBPF_KMOD_DIR}/oobbpf.ko)
    list(APPEND targets kmod)
  else()
    list(APPEND args --no-kmod)
  endif()
  foreach(f IN LISTS V_FILES)
    list(APPEND args --file ${f})
  endforeach()
  foreach(b IN LISTS V_BINS)
    list(APPEND args --bin $<TARGET_FILE:${b}>)
  endforeach()
  foreach(m IN LISTS V_MODULES)
    list(APPEND args --module ${m})
  endforeach()
  list(APPEND args ${V_ARGS})

  add_test(NAME vm_${V_NAME} COMMAND ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/vm-run.sh ${args})
  # The harness enforces its own timeout (and says so); CTest's is the backstop.
  math(EXPR ctest_timeout "${V_TIMEOUT} + 30")
  set_tests_properties(vm_${V_NAME} PROPERTIES LABELS vm TIMEOUT ${ctest_timeout} RUN_SERIAL TRUE
    SKIP_RETURN_CODE 77 FIXTURES_REQUIRED oobbpf_vm)

  set_property(GLOBAL APPEND PROPERTY OOBBPF_VM_TARGETS ${targets})
  get_property(deferred GLOBAL PROPERTY OOBBPF_VM_FIXTURE_DEFERRED)
  if(NOT deferred)
    # The build fixture must name every target of every VM test, including tests registered
    # after this one: define it when the top-level directory is done.
    set_property(GLOBAL PROPERTY OOBBPF_VM_FIXTURE_DEFERRED ON)
    cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL _oobbpf_vm_fixture)
  endif()
endfunction()
