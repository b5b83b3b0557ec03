#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Boot KERNEL with INITRD in QEMU, run the tests named in TESTS (comma list).
# The kernel console goes to OUT/console.log, the guest's TAP (second serial
# port) to OUT/results.log; OUT/status says how QEMU ended.
#
# ACCEL=auto|tcg|kvm: auto boots a probe guest under KVM first (short
# timeout) and falls back to TCG; on some hosts /dev/kvm opens but guests
# abort or hang at "Booting from ROM".  MEM (2G), NUMA (2 nodes), SMP (2),
# TIMEOUT (whole run, seconds).
set -euo pipefail

kernel=${1:?usage: qemu.sh KERNEL INITRD OUT TESTS}
initrd=${2:?}
out=${3:?}
tests=${4:-}
accel=${ACCEL:-auto}
mem=${MEM:-2G}
nodes=${NUMA:-2}
smp=${SMP:-2}
timeout=${TIMEOUT:-3600}
mkdir -p "$out"

mem_mb=$(numfmt --from=iec "${mem}" | awk '{ print int($1 / 1048576) }')
qemu_cmd() { # ACCEL CONSOLE RESULTS TESTS
	local a=$1 cpu=max numa=()
	[ "$a" = kvm ] && cpu=host
	if [ "$nodes" -gt 1 ]; then
		local per=$((mem_mb / nodes)) i
		for ((i = 0; i < nodes; i++)); do
			numa+=(-object "memory-backend-ram,id=m$i,size=${per}M"
			       -numa "node,nodeid=$i,memdev=m$i")
		done
		mem_mb=$((per * nodes))
	fi
	echo qemu-system-x86_64 -accel "$a" -cpu "$cpu" -smp "$smp" -m "${mem_mb}M" \
		"${numa[@]}" -nodefaults -nographic -no-reboot -display none \
		-serial "file:$2" -serial "file:$3" \
		-kernel "$kernel" -initrd "$initrd" \
		-append "'console=ttyS0 loglevel=7 panic=-1 reboot=t ktests=$4 ${KARGS:-}'"
}

# The probe's verdict is kept next to OUT, keyed by the QEMU and host
# kernel versions, so only the first run on a machine pays for it.
if [ "$accel" = auto ]; then
	key="$(qemu-system-x86_64 --version | head -1) / $(uname -r)"
	cachef=$(dirname "$out")/accel-probe
	if [ -f "$cachef" ] && [ "$(sed -n 1p "$cachef")" = "$key" ]; then
		accel=$(sed -n 2p "$cachef")
	else
		probe=$out/.probe
		accel=tcg
		if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
			rm -f "$probe".*
			if eval timeout 20 "$(qemu_cmd kvm "$probe.console" "$probe.results" "")" \
				>/dev/null 2>&1 && grep -q '^# guest: done' "$probe.results" 2>/dev/null; then
				accel=kvm
			fi
		fi
		printf '%s\n%s\n' "$key" "$accel" >"$cachef"
	fi
	echo "qemu: ACCEL=auto chose $accel"
fi

rm -f "$out/console.log" "$out/results.log" "$out/status"
cmd=$(qemu_cmd "$accel" "$out/console.log" "$out/results.log" "$tests")
echo "$cmd" >"$out/qemu.cmd"
start=$(date +%s)
set +e
eval timeout -k 10 "$timeout" "$cmd" >"$out/qemu.out" 2>&1
rc=$?
set -e
secs=$(($(date +%s) - start))
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
	echo "timeout after ${timeout}s (accel $accel)" >"$out/status"
else
	echo "exit $rc after ${secs}s (accel $accel)" >"$out/status"
fi
echo "qemu: $(cat "$out/status")"
