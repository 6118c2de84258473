#!/bin/sh
# SPDX-License-Identifier: MIT
# run-fuzz.sh WORK SEEDS FUZZER [LIBFUZZER-FLAG...]
# One CTest run of a fuzz target: a fresh working corpus WORK (what this run finds lands there
# and stays until the next run), the seeds read from SEEDS, never written. Starting from the
# seeds each time keeps the run within its time budget: replaying an ever-growing corpus would
# not be.
set -eu
work=$1 seeds=$2
shift 2
rm -rf "$work"
mkdir -p "$work"
exec "$@" "$work" "$seeds"
