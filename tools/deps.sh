#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install every Debian package oobbpf needs to build and test. Idempotent and quick when all is
# present: apt is only called for what is missing. Used by the README and by CI.
set -euo pipefail

pkgs=(
	# build
	cmake ninja-build make pkg-config clang llvm gcc g++ libelf-dev zlib1g-dev
	libbpf-dev libxdp-dev bpftool xdp-tools
	libcli11-dev nlohmann-json3-dev libmnl-dev libgtest-dev libgmock-dev libbenchmark-dev
	# sanitizer and fuzzing build (docs/sanitizers.md): clang's ASan/UBSan and libFuzzer runtimes
	libclang-rt-14-dev
	# kernel module build tree (Debian 6.1) and the VM that tests it
	linux-headers-amd64 qemu-system-x86 busybox-static cpio
	# real peers used by tests
	iproute2 iputils-ping socat ethtool tcpdump tshark sockperf kmod file
	# benchmark harness (tools/bench/run-all.sh)
	jq gnuplot-nox
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	sudo=""
	[ "$(id -u)" -ne 0 ] && sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "deps: all present"
