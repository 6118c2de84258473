// SPDX-License-Identifier: GPL-2.0-only
/*
 * Compile check of the Dovetail build of the hook file on a stock kernel: hooks_dovetail.c
 * against the documented Dovetail stub. Built by Kbuild (always-y) with the module's flags;
 * linked into nothing.
 */
#include "dovetail/dovetail_stub.h"
#include "hooks_dovetail.c"
