#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fails when a test left a namespace, a device, a pin or an XDP attachment behind.
# Test-made names: namespaces "oobt*", devices "ot*", pin roots /sys/fs/bpf/oobt*.
rc=0
ns=$(ip netns list 2>/dev/null | awk '{print $1}' | grep '^oobt' || true)
[ -n "$ns" ] && { echo "left behind: namespaces $ns"; rc=1; }
devs=$(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^ot' || true)
[ -n "$devs" ] && { echo "left behind: devices $devs"; rc=1; }
pins=$(ls -d /sys/fs/bpf/oobt* 2>/dev/null || true)
[ -n "$pins" ] && { echo "left behind: pins $pins"; rc=1; }
xdp=$(ip -o link show 2>/dev/null | grep -E ' xdp(generic|drv|offload)? ' || true)
[ -n "$xdp" ] && { echo "left behind: XDP attachments on host devices: $xdp"; rc=1; }
[ $rc -eq 0 ] && echo "nothing left behind"
exit $rc
