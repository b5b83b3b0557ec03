#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Decide a guest run from OUT/results.log (TAP), OUT/console.log (kernel
# log) and OUT/status (how QEMU ended); never from QEMU's exit code alone.
# Fails on any failed test, a missing or short plan, a guest that did not
# finish (timeout, panic, hang), or a splat in the kernel log.  Prints a
# table and, last, "N passed, N failed, N skipped".
set -uo pipefail

out=${1:?usage: report.sh OUT}
here=$(dirname "$(readlink -f "$0")")
results=$out/results.log
console=$out/console.log
touch "$results" "$console"

splat_re='WARNING:|BUG:|KASAN:|UBSAN:|Kernel panic|Oops|general protection fault|kernel BUG at|possible circular locking|possible recursive locking|inconsistent lock state|lock held when returning|INFO: task .* blocked for more than'

pass=0 fail=0 skip=0
printf '%-28s %-7s %5s %5s %5s %6s  %s\n' TEST RESULT PASS FAIL SKIP SECS NOTE
while IFS=$'\t' read -r name verdict p f s secs note; do
	if [ "$name" = plan ]; then
		planned=$verdict seen=$p done=$f running=$s
		continue
	fi
	printf '%-28s %-7s %5d %5d %5d %6s  %s\n' "$name" "$verdict" "$p" "$f" "$s" "${secs:--}" "$note"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done < <(awk -f "$here/ktap.awk" "$results")

# The guest itself: booted, planned, ran every test, reached the end.
status=$(cat "$out/status" 2>/dev/null || echo "no status")
why=""
if grep -q '^timeout' <<<"$status"; then
	why="guest timed out ($status), in test $running: hang?"
elif grep -qE 'Kernel panic' "$console"; then
	why="kernel panic: $(grep -m1 -E 'Kernel panic' "$console" | sed 's/^\[[ 0-9.]*\] //')"
elif [ "$planned" -lt 0 ]; then
	why="no TAP plan from the guest (did it boot? see $console)"
elif [ "$seen" -lt "$planned" ]; then
	why="plan $planned, only $seen results (truncated, in test $running)"
elif [ "$done" != 1 ]; then
	why="guest did not reach its end marker"
fi
if [ -n "$why" ]; then
	printf '%-28s %-7s %5d %5d %5d %6s  %s\n' guest FAIL 0 1 0 - "$why"
	fail=$((fail + 1))
else
	printf '%-28s %-7s %5d %5d %5d %6s  %s\n' guest ok 1 0 0 - "$status"
	pass=$((pass + 1))
fi

# The kernel log: any splat fails the run.
nsplat=$(grep -cE "$splat_re" "$console")
if [ "$nsplat" -gt 0 ]; then
	printf '%-28s %-7s %5d %5d %5d %6s  %s\n' kernel-log FAIL 0 1 0 - "$nsplat splat line(s):"
	grep -nE "$splat_re" "$console" | head -5 | sed 's/^/      console.log:/'
	fail=$((fail + 1))
else
	printf '%-28s %-7s %5d %5d %5d %6s  %s\n' kernel-log ok 1 0 0 - "no WARNING/BUG/KASAN/lockdep/panic"
	pass=$((pass + 1))
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
