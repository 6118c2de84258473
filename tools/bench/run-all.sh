#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every benchmark of the project in one run, each against the baseline it measures in the same
# run: the classifier (BPF_PROG_TEST_RUN, vs parse + one lookup; its tap while off vs compiled
# out), route learning (in-band cost, cache vs bpf() lookups) and the oob data path (round trips
# vs kernel UDP and bare AF_XDP; echo throughput with the server on one CPU vs kernel UDP echoes).
# Writes OUT/bench.json (all results), OUT/ratios.txt (the readable table) and OUT/latency.png
# (round-trip percentile curves, oob vs kernel).
#
#   tools/bench/run-all.sh [--build DIR] [--out DIR] [--quick]
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build
out=$top/bench-results
quick=0
while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	*) echo "run-all.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "run-all.sh: needs root" >&2; exit 1; }
for p in jq gnuplot; do
	command -v $p >/dev/null || { echo "run-all.sh: needs $p (apt-get install jq gnuplot-nox)" >&2; exit 1; }
done
mkdir -p "$out"
b=$build/tools/bench

if [ $quick = 1 ]; then trials=3 count=2000 rounds=4 ops=5000 sp=2; else trials=9 count=20000 rounds=16 ops=20000 sp=5; fi

echo "== classifier (ns/frame vs parse + one lookup)"
"$b/classifier/oobbpf-bench-classifier" --trials $trials --json "$out/classifier.json" | tee "$out/classifier.txt"
echo "== route learning (in-band cost on/off, interleaved; cache vs bpf() lookups)"
"$b/learn/learn_bench" --rounds $rounds --ops $ops --json >"$out/learn.json"
jq . "$out/learn.json" >/dev/null
echo "== oob data path (round trips; kernel, sockperf, oob, bare AF_XDP)"
"$b/oob/oob-bench" --count $count --sockperf-seconds $sp --json "$out/oob.json" | tee "$out/oob.txt"

jq -n --slurpfile c "$out/classifier.json" --slurpfile l "$out/learn.json" --slurpfile o "$out/oob.json" \
	--arg when "$(date -u +%FT%TZ)" --arg kernel "$(uname -r)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
	'{when: $when, kernel: $kernel, loadavg: $load, classifier: $c[0], learn: $l[0], oob: $o[0]}' >"$out/bench.json"

{
	echo "oobbpf benchmarks, $(date -u +%F), kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "ratio                                               value   target"
	jq -r '.classifier.targets | to_entries[] |
		"classifier \(.key) worst vs baseline   \(.value.worst_ratio*100|round/100)   <= 2 \(if .value.met then "met" else "missed" end)",
		"classifier \(.key) growth 10->10k     \(.value.growth*100|round/100)   <= 1.2"' "$out/bench.json"
	jq -r '.classifier.tap_off // empty | "classifier: tap compiled in, off / compiled out  \(.ratio*1000|round/1000)   <= 1.02 \(if .met then "met" else "missed" end)"' "$out/bench.json"
	jq -r '.learn | "learning: in-band sendto via port on/off      \(.port_sendto.ratio*1000|round/1000)   <= 1.05",
		"learning: connect+send via port on/off        \(.port_connect_send.ratio*1000|round/1000)   <= 1.05",
		"learning: cache lookup / bpf() lookup         \(.lookup_ns.ratio*1000|round/1000)   <= 0.2"' "$out/bench.json"
	jq -r '.oob.ratios[] | "oob: (\(.ratio)) \(.stat) \(.size) B                  \(.value*100|round/100)   \(if .target > 0 then "<= \(.target)" else "-" end)"' "$out/bench.json"
	jq -r '.oob.throughput_ratios[]? | "oob echo throughput: (\(.ratio)) \(.size) B      \(.value*100|round/100)   \(if .target_min > 0 then ">= \(.target_min)" else "-" end)"' "$out/bench.json"
} | tee "$out/ratios.txt"

# Percentile curves of the smallest message size: oob (d), bare AF_XDP (e), kernel (a, b).
size=$(jq '[.oob.rows[].size] | min' "$out/bench.json")
jq -r --argjson s "$size" '.oob.rows[] | select(.size == $s) |
	"\(.case)\t\(.path)\t\(.min_us)\t\(.p50_us)\t\(.p90_us)\t\(.p99_us)\t\(.p999_us)"' "$out/bench.json" >"$out/latency.tsv"
plot=""
i=0
while IFS=$'\t' read -r c path rest; do
	# x in "nines": -log10(1 - p), so the tail gets the room it deserves.
	awk -F'\t' -v row=$((i + 1)) 'NR == row { split("0 50 90 99 99.9", q, " ");
		for (k = 1; k <= 5; k++) print -log(1 - q[k] / 100) / log(10), $(k + 2) }' \
		"$out/latency.tsv" >"$out/curve-$i.dat"
	plot="$plot${plot:+, }'$out/curve-$i.dat' using 1:2 with linespoints title '($c) $path'"
	i=$((i + 1))
done <"$out/latency.tsv"
gnuplot <<GP
set terminal pngcairo size 1000,600 noenhanced
set output '$out/latency.png'
set title 'Round-trip time by percentile, $size-byte UDP payload (one request in flight)'
set xlabel 'percentile'
set xtics ('min' 0, 'p50' 0.301, 'p90' 1, 'p99' 2, 'p99.9' 3)
set ylabel 'round trip (us)'
set logscale y
set key top left
set grid
plot $plot
GP
rm -f "$out"/curve-*.dat
echo "wrote $out/bench.json, $out/ratios.txt, $out/latency.png"
