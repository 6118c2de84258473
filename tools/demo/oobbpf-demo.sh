#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# oobbpf demo: two namespaces joined by veth; one side is an oob port whose UDP port 7000 is
# diverted to an oob echo server (oob-echo on AF_XDP), while a kernel UDP echo on port 7001, ping
# and TCP keep using the in-band stack of the same device. The same kernel client measures both
# echo servers; the table compares their round trips. Everything it creates is removed at the
# end, also on Ctrl-C.
#
#   oobbpf-demo.sh [--count N] [--size BYTES] [--build DIR]
set -euo pipefail

count=20000
size=64
bin=""
while [ $# -gt 0 ]; do
	case "$1" in
	--count) count=$2; shift 2 ;;
	--size) size=$2; shift 2 ;;
	--build) bin=$2; shift 2 ;;
	-h | --help)
		sed -n '3,10p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*) echo "oobbpf demo: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
if [ -z "$bin" ]; then
	here=$(cd "$(dirname "$0")" && pwd)
	bin=${OOBBPF_BUILD:-$here/../../build}
fi
oobbpfd=$bin/userd/daemon/oobbpfd
oobbpf=$bin/tools/oobbpf/oobbpf
echo_bin=$bin/tools/oob-echo/oob-echo
ping_bin=$bin/tools/oob-ping/oob-ping
for b in "$oobbpfd" "$oobbpf" "$echo_bin" "$ping_bin"; do
	[ -x "$b" ] || { echo "oobbpf demo: $b not built (run tools/run.sh demo)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "oobbpf demo: needs root (BPF, namespaces)" >&2; exit 1; }

id=$$
nsA=oobdemo${id}a nsB=oobdemo${id}b
devA=odA${id} devB=odB${id}
ipA=10.210.0.1 ipB=10.210.0.2
pin=/sys/fs/bpf/oobdemo${id}
sock=/run/oobbpf-demo-${id}.sock
state=$(mktemp -d /tmp/oobbpf-demo.XXXXXX)
export OOBBPF_SOCKET=$sock OOBBPF_PIN_ROOT=$pin
inA() { nsenter --net=/run/netns/$nsA -- "$@"; }
inB() { nsenter --net=/run/netns/$nsB -- "$@"; }
pids=()

cleanup() {
	trap - EXIT INT TERM
	echo "[7/7] cleaning up"
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	# And whatever else still runs inside the namespaces.
	for ns in $nsA $nsB; do
		[ -e /run/netns/$ns ] && ip netns pids $ns 2>/dev/null | xargs -r kill 2>/dev/null || true
	done
	wait 2>/dev/null || true
	if [ -e /run/netns/$nsA ]; then
		inA "$oobbpfd" --cleanup --purge --pin-root "$pin" --socket "$sock" --state-dir "$state" >/dev/null 2>&1 || true
	fi
	ip netns del $nsA 2>/dev/null || true
	ip netns del $nsB 2>/dev/null || true
	rm -rf "$pin" "$state" "$sock"
}
trap cleanup EXIT
trap 'echo; echo "interrupted"; exit 130' INT TERM

step() { printf '[%s/7] %s\n' "$1" "$2"; }

step 1 "namespaces $nsA (oob side) and $nsB (client), veth $devA <-> $devB"
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
ip netns add $nsA
ip netns add $nsB
ip link add $devA netns $nsA type veth peer name $devB netns $nsB
# veth facts: kernel senders leave checksums to offload; turn that off so XDP sees real sums.
for side in A B; do
	ns=ns$side dev=dev$side ip=ip$side
	nsenter --net=/run/netns/${!ns} -- sh -c "ip link set lo up; ip link set ${!dev} up;
		ip addr add ${!ip}/24 dev ${!dev}; ethtool -K ${!dev} tx off >/dev/null"
done

step 2 "starting oobbpfd in $nsA"
nsenter --net=/run/netns/$nsA -- "$oobbpfd" --pin-root "$pin" --socket "$sock" --state-dir "$state" >"$state/oobbpfd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { echo "oobbpfd did not start:"; cat "$state/oobbpfd.log"; exit 1; }

step 3 "$devA becomes an oob port; UDP port 7000 is diverted"
inA "$oobbpf" port add $devA
inA "$oobbpf" rule add udp dport 7000 action divert
inA "$oobbpf" rule show

step 4 "echo servers: oob-echo on the oob path (7000), a kernel UDP echo (7001)"
# Servers on CPU 1, the client on CPU 0 (the same for both paths).
nsenter --net=/run/netns/$nsA -- "$echo_bin" --dev $devA --port 7000 --pin-root "$pin" --cpu 1 >"$state/oob-echo.log" 2>&1 &
pids+=($!)
nsenter --net=/run/netns/$nsA -- "$echo_bin" --kernel --port 7001 --cpu 1 >"$state/kernel-echo.log" 2>&1 &
pids+=($!)
sleep 1

step 5 "in-band traffic on the same device while measuring: ping and TCP"
nsenter --net=/run/netns/$nsA -- socat -T30 TCP-LISTEN:8080,reuseaddr,fork OPEN:/dev/null >/dev/null 2>&1 &
pids+=($!)
nsenter --net=/run/netns/$nsB -- ping -q -i 0.05 -w 60 $ipA >"$state/ping.log" 2>&1 &
ping_pid=$!
pids+=($ping_pid)

step 6 "round trips, $count x $size bytes, the same kernel client against each server"
printf '      kernel echo (7001) ... '
inB "$ping_bin" --kernel --to $ipA --port 7001 --size "$size" --count "$count" --cpu 0 -j >"$state/kernel.json"
echo done
printf '      oob echo    (7000) ... '
inB "$ping_bin" --kernel --to $ipA --port 7000 --size "$size" --count "$count" --cpu 0 -j >"$state/oob.json"
echo done
tcp_ok=no
echo hello | inB socat -T3 - TCP:$ipA:8080 && tcp_ok=yes
kill -INT $ping_pid 2>/dev/null || true # SIGINT: ping prints its summary
wait $ping_pid 2>/dev/null || true

field() { sed -n "s/.*\"$2\":\([0-9.e+-]*\).*/\1/p" "$1" | head -1; }
echo
printf '  %-22s %10s %10s %10s %10s %10s\n' "round trip (us)" min p50 p90 p99 p99.9
for path in kernel oob; do
	f=$state/$path.json
	label="kernel UDP echo"
	[ $path = oob ] && label="oob echo (AF_XDP)"
	printf '  %-22s' "$label"
	for q in min_ns p50_ns p90_ns p99_ns p999_ns; do
		printf ' %10s' "$(awk -v n="$(field "$f" $q)" 'BEGIN { printf "%.1f", n / 1000 }')"
	done
	echo
done
k50=$(field "$state/kernel.json" p50_ns) o50=$(field "$state/oob.json" p50_ns)
k99=$(field "$state/kernel.json" p99_ns) o99=$(field "$state/oob.json" p99_ns)
awk -v k="$k50" -v o="$o50" -v k9="$k99" -v o9="$o99" 'BEGIN {
	if (k > 0 && k9 > 0) printf "  oob / kernel: p50 %.2fx, p99 %.2fx\n", o / k, o9 / k9 }'
echo
echo "  in-band while measuring: ping $(grep -o '[0-9]* received' "$state/ping.log" || echo '?'), $(grep -o '[0-9.]*% packet loss' "$state/ping.log" || echo '?'); TCP: $tcp_ok"
echo
inA "$oobbpf" stats
