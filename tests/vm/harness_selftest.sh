#!/bin/bash
# SPDX-License-Identifier: MIT
# The harness must fail when the guest does: a reported failure, a kernel WARNING, a panic (fast,
# not by timeout) and a hang (by timeout). Each case boots a VM with a tiny guest script and
# expects vm-run.sh to exit 1 with the matching explanation; one clean case must pass. The cases
# run side by side (one guest CPU each): the hang case's timeout bounds the whole run.
#   harness_selftest.sh VM-RUN-ARGS...   (e.g. --build build)
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0

# case NAME WANT-RC WANT-PATTERN TIMEOUT GUEST-SCRIPT-TEXT
case_() {
	local name=$1 want_rc=$2 want=$3 t=$4 text=$5 rc start secs
	printf '%s\n' "$text" >"$tmp/$name.sh"
	start=$(date +%s)
	"$here/vm-run.sh" --name "selftest_$name" --script "$tmp/$name.sh" --no-kmod --smp 1 \
		--timeout "$t" "${args[@]}" >"$tmp/$name.out" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	if [ "$rc" = 77 ]; then
		cat "$tmp/$name.out"
		echo skip >"$tmp/$name.status"
	elif [ "$rc" != "$want_rc" ] || ! grep -Eq -- "$want" "$tmp/$name.out" ||
		{ [ "$name" != hang ] && grep -q TIMEOUT "$tmp/$name.out"; }; then
		echo "FAIL $name: rc=$rc (want $want_rc), want /$want/ in:"
		sed 's/^/    /' "$tmp/$name.out" | tail -n 30
		echo fail >"$tmp/$name.status"
	else
		echo "ok   $name: rc=$rc in ${secs}s ($(grep -Eo -- "$want" "$tmp/$name.out" | head -n 1))"
		echo ok >"$tmp/$name.status"
	fi
}

args=("$@")
set --
# Prepare the kernel once, not six times in parallel.
"$here/vm-run.sh" --prepare "${args[@]}" >/dev/null || exit $?
case_ pass 0 'selftest_pass: OK' 90 'vt_pass clean' &
case_ reported 1 'VMTEST FAIL deliberate' 90 'vt_pass one; vt_fail deliberate "on purpose"' &
case_ script_rc 1 'guest rc=3' 90 'vt_pass one; exit 3' &
case_ warning 1 'the kernel complained' 90 \
	'vt_pass one; echo "<4>WARNING: CPU: 0 PID: 1 at selftest/injected.c:1" >/dev/kmsg' &
case_ panic 1 'Kernel panic - not syncing' 90 'vt_pass one; echo c >/proc/sysrq-trigger; sleep 600' &
case_ hang 1 'TIMEOUT after 25s' 25 'vt_pass one; sleep 600' &
wait
grep -q fail "$tmp"/*.status && bad=1
grep -q skip "$tmp"/*.status && [ "$bad" = 0 ] && exit 77
[ "$(cat "$tmp"/*.status | grep -c ok)" = 6 ] || bad=1
exit $bad
