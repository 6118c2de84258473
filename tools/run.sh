#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The two entry points of the README, for a fresh Debian 12 machine:
#   tools/run.sh demo    install what is missing, build, run the demo
#   tools/run.sh test    install what is missing, build, run the whole test suite
# Each installs and builds what it needs. Needs root (BPF, namespaces).
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
	cd "$build"
	exec ctest --output-on-failure --timeout 900 "${@:2}"
	;;
esac
