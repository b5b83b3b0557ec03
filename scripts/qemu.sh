#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot KERNEL with INITRD in QEMU, run the tests named in TESTS (comma list).
# The kernel console goes to OUT/console.log, the guest's TAP (second serial
# port) to OUT/results.log; OUT/status says how QEMU ended.
#
# ACCEL=auto|tcg|kvm: auto boots a probe guest under KVM first (short
# timeout) and falls back to TCG; on some hosts /dev/kvm opens but guests
# abort or hang at "Booting from ROM".  The verdict is kept next to OUT,
# keyed by the QEMU and host kernel versions; it is probed again when KVM
# was chosen but /dev/kvm is no longer usable.  MEM (2G; a bare number
# is MiB), NUMA (2 nodes), SMP (2), TIMEOUT (whole run, seconds), KARGS
# (more kernel arguments).
set -euo pipefail

kernel=${1:?usage: qemu.sh KERNEL INITRD OUT TESTS}
initrd=${2:?}
out=${3:?}
tests=${4:?usage: qemu.sh KERNEL INITRD OUT TESTS}
accel=${ACCEL:-auto}
mem=${MEM:-2G}
nodes=${NUMA:-2}
smp=${SMP:-2}
timeout=${TIMEOUT:-3600}
mkdir -p "$out"

case $mem in *[0-9]) mem=${mem}M ;; esac
mem_mb=$(($(numfmt --from=iec "$mem") / 1048576))
if [ "$nodes" -gt 1 ]; then
	mem_mb=$((mem_mb / nodes * nodes))
fi

# qemu_cmd ACCEL CONSOLE RESULTS TESTS: fills the array "cmd".
qemu_cmd() {
	local a=$1 cpu=max i
	[ "$a" = kvm ] && cpu=host
	cmd=(qemu-system-x86_64 -accel "$a" -cpu "$cpu" -smp "$smp" -m "${mem_mb}M")
	if [ "$nodes" -gt 1 ]; then
		for ((i = 0; i < nodes; i++)); do
			cmd+=(-object "memory-backend-ram,id=m$i,size=$((mem_mb / nodes))M"
			      -numa "node,nodeid=$i,memdev=m$i")
		done
	fi
	cmd+=(-nodefaults -nographic -no-reboot -display none
	      -serial "file:$2" -serial "file:$3"
	      -kernel "$kernel" -initrd "$initrd"
	      -append "console=ttyS0 loglevel=7 panic=-1 reboot=t ktests=$4 ${KARGS:-}")
}

if [ "$accel" = auto ]; then
	key="$(qemu-system-x86_64 --version | head -1) / $(uname -r)"
	cachef=$(dirname "$out")/accel-probe
	cached=""
	if [ -f "$cachef" ] && [ "$(sed -n 1p "$cachef")" = "$key" ]; then
		cached=$(sed -n 2p "$cachef")
	fi
	if [ "$cached" = kvm ] && { [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; }; then
		cached=""
	fi
	accel=${cached:-tcg}
	if [ -z "$cached" ]; then
		probe=$out/.probe
		if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
			rm -f "$probe".*
			qemu_cmd kvm "$probe.console" "$probe.results" none
			if timeout 20 "${cmd[@]}" >/dev/null 2>&1 &&
				grep -q '^guest: done' "$probe.results" 2>/dev/null; then
				accel=kvm
			fi
		fi
		printf '%s\n%s\n' "$key" "$accel" >"$cachef"
	fi
	echo "qemu: ACCEL=auto chose $accel${cached:+ (cached in $cachef)}"
fi

rm -f "$out/console.log" "$out/results.log" "$out/status"
qemu_cmd "$accel" "$out/console.log" "$out/results.log" "$tests"
printf '%q ' "${cmd[@]}" >"$out/qemu.cmd"
start=$(date +%s)
set +e
timeout -k 10 "$timeout" "${cmd[@]}" >"$out/qemu.out" 2>&1
rc=$?
set -e
secs=$(($(date +%s) - start))
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "timeout after ${timeout}s (accel $accel)" >"$out/status"
else
	echo "exit $rc after ${secs}s (accel $accel)" >"$out/status"
fi
echo "qemu: $(cat "$out/status")"
