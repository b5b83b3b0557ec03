#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Everything CI checks, in order: the parser's own tests, series hygiene,
# a build at every step of the series (compile-only flavour), then the
# series' and the regression kselftests in the debug guest, and the
# series' kselftests again under KASAN, in a guest of another shape (CPUs,
# memory) and speed: a test whose verdict depends on machine speed is
# likely to fail one of its two runs, and the time spread of each test is
# printed.  Each phase ends
# with "N passed, N failed[, N skipped]"; the last line sums them.
set -uo pipefail
cd "$(dirname "$(readlink -f "$0")")/.." || exit 1

tp=0 tf=0 ts=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
phase() {
	local name=$1 rc line p f s
	shift
	echo "== $name: $*"
	local start=$SECONDS
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '([0-9]+) passed, ([0-9]+) failed' "$log" | tail -1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | grep -oE '[0-9]+ passed' | cut -d' ' -f1)
		f=$(echo "$line" | grep -oE '[0-9]+ failed' | cut -d' ' -f1)
		s=$(echo "$line" | grep -oE '[0-9]+ skipped' | cut -d' ' -f1)
		tp=$((tp + p)) tf=$((tf + f)) ts=$((ts + ${s:-0}))
		[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && tf=$((tf + 1))
	elif [ "$rc" -ne 0 ]; then
		echo "$name: failed (exit $rc) before it could count"
		tf=$((tf + 1))
	fi
	echo "== $name: exit $rc, $((SECONDS - start))s"
	return "$rc"
}

phase deps make -s deps || { echo "0 passed, 1 failed"; exit 1; }
phase parser make -s check-parser
phase series make -s check-series
phase bisect make -s check-bisect
# Once here; the KASAN guest below is the second run, of another shape.
# (T=all,series would run each series test twice in this boot: about
# 4 more minutes, which CI's 90 cannot spare on a cold machine.)
phase guest make -s run T=all
# KASAN: the series' own tests, in a third build, the guest 2 to 3 times
# slower and with 4 CPUs (on the host's 2) and 3 GiB (see README).
phase kasan make -s run FLAVOUR=kasan T=series SMP=4 MEM=3G
echo "== time spread of each test over the runs (seconds)"
cache=${CACHE:-.cache}
scripts/spread.sh scripts/tests.list "debug=$cache/out-debug" "kasan,smp4=$cache/out-kasan"
echo "$tp passed, $tf failed, $ts skipped"
[ "$tf" -eq 0 ]
