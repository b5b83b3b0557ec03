#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Bisectability: build the kernel (bzImage, modules) and the selftests at
# every step of the series, oldest first, incrementally in one build folder
# (make kernel selftests APPLY=0 on each commit).  Leaves the tree on
# branch "series" whatever happens.
set -uo pipefail

src=${1:?usage: check-bisect.sh SRC TOP BUILD}
top=${2:?}
build=${3:?}
pass=0 fail=0
trap 'git -C "$src" checkout -q series' EXIT

commits=()
list=$(git -C "$src" rev-list --reverse base..series) || exit 1
mapfile -t commits <<<"$list"
if [ -z "$list" ]; then
	echo "check-bisect: no commit on base..series"
	echo "check-bisect: 0 passed, 1 failed"
	exit 1
fi
for c in "${commits[@]}"; do
	subj=$(git -C "$src" log -1 --format=%s "$c")
	git -C "$src" checkout -q "$c" || { echo "FAIL checkout $c"; exit 1; }
	log=$build/bisect-${c:0:12}.log
	mkdir -p "$build"
	# A test the step does not add yet is skipped, not an error.
	if make -s -C "$top" kernel selftests APPLY=0 ALLOW_MISSING=1 >"$log" 2>&1; then
		echo "ok   builds: $subj"
		pass=$((pass + 1))
	else
		echo "FAIL builds: $subj (log: $log)"
		grep -E 'error|Error' "$log" | head -5 | sed 's/^/     /'
		fail=$((fail + 1))
	fi
done
echo "check-bisect: $pass passed, $fail failed"
[ $fail -eq 0 ]
