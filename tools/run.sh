#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The two entry points of the README, for a fresh Debian 12 machine:
#   tools/run.sh demo    install what is missing, build, run the demo
#   tools/run.sh test    install what is missing, build, run the whole test suite
# Each installs and builds what it needs. Needs root (BPF, namespaces).
#
# `test` runs every tier of the normal build (build/), then the asan and fuzz tiers of a second,
# clang-built one (build-san/: -DOOBBPF_ASAN=ON -DOOBBPF_FUZZ=ON, no kmod, no vm tier; only what
# those tiers need is built). Extra arguments go to every ctest run, e.g. `test -R rules` or
# `test -L unit`; the sanitizer build is only built when they select some of its tests
# (`test -LE 'asan|fuzz'` leaves it out). Exit status: non-zero when any tier failed.
# OOBBPF_BUILD_DIR and OOBBPF_SAN_BUILD_DIR move the two build directories.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${OOBBPF_BUILD_DIR:-$top/build}
cmd=${1:-}
case "$cmd" in
demo | test) ;;
*)
	echo "usage: tools/run.sh demo|test" >&2
	exit 2
	;;
esac

if [ "$(id -u)" -ne 0 ]; then
	echo "tools/run.sh: needs root (BPF programs, network namespaces); try: sudo $0 $cmd" >&2
	exit 1
fi

"$top/tools/deps.sh"
gen=Ninja
command -v ninja >/dev/null || gen="Unix Makefiles"
[ -f "$build/CMakeCache.txt" ] || cmake -S "$top" -B "$build" -G "$gen" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"

case "$cmd" in
demo)
	exec "$top/tools/demo/oobbpf-demo.sh" --build "$build" "${@:2}"
	;;
test)
	san=${OOBBPF_SAN_BUILD_DIR:-$top/build-san}
	failed=()
	summary=()
	step() { # step NAME COMMAND...: runs, times and records one step; returns its status
		local name=$1 t0=$SECONDS rc=0
		shift
		"$@" || rc=$?
		summary+=("$(printf '%-24s %s (%d s)' "$name" "$([ $rc -eq 0 ] && echo ok || echo FAILED)" $((SECONDS - t0)))")
		[ $rc -eq 0 ] || failed+=("$name")
		return $rc
	}
	step "tests ($(basename "$build"))" ctest --test-dir "$build" --output-on-failure --timeout 900 "${@:2}" || true

	selected() { ctest --test-dir "$san" -N "$@" 2>/dev/null | sed -n 's/^Total Tests: //p'; }
	if [ -f "$san/CMakeCache.txt" ] || step "sanitizer configure" env CC=clang CXX=clang++ \
		cmake -S "$top" -B "$san" -G "$gen" -DOOBBPF_ASAN=ON -DOOBBPF_FUZZ=ON \
		-DOOBBPF_SKIP_PARTS="vm;bench" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
		-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" >/dev/null; then
		if [ "$(selected -L asan "${@:2}")" != 0 ] || [ "$(selected -L fuzz "${@:2}")" != 0 ]; then
			if step "sanitizer build" cmake --build "$san" --target oobbpf_san_tiers -j"$(nproc)"; then
				step "asan ($(basename "$san"))" ctest --test-dir "$san" --output-on-failure \
					-L asan "${@:2}" || true
				# Each fuzz target mutates for a fixed time: run them side by side.
				step "fuzz ($(basename "$san"))" ctest --test-dir "$san" --output-on-failure \
					-L fuzz -j"$(nproc)" "${@:2}" || true
			fi
		fi
	fi

	printf '%s\n' "${summary[@]}"
	if [ ${#failed[@]} -gt 0 ]; then
		echo "tools/run.sh test: FAILED: ${failed[*]}" >&2
		exit 1
	fi
	;;
esac
