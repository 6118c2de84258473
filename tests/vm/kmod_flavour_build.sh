#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Build kmod/ (W=1, -Werror) against another flavour of Debian's kernel headers, by default the
# PREEMPT_RT one matching the release of the default build tree: the module must stay free of
# warnings where spinlocks sleep and softirqs run in threads.
#
#   kmod_flavour_build.sh --build BUILD --kdir KDIR [--flavour rt-amd64]
#
# The headers are fetched with apt-get download and unpacked under BUILD/vm/headers (no install:
# an installed second linux-headers-*-amd64 would change which tree other builds pick by
# default), with their paths pointed at the unpacked copy. Exit 77 (skip) when they cannot be
# fetched.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
build="" kdir="" flavour=rt-amd64
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--kdir) kdir=$2; shift 2 ;;
	--flavour) flavour=$2; shift 2 ;;
	*) echo "usage: $0 --build BUILD --kdir KDIR [--flavour FLAVOUR]" >&2; exit 1 ;;
	esac
done
[ -n "$build" ] && [ -n "$kdir" ] || { echo "usage: $0 --build BUILD --kdir KDIR" >&2; exit 1; }
build=$(cd "$build" && pwd)
base=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"/\1/p' "$kdir/include/generated/utsrelease.h")
abi=${base%-*}			# 6.1.0-56 of 6.1.0-56-amd64
release=$abi-$flavour
tree=/usr/src/linux-headers-$release

if [ ! -f "$tree/Makefile" ]; then
	cache=$build/vm/headers/$release
	tree=$cache/root/usr/src/linux-headers-$release
	mkdir -p "$cache"
	(
		flock 9
		if [ ! -f "$cache/.done" ]; then
			rm -rf "$cache/root" "$cache"/*.deb
			if ! (cd "$cache" && apt-get download "linux-headers-$release" >"$cache/apt.log" 2>&1); then
				cat "$cache/apt.log" >&2
				echo "kmod_flavour_build: SKIP: cannot fetch linux-headers-$release" >&2
				exit 77
			fi
			deb=$(echo "$cache"/linux-headers-"$release"_*.deb)
			# The flavour's common headers and the kbuild tools it was built with.
			common=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -n 's/^ *\(linux-headers-[^ ]*-common[^ ]*\).*/\1/p')
			kbuild=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -n 's/^ *\(linux-kbuild-[^ ]*\).*/\1/p')
			(cd "$cache" && apt-get download "$common" >>"$cache/apt.log" 2>&1) ||
				{ cat "$cache/apt.log" >&2; exit 77; }
			[ -d "/usr/lib/$kbuild" ] || {
				echo "kmod_flavour_build: SKIP: $kbuild is not installed" >&2
				exit 77
			}
			for d in "$cache"/*.deb; do dpkg-deb -x "$d" "$cache/root"; done
			# Point the unpacked tree at itself and at the installed kbuild tools.
			sed -i "s|/usr/src/|$cache/root/usr/src/|" "$tree/Makefile"
			mkdir -p "$cache/root/usr/lib"
			ln -sfn "/usr/lib/$kbuild" "$cache/root/usr/lib/$kbuild"
			touch "$cache/.done"
		fi
	) 9>"$cache/.lock"
fi

out=$build/kmod-$flavour
rm -rf "$out"
mkdir -p "$out"
cp -r "$src/kmod/." "$out/"
echo "kmod_flavour_build: Kbuild against $tree"
make -s -j"$(nproc)" -C "$tree" M="$out" OOBBPF_INCLUDE="$src/include" KCFLAGS=-Werror W=1 modules 2>&1 |
	tee "$out/build.log"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "kmod_flavour_build: FAILED"; exit 1; }
# Kbuild's own notes are no warnings; anything else is.
if grep -v '^Skipping BTF generation' "$out/build.log" | grep -q .; then
	echo "kmod_flavour_build: FAILED: the build printed diagnostics"
	exit 1
fi
for ko in "$out/oobbpf.ko" "$out/oobbpf_testrx.ko"; do
	echo "$(basename "$ko"): $(modinfo -F vermagic "$ko")"
	modinfo -F vermagic "$ko" | grep -q "^$release " || { echo "wrong vermagic"; exit 1; }
done
echo "kmod_flavour_build: OK, no warnings with W=1 against linux-headers-$release"
