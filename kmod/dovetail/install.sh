#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Put oobbpf into a Dovetail kernel tree (drivers/net/oobbpf, CONFIG_OOBBPF, built in), or check
# that the files it would put there compile, against a stock kernel and the Dovetail stub.
#
#   install.sh KERNEL_SRC          copy, add Kconfig/Makefile entries (idempotent)
#   install.sh --check KDIR DIR    lay the same files out in DIR and build them against the
#                                  stock build tree KDIR with dovetail_stub.h forced in
#                                  (W=1, -Werror): what CI can do without a Dovetail kernel
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kmod=$(dirname "$here")
top=$(dirname "$kmod")

die() {
	echo "install.sh: $*" >&2
	exit 1
}

# The module's files and the ABI headers it compiles, under DEST (drivers/net/oobbpf).
lay_out() {
	local dst=$1
	rm -rf "$dst"
	mkdir -p "$dst/include/oobbpf"
	cp "$kmod"/{oobbpf_main.c,maps.c,ctl.c,events.c,classify.c,learn.c,hooks_dovetail.c} "$dst/"
	cp "$kmod"/{oobbpf.h,oobbpf_kapi.h} "$dst/"
	cp "$top"/include/oobbpf/{abi.h,learn.h,kmod_ioctl.h,parse.h,classify.h} "$dst/include/oobbpf/"
	cat >"$dst/Kconfig" <<'KCONFIG'
# SPDX-License-Identifier: GPL-2.0-only
config OOBBPF
	bool "oobbpf: out-of-band network bridge to BPF maps"
	depends on NET_OOB && BPF_SYSCALL && INET
	help
	  The Dovetail hooks netif_deliver_oob() and ip_learn_oob_route()
	  implemented on oobbpf's BPF maps: frames of diverting devices are
	  judged by oobbpf's classifier and handed to a registered receiver,
	  and route decisions towards oob ports are recorded. Built in: the
	  hooks are weak symbols of the kernel image. Control: /dev/oobbpf.
KCONFIG
	cat >"$dst/Makefile" <<'MAKEFILE'
# SPDX-License-Identifier: GPL-2.0-only
obj-$(CONFIG_OOBBPF) += oobbpf.o
oobbpf-y := oobbpf_main.o maps.o ctl.o events.o classify.o learn.o hooks_dovetail.o
# In the tree $(src) is relative to $(srctree); as an external module (install.sh --check) it is
# absolute.
ccflags-y := -I$(if $(KBUILD_EXTMOD),$(src),$(srctree)/$(src))/include
MAKEFILE
}

if [ "${1:-}" = --check ]; then
	[ $# = 3 ] || die "usage: install.sh --check KDIR DIR"
	kdir=$2
	dir=$3
	lay_out "$dir"
	# Built as a module only to compile and link-check it: the result must never be loaded
	# (a module cannot override the kernel's weak hooks).
	make -s -j"$(nproc)" -C "$kdir" M="$(cd "$dir" && pwd)" CONFIG_OOBBPF=m W=1 \
		KCFLAGS="-Werror -include $here/dovetail_stub.h" modules
	echo "install.sh: the Dovetail build of oobbpf compiles against $kdir (with the stub)"
	exit 0
fi

[ $# = 1 ] || die "usage: install.sh KERNEL_SRC | install.sh --check KDIR DIR"
src=$1
[ -f "$src/Makefile" ] && [ -f "$src/drivers/net/Kconfig" ] && [ -f "$src/drivers/net/Makefile" ] ||
	die "$src is no kernel source tree"
grep -q 'netif_deliver_oob' "$src/include/linux/netdevice.h" ||
	die "$src has no Dovetail network hooks (netif_deliver_oob): not a Dovetail tree with CONFIG_NET_OOB"
lay_out "$src/drivers/net/oobbpf"
grep -q 'drivers/net/oobbpf/Kconfig' "$src/drivers/net/Kconfig" ||
	sed -i 's|^endif # NETDEVICES|source "drivers/net/oobbpf/Kconfig"\n\nendif # NETDEVICES|' \
		"$src/drivers/net/Kconfig"
grep -q 'drivers/net/oobbpf/Kconfig' "$src/drivers/net/Kconfig" ||
	die "could not add drivers/net/oobbpf/Kconfig to drivers/net/Kconfig"
grep -q 'CONFIG_OOBBPF' "$src/drivers/net/Makefile" ||
	echo 'obj-$(CONFIG_OOBBPF) += oobbpf/' >>"$src/drivers/net/Makefile"
cat <<MSG
install.sh: oobbpf is in $src/drivers/net/oobbpf. Next:
  cd $src && ./scripts/config --enable NET_OOB --enable OOBBPF && make olddefconfig
  make -j\$(nproc) && make modules_install install
MSG
