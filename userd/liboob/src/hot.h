// SPDX-License-Identifier: MIT
// The per-frame path of liboob (receive, deliver, send, complete, checksums) is called once
// every few microseconds while the kernel's own code runs in between and pushes it out of the
// instruction cache and TLBs. Marked hot, these functions are placed together in .text.hot
// (GCC and Clang; GNU ld and lld keep that section together) instead of across a dozen pages.
#pragma once

#define OOB_HOT __attribute__((hot))
