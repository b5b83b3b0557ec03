#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Bisectability: build the kernel (bzImage, modules) and the selftests at
# every step of the series, oldest first, incrementally in one build folder.
# Leaves the tree on branch "series" whatever happens.
set -uo pipefail

src=${1:?usage: check-bisect.sh SRC KMAKE BUILD LIST}
kmake=${2:?}
build=${3:?}
list=${4:?}
here=$(dirname "$(readlink -f "$0")")
pass=0 fail=0
trap 'git -C "$src" checkout -q series' EXIT

mapfile -t commits < <(git -C "$src" rev-list --reverse base..series)
for c in "${commits[@]}"; do
	subj=$(git -C "$src" log -1 --format=%s "$c")
	git -C "$src" checkout -q "$c" || { echo "FAIL checkout $c"; exit 1; }
	log=$build/bisect-${c:0:12}.log
	if $kmake bzImage modules >"$log" 2>&1 &&
		"$here/build-tests.sh" "$src" "$build" "$list" >>"$log" 2>&1; then
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
