# SPDX-License-Identifier: MIT
# Helpers for guest scripts (sourced before /test/run.sh; busybox sh).
#
#   vt_pass NAME / vt_fail NAME [WHY]   report one result
#   vt_check NAME CMD...                run CMD; pass when it succeeds, else fail with its output
#   vt_check_fails NAME CMD...          pass when CMD fails
#   vt_require NAME CMD...              vt_check, and end the script when it fails
#   vt_match NAME PATTERN CMD...        pass when CMD succeeds and its output matches PATTERN (ERE)
#   vt_mark; vt_dmesg                   kernel messages since the last mark
#   vt_wait SECONDS CMD...              retry CMD every 0.1 s until it succeeds or time runs out
# Results are lines `VMTEST PASS name` and `VMTEST FAIL name (why)` on the console.

vt_pass() {
	echo "VMTEST PASS $1"
}

vt_fail() {
	echo "VMTEST FAIL $1${2:+ ($2)}"
	echo "$1" >>/tmp/vt.failed
}

vt_check() {
	_vt_name=$1
	shift
	if "$@" >/tmp/vt.out 2>&1; then
		vt_pass "$_vt_name"
		return 0
	fi
	_vt_rc=$?
	echo "  \$ $*" && sed 's/^/  | /' /tmp/vt.out | tail -n 40
	vt_fail "$_vt_name" "exit $_vt_rc"
	return 1
}

vt_check_fails() {
	_vt_name=$1
	shift
	if "$@" >/tmp/vt.out 2>&1; then
		echo "  \$ $*" && sed 's/^/  | /' /tmp/vt.out | tail -n 40
		vt_fail "$_vt_name" "succeeded, expected a failure"
		return 1
	fi
	vt_pass "$_vt_name"
}

vt_require() {
	vt_check "$@" || exit 1
}

vt_match() {
	_vt_name=$1
	_vt_pat=$2
	shift 2
	if "$@" >/tmp/vt.out 2>&1 && grep -Eq -- "$_vt_pat" /tmp/vt.out; then
		vt_pass "$_vt_name"
		return 0
	fi
	echo "  \$ $*  (want /$_vt_pat/)" && sed 's/^/  | /' /tmp/vt.out | tail -n 40
	vt_fail "$_vt_name" "output does not match"
	return 1
}

vt_mark() {
	_vt_mark="vtmark-$$-$(cut -d' ' -f1 /proc/uptime)"
	echo "$_vt_mark" >/dev/kmsg
}

vt_dmesg() {
	dmesg | sed -n "/$_vt_mark/,\$p" | sed 1d
}

vt_wait() {
	_vt_n=$(($1 * 10))
	shift
	while [ "$_vt_n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		_vt_n=$((_vt_n - 1))
	done
	return 1
}
