# SPDX-License-Identifier: MIT
# The kernel module is built by Kbuild against a kernel build tree. Default: the installed
# Debian linux-headers-*-amd64 (6.1). Where no tree exists the target is skipped, out loud.
file(GLOB _kdirs /usr/src/linux-headers-*-amd64)
list(SORT _kdirs)
list(LENGTH _kdirs _nk)
set(_kdefault "")
if(_nk GREATER 0)
  list(GET _kdirs -1 _kdefault)
endif()
set(OOBBPF_KDIR "${_kdefault}" CACHE PATH "Kernel build tree for kmod/ (Kbuild)")

if(OOBBPF_KDIR AND EXISTS "${OOBBPF_KDIR}/Makefile")
  set(OOBBPF_KMOD_DIR ${CMAKE_BINARY_DIR}/kmod)
  file(GLOB OOBBPF_KMOD_SRCS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/kmod/*.c ${CMAKE_SOURCE_DIR}/kmod/*.h
    ${CMAKE_SOURCE_DIR}/kmod/dovetail/*.h ${CMAKE_SOURCE_DIR}/kmod/Kbuild
    ${CMAKE_SOURCE_DIR}/include/oobbpf/*.h)
  # Kbuild writes next to its sources: build from a copy so the source tree stays clean.
  # W=1 adds -Wmissing-prototypes and friends; any warning fails the build. Outputs: the module,
  # the test receiver module (a stand-in companion core for the VM tests) and the compile check
  # of the Dovetail hook file (kmod/dovetail/README.md).
  add_custom_command(OUTPUT ${OOBBPF_KMOD_DIR}/oobbpf.ko
    BYPRODUCTS ${OOBBPF_KMOD_DIR}/oobbpf_testrx.ko ${OOBBPF_KMOD_DIR}/dovetail_check.o
    COMMAND ${CMAKE_COMMAND} -E make_directory ${OOBBPF_KMOD_DIR}
    COMMAND ${CMAKE_COMMAND} -E copy_directory ${CMAKE_SOURCE_DIR}/kmod ${OOBBPF_KMOD_DIR}
    COMMAND make -s -C ${OOBBPF_KDIR} M=${OOBBPF_KMOD_DIR} OOBBPF_INCLUDE=${CMAKE_SOURCE_DIR}/include
      KCFLAGS=-Werror W=1 modules
    DEPENDS ${OOBBPF_KMOD_SRCS}
    COMMENT "kmod: Kbuild against ${OOBBPF_KDIR}")
  add_custom_target(kmod ALL DEPENDS ${OOBBPF_KMOD_DIR}/oobbpf.ko)
  set(OOBBPF_HAVE_KMOD ON)
  message(STATUS "kmod: building against ${OOBBPF_KDIR}")
else()
  set(OOBBPF_HAVE_KMOD OFF)
  message(STATUS "kmod: SKIPPED - no kernel build tree (set OOBBPF_KDIR; Debian: apt-get install linux-headers-amd64)")
endif()
