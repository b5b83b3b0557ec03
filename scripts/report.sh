#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Decide a guest run from OUT/results.log (TAP), OUT/console.log (kernel
# log) and OUT/status (how QEMU ended); never from QEMU's exit code alone.
# Fails on any failed test, a missing or short plan (the run's or a
# program's own), results other than the tests asked for (TESTS, comma
# list), a skip in a test of set "series" (LIST), a guest that did not
# finish (timeout, panic, hang), or a splat in the kernel log, a taint
# from a WARN/BUG/bad page, or lockdep switched off.  Prints a table and,
# last, "N passed, N failed, N skipped".
set -uo pipefail

out=${1:?usage: report.sh OUT [TESTS [LIST]]}
want=${2:-}
list=${3:-}
here=$(dirname "$(readlink -f "$0")")
results=$out/results.log
console=$out/console.log
touch "$results" "$console"

splat_re='WARNING:|BUG:|KASAN:|UBSAN:|Kernel panic|Oops|general protection fault|kernel BUG at|possible circular locking|possible recursive locking|inconsistent lock state|lock held when returning|INFO: task .* blocked for more than|rcu: INFO: .* detected stalls|printk messages dropped'

declare -A set
if [ -n "$list" ] && [ -f "$list" ]; then
	while read -r s _ name _; do
		case $s in '#'* | '') continue ;; esac
		set[$name]=$s
	done <"$list"
fi

pass=0 fail=0 skip=0
planned=-1 seen=0 done=0 running=- tainted=- dlocks=- names=-
row() { printf '%-28s %-7s %5d %5d %5d %6s  %s\n' "$@"; }
parsed=$(awk -f "$here/ktap.awk" "$results") || {
	echo "report: cannot parse $results"
	echo "0 passed, 1 failed, 0 skipped"
	exit 1
}
printf '%-28s %-7s %5s %5s %5s %6s  %s\n' TEST RESULT PASS FAIL SKIP SECS NOTE
while IFS=$'\t' read -r name verdict p f s secs note; do
	if [ "$name" = plan ]; then
		IFS=$'\t' read -r planned seen done running tainted dlocks names \
			<<<"$verdict"$'\t'"$p"$'\t'"$f"$'\t'"$s"$'\t'"$secs"$'\t'"$note"
		continue
	fi
	# The series' own tests must run in the project's guest, not skip.
	if [ "${set[$name]:-}" = series ] && [ "$verdict" != FAIL ] &&
		{ [ "$s" -gt 0 ] || [ "$p" -eq 0 ]; }; then
		verdict=FAIL
		f=$((f + 1))
		note="${note:+$note; }series test skipped ($s skipped)"
	fi
	row "$name" "$verdict" "$p" "$f" "$s" "$secs" "$note"
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
done <<<"$parsed"

# The guest itself: booted, planned, ran every test asked for, in order,
# and reached the end.
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
elif [ "$seen" -gt "$planned" ]; then
	why="plan $planned, but $seen results"
elif [ -n "$want" ] && [ "$names" != "$want" ]; then
	why="ran '$names', asked for '$want'"
elif [ "$seen" -eq 0 ]; then
	why="no test ran"
elif [ "$done" != 1 ]; then
	why="guest did not reach its end marker"
fi
if [ -n "$why" ]; then
	row guest FAIL 0 1 0 - "$why"
	fail=$((fail + 1))
else
	row guest ok 1 0 0 - "$status"
	pass=$((pass + 1))
fi

# The kernel log and the kernel's own verdict: any splat fails the run, as
# do the taint flags of a WARN (W), a bad page (B), an oops (D) or a soft
# lockup (L), and lockdep having switched itself off after a report.
nsplat=$(grep -cE "$splat_re" "$console")
kwhy=""
[ "$nsplat" -gt 0 ] && kwhy="$nsplat splat line(s)"
if [[ $tainted =~ ^[0-9]+$ ]] && (((tainted >> 5 | tainted >> 7 | tainted >> 9 | tainted >> 14) & 1)); then
	kwhy="${kwhy:+$kwhy; }tainted $tainted"
fi
[ "$dlocks" = 0 ] && kwhy="${kwhy:+$kwhy; }lockdep off (debug_locks 0)"
if [ -n "$kwhy" ]; then
	row kernel-log FAIL 0 1 0 - "$kwhy"
	grep -nE "$splat_re" "$console" | head -5 | sed 's/^/      console.log:/'
	fail=$((fail + 1))
else
	row kernel-log ok 1 0 0 - "no WARNING/BUG/KASAN/lockdep/panic, tainted $tainted"
	pass=$((pass + 1))
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
