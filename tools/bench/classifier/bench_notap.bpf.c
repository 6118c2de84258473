// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The classifier built without its tap (OOB_NO_TAP, bpf_env.h): the benchmark's baseline for
 * what the tap costs while no tap runs. Everything else is the classifier itself.
 */
#define OOB_NO_TAP
#include "oob_xdp.bpf.c"
