#!/bin/bash
# SPDX-License-Identifier: MIT
#
# The kernel VM harness: boots Debian's kernel (the image matching the kernel build tree the
# module is built against) under qemu TCG with a busybox initramfs, runs one guest script in it,
# collects the results from the serial console and powers off.
#
#   vm-run.sh --script guest.sh [options]
#
# The guest script runs as root in the initramfs with /test/lib.sh sourced (vt_pass, vt_fail,
# vt_check, ...). It reports lines `VMTEST PASS name` / `VMTEST FAIL name [why]`; the guest's
# init ends with `VMTEST DONE rc=N`. This script exits 0 only when DONE says rc=0, no test
# failed, and the console shows no oops, BUG, WARNING or panic; 77 when the VM cannot run here
# (CTest's skip code); 1 otherwise, including on timeout.
#
# Speed facts (2 host cores, no KVM): booting the uncompressed vmlinux through its PVH entry
# skips the in-guest xz decompression, which under TCG costs more than the rest of the boot; an
# uncompressed initramfs is unpacked faster than a compressed one for the same reason.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() {
	cat <<'EOF'
Usage: vm-run.sh --script FILE [OPTIONS]
  -s, --script FILE       guest script (sourced after /test/lib.sh; required unless --prepare)
  -n, --name NAME         test name: log file and guest $VT_NAME (default: script basename)
  -b, --build DIR         build directory (default: $OOBBPF_BUILD, else ./build)
  -K, --kdir DIR          kernel build tree whose release is booted (default: $OOBBPF_KDIR,
                          else the newest /usr/src/linux-headers-*-amd64)
  -k, --kmod FILE         project module, copied to /test/oobbpf.ko
                          (default: BUILD/kmod/oobbpf.ko when it exists)
      --no-kmod           do not carry the project module
  -f, --file SRC[:DEST]   file or directory into the guest (default DEST /test/files/NAME)
  -x, --bin FILE          executable into /test/bin, with the shared libraries ldd names
  -m, --module NAME       a module of the booted kernel, with its dependencies (repeatable;
                          always: veth dummy 8021q)
  -e, --env VAR=VALUE     environment of the guest script (repeatable)
  -t, --timeout SECONDS   whole run, boot included (default 240)
      --mem MIB           guest memory (default 1024)
      --smp N             guest CPUs (default 2)
      --append ARGS       extra kernel command line
      --prepare           fetch and unpack the kernel only (cached), then exit
  -h, --help
EOF
}

die() {
	echo "vm-run: $*" >&2
	exit 1
}

skip() {
	echo "vm-run: SKIP: $*" >&2
	exit 77
}

script="" name="" build="${OOBBPF_BUILD:-}" kdir="${OOBBPF_KDIR:-}" kmod="" no_kmod=0
timeout_s=240 mem=1024 smp=2 append="" prepare=0
files=() bins=() modules=(veth dummy 8021q) envs=()

while [ $# -gt 0 ]; do
	case "$1" in
	-s | --script) script=$2; shift 2 ;;
	-n | --name) name=$2; shift 2 ;;
	-b | --build) build=$2; shift 2 ;;
	-K | --kdir) kdir=$2; shift 2 ;;
	-k | --kmod) kmod=$2; shift 2 ;;
	--no-kmod) no_kmod=1; shift ;;
	-f | --file) files+=("$2"); shift 2 ;;
	-x | --bin) bins+=("$2"); shift 2 ;;
	-m | --module) modules+=("$2"); shift 2 ;;
	-e | --env) envs+=("$2"); shift 2 ;;
	-t | --timeout) timeout_s=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--append) append=$2; shift 2 ;;
	--prepare) prepare=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument '$1'" ;;
	esac
done

[ -n "$build" ] || build=$PWD/build
[ -d "$build" ] || die "build directory '$build' does not exist"
build=$(cd "$build" && pwd)
if [ -z "$kdir" ]; then
	kdir=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1 || true)
fi
[ -n "$kdir" ] && [ -f "$kdir/include/generated/utsrelease.h" ] ||
	skip "no kernel build tree (set OOBBPF_KDIR; Debian: apt-get install linux-headers-amd64)"
kver=$(sed -n 's/^#define UTS_RELEASE "\(.*\)"/\1/p' "$kdir/include/generated/utsrelease.h")
[ -n "$kver" ] || die "no UTS_RELEASE in $kdir"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 missing (apt-get install qemu-system-x86)"
busybox=$(command -v busybox || true)
[ -n "$busybox" ] && file -L "$busybox" | grep -q 'statically linked' ||
	skip "a static busybox is missing (apt-get install busybox-static)"

# ---- the kernel: fetched and unpacked once per release, under the build directory ----------
kcache=$build/vm/kernel/$kver
mkdir -p "$kcache"

extract_vmlinux() { # vmlinuz -> vmlinux: find the payload by its magic, like scripts/extract-vmlinux
	local in=$1 out=$2 magic cmd pos
	for pair in 'fd377a585a00:xz -dcq' '1f8b0800:gzip -dcq' '28b52ffd:zstd -dcq' \
		'02214c18:lz4 -dcq' '5d000000:xz -dcq --format=lzma'; do
		magic=${pair%%:*} cmd=${pair#*:}
		for pos in $(LC_ALL=C grep -obUaP "$(echo "$magic" | sed 's/../\\x&/g')" "$in" |
			cut -d: -f1 | head -n 8); do
			# Trailing data after the stream makes the decompressor complain: only the
			# ELF result counts.
			tail -c +$((pos + 1)) "$in" | $cmd >"$out.tmp" 2>/dev/null || true
			if [ "$(head -c 4 "$out.tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
				mv "$out.tmp" "$out"
				return 0
			fi
		done
	done
	rm -f "$out.tmp"
	return 1
}

fetch_kernel() {
	local tmp deb pkg
	tmp=$(mktemp -d "$kcache/fetch.XXXXXX")
	for pkg in "linux-image-$kver" "linux-image-$kver-unsigned"; do
		if (cd "$tmp" && apt-get download "$pkg" >"$tmp/apt.log" 2>&1); then
			break
		fi
	done
	deb=$(ls "$tmp"/*.deb 2>/dev/null | head -n 1 || true)
	[ -n "$deb" ] || { cat "$tmp/apt.log" >&2; rm -rf "$tmp"; die "apt-get download linux-image-$kver failed"; }
	# dpkg-deb -x unpacks without running the package's install hooks.
	dpkg-deb -x "$deb" "$tmp/root"
	[ -f "$tmp/root/boot/vmlinuz-$kver" ] || die "$deb has no /boot/vmlinuz-$kver"
	extract_vmlinux "$tmp/root/boot/vmlinuz-$kver" "$tmp/vmlinux" ||
		die "no vmlinux payload found in vmlinuz-$kver"
	rm -rf "$kcache/root"
	mv "$tmp/root" "$kcache/root"
	mv "$tmp/vmlinux" "$kcache/vmlinux"
	# The package carries no modules.dep (its postinst runs depmod): make one.
	depmod -b "$kcache/root" "$kver"
	rm -rf "$tmp"
	touch "$kcache/.done"
}

(
	flock 9
	if [ ! -f "$kcache/.done" ]; then
		start=$(date +%s.%N)
		echo "vm-run: fetching linux-image-$kver into $kcache"
		fetch_kernel
		echo "vm-run: kernel ready in $(echo "$(date +%s.%N) - $start" | bc) s"
	fi
) 9>"$kcache/.lock"
kroot=$kcache/root
vmlinux=$kcache/vmlinux
[ "$prepare" = 1 ] && { echo "vm-run: kernel $kver ready: $vmlinux"; exit 0; }

[ -n "$script" ] || { usage >&2; die "--script is required"; }
[ -f "$script" ] || die "guest script '$script' not found"
[ -n "$name" ] || name=$(basename "$script" .sh)

if [ "$no_kmod" = 0 ]; then
	[ -n "$kmod" ] || { [ -f "$build/kmod/oobbpf.ko" ] && kmod=$build/kmod/oobbpf.ko; } || true
	if [ -n "$kmod" ]; then
		[ -f "$kmod" ] || die "module '$kmod' not found (build the kmod target)"
		vermagic=$(modinfo -F vermagic "$kmod" | cut -d' ' -f1)
		[ "$vermagic" = "$kver" ] || die "$kmod is built for '$vermagic', the VM boots '$kver'"
	fi
fi

# ---- the initramfs ------------------------------------------------------------------------
rundir=$build/vm/run/$name
logdir=$build/vm/logs
rm -rf "$rundir"
mkdir -p "$rundir/root" "$logdir"
r=$rundir/root
# Merged /usr, as on the host: ldd's paths (/lib/x86_64-linux-gnu/...) resolve unchanged.
mkdir -p "$r"/usr/{bin,sbin,lib,lib64} "$r"/{dev,proc,sys,tmp,run,etc,test/bin,test/files}
ln -s usr/bin "$r/bin"
ln -s usr/sbin "$r/sbin"
ln -s usr/lib "$r/lib"
ln -s usr/lib64 "$r/lib64"

libs_of() { # the shared objects an ELF executable loads, as absolute host paths
	ldd "$1" 2>/dev/null | awk '/=> \// { print $3 } /^\t\// { print $1 }' || true
}

declare -A copied=()
copy_host_file() { # SRC DEST: copy a file (symlinks followed) once
	local src=$1 dst=$2
	[ -n "${copied[$dst]:-}" ] && return 0
	copied[$dst]=1
	mkdir -p "$(dirname "$r$dst")"
	cp -L "$src" "$r$dst"
}

add_exe() { # SRC DEST: an executable and its libraries
	local src=$1 dst=$2 lib
	copy_host_file "$src" "$dst"
	for lib in $(libs_of "$src"); do
		copy_host_file "$lib" "$lib"
	done
}

# Host tools the tests drive the kernel with (busybox's ip/tc cannot attach XDP or load BPF).
for tool in ip bpftool xdp-loader ethtool tc; do
	p=$(PATH=$PATH:/usr/sbin:/sbin command -v "$tool" || true)
	[ -n "$p" ] || die "host tool '$tool' missing"
	add_exe "$(readlink -f "$p")" "/usr/sbin/$tool"
done
# util-linux's setpriv (busybox's cannot drop from the bounding set or change uids): tests run
# commands without CAP_NET_ADMIN or as an unprivileged user with it. Before busybox's links.
add_exe "$(readlink -f "$(command -v setpriv || echo /usr/bin/setpriv)")" /usr/bin/setpriv
# libxdp finds its dispatcher (and xsk default program) here at run time.
libxdp_objs=/usr/lib/x86_64-linux-gnu/bpf
if [ -d "$libxdp_objs" ]; then
	mkdir -p "$r$libxdp_objs"
	cp "$libxdp_objs"/*.o "$r$libxdp_objs/"
fi
# The guest's shell is the host's dash, not busybox sh: Debian's static busybox prefers its own
# applets to PATH (so `ip` or `tc` would silently be busybox's). Busybox fills in the commands
# nothing else provides, as links made here rather than by `busybox --install` at every boot.
add_exe "$(readlink -f /bin/dash)" /usr/bin/dash
ln -s dash "$r/usr/bin/sh"
cp "$busybox" "$r/usr/bin/busybox"
for applet in $("$busybox" --list-full); do
	applet=/${applet#/}
	applet=${applet/#\/sbin\//\/usr\/sbin\/}
	applet=${applet/#\/bin\//\/usr\/bin\/}
	[ -e "$r$applet" ] || [ -L "$r$applet" ] || ln -s /usr/bin/busybox "$r$applet"
done

for b in ${bins[@]+"${bins[@]}"}; do
	[ -f "$b" ] || die "binary '$b' not found"
	add_exe "$b" "/test/bin/$(basename "$b")"
done

for f in ${files[@]+"${files[@]}"}; do
	src=${f%%:*}
	dst=/test/files/$(basename "$src")
	[ "$src" != "$f" ] && dst=${f#*:}
	[ -e "$src" ] || die "file '$src' not found"
	mkdir -p "$(dirname "$r$dst")"
	cp -aL "$src" "$r$dst"
done

# Modules lose their debug info on the way in: a tenth of the size, and insmod under TCG pays
# for every byte (100 load/unload cycles notice).
if [ -n "$kmod" ] && [ "$no_kmod" = 0 ]; then
	strip --strip-debug -o "$r/test/oobbpf.ko" "$kmod"
fi
for ko in "$r"/test/files/*.ko; do
	[ -f "$ko" ] && strip --strip-debug "$ko"
done

# Modules of the booted kernel: the requested ones and everything they depend on (modules.dep),
# decompressed on the host (busybox insmod reads plain ELF only), with a modules.dep of their own
# so that `modprobe NAME` works in the guest.
kmods=$kroot/lib/modules/$kver
mdst=$r/usr/lib/modules/$kver
mkdir -p "$mdst"
declare -A mod_done=()
: >"$mdst/modules.dep"
add_module() { # NAME (dashes and underscores alike)
	local want=${1//-/_} line path deps dep plain
	line=$(awk -v want="$want" -F: '{
		n = $1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); gsub(/-/, "_", n)
		if (n == want) { print; exit }
	}' "$kmods/modules.dep")
	[ -n "$line" ] || {
		grep -qE "/${1}\.ko|/${want}\.ko" "$kmods/modules.builtin" 2>/dev/null && return 0
		die "module '$1' is neither in $kmods/modules.dep nor built in"
	}
	path=${line%%:*}
	[ -n "${mod_done[$path]:-}" ] && return 0
	mod_done[$path]=1
	deps=${line#*:}
	for dep in $deps; do
		dep=$(basename "$dep")
		add_module "${dep%%.ko*}"
	done
	plain=${path%.xz}
	plain=${plain%.zst}
	plain=${plain%.gz}
	mkdir -p "$(dirname "$mdst/$plain")"
	case "$path" in
	*.xz) xz -dc "$kmods/$path" >"$mdst/$plain" ;;
	*.zst) zstd -dcq "$kmods/$path" >"$mdst/$plain" ;;
	*.gz) gzip -dc "$kmods/$path" >"$mdst/$plain" ;;
	*) cp "$kmods/$path" "$mdst/$plain" ;;
	esac
	echo "$plain:$(for dep in $deps; do
		d=${dep%.xz}; d=${d%.zst}; d=${d%.gz}; printf ' %s' "$d"
	done)" >>"$mdst/modules.dep"
}
for m in "${modules[@]}"; do
	add_module "$m"
done
cp "$kmods/modules.builtin" "$mdst/" 2>/dev/null || true

cp "$here/guest/init" "$r/init"
cp "$here/guest/lib.sh" "$r/test/lib.sh"
cp "$script" "$r/test/run.sh"
chmod 755 "$r/init"
{
	printf 'VT_NAME=%q\n' "$name"
	printf 'VT_KVER=%q\n' "$kver"
	[ -f "$r/test/oobbpf.ko" ] && printf 'OOBBPF_KO=/test/oobbpf.ko\n'
	for e in ${envs[@]+"${envs[@]}"}; do
		printf '%s=%q\n' "${e%%=*}" "${e#*=}"
	done
} >"$r/test/env"

(cd "$r" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) >"$rundir/initramfs.cpio"

# ---- boot ---------------------------------------------------------------------------------
log=$logdir/$name.log
cmdline="console=ttyS0,115200 rdinit=/init oops=panic panic=-1 loglevel=5 no_timer_check $append"
echo "vm-run: $name: booting $kver ($(du -h "$rundir/initramfs.cpio" | cut -f1) initramfs, timeout ${timeout_s}s, log $log)"
start=$(date +%s.%N)
set +e
# -no-reboot with panic=-1: an oops (oops=panic) or a panic ends qemu at once instead of a hang.
timeout -k 5 "$timeout_s" qemu-system-x86_64 -accel tcg -M pc -cpu max -m "$mem" -smp "$smp" \
	-nodefaults -display none -monitor none -serial stdio -no-reboot \
	-kernel "$vmlinux" -initrd "$rundir/initramfs.cpio" -append "$cmdline" \
	</dev/null 2>&1 | tr -d '\r' | tee "$log"
qrc=${PIPESTATUS[0]}
set -e
elapsed=$(echo "$(date +%s.%N) - $start" | bc)

# ---- verdict ------------------------------------------------------------------------------
fail=0
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "vm-run: $name: TIMEOUT after ${timeout_s}s"
	fail=1
elif [ "$qrc" != 0 ]; then
	echo "vm-run: $name: qemu exited with $qrc"
	fail=1
fi
oops='(BUG:|WARNING:|Oops|Kernel panic|general protection fault|kernel BUG at|Call Trace:|UBSAN:|KASAN:|RCU stall|rcu_sched detected|soft lockup|hung_task|unreferenced object|list_add corruption|list_del corruption|refcount_t:|unregister_netdevice: waiting)'
if grep -aEq "$oops" "$log"; then
	echo "vm-run: $name: the kernel complained:"
	grep -aE "$oops" "$log" | head -n 20 | sed 's/^/    /'
	fail=1
fi
npass=$(grep -ac '^VMTEST PASS ' "$log" || true)
nfail=$(grep -ac '^VMTEST FAIL ' "$log" || true)
done_rc=$(sed -n 's/^VMTEST DONE rc=\([0-9]*\).*/\1/p' "$log" | tail -n 1)
if [ -z "$done_rc" ]; then
	echo "vm-run: $name: the guest never reported VMTEST DONE"
	fail=1
elif [ "$done_rc" != 0 ]; then
	echo "vm-run: $name: guest rc=$done_rc"
	fail=1
fi
[ "$nfail" -gt 0 ] && fail=1
[ "$npass" -eq 0 ] && { echo "vm-run: $name: no test passed"; fail=1; }
grep -a '^VMTEST FAIL ' "$log" | sed 's/^/    /' || true
echo "vm-run: $name: $npass passed, $nfail failed, $(printf '%.1f' "$elapsed") s to power-off"
[ "$fail" = 0 ] && echo "vm-run: $name: OK" || echo "vm-run: $name: FAILED"
exit "$fail"
