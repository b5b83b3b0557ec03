#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Bisectability: build the kernel (bzImage, modules) and the selftests at
# every step of the series, oldest first, incrementally in one build folder
# (make kernel selftests APPLY=0 FLAVOUR=FLAVOUR on each commit; the
# Makefile uses the compile-only "bisect" flavour, see
# scripts/kconfig/bisect.config).  A step builds only what its commit can
# change, as the previous step built:
#   kernel     not when the commit changes only files the kernel build
#              never reads (Documentation/, MAINTAINERS, tools/testing/
#              but for the selftests' mm/config, a kconfig fragment, and
#              the uapi copies in tools/include/uapi/, which objtool, the
#              one tool the build compiles, does not include);
#   selftests  not when it changes nothing under tools/ and no uapi header
#              (their only inputs: the tests' sources and the exported
#              headers).
# Each line gives the step's time.  Leaves the tree on branch "series"
# whatever happens.
set -uo pipefail

src=${1:?usage: check-bisect.sh SRC TOP BUILD [FLAVOUR]}
top=${2:?}
build=${3:?}
flavour=${4:-debug}
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
kernel_ok="" tests_ok="" total=$SECONDS
for c in "${commits[@]}"; do
	subj=$(git -C "$src" log -1 --format=%s "$c")
	git -C "$src" checkout -q "$c" || { echo "FAIL checkout $c"; exit 1; }
	log=$build/bisect-${c:0:12}.log
	mkdir -p "$build"
	start=$SECONDS
	files=$(git -C "$src" diff-tree --no-commit-id --name-only -r "$c")
	targets=() skipped=()
	if [ -z "$kernel_ok" ] || grep -qxF tools/testing/selftests/mm/config <<<"$files" ||
		grep -qvE '^(Documentation/|MAINTAINERS$|tools/testing/|tools/include/uapi/)' <<<"$files"; then
		targets+=(kernel)
	else
		skipped+=(kernel)
	fi
	if [ -z "$tests_ok" ] || grep -qE '^tools/|(^|/)uapi/' <<<"$files"; then
		targets+=(selftests)
	else
		skipped+=(selftests)
	fi
	note=""
	[ ${#skipped[@]} -eq 0 ] || note=", ${skipped[*]} as before: inputs unchanged"
	# A test the step does not add yet is skipped, not an error.
	if [ ${#targets[@]} -eq 0 ] ||
		make -s -C "$top" "${targets[@]}" FLAVOUR="$flavour" BUILD="$build" \
			APPLY=0 ALLOW_MISSING=1 >"$log" 2>&1; then
		echo "ok   builds: $subj ($((SECONDS - start))s$note)"
		pass=$((pass + 1))
		kernel_ok=1 tests_ok=1
	else
		echo "FAIL builds: $subj (log: $log)"
		grep -E 'error|Error' "$log" | head -5 | sed 's/^/     /'
		fail=$((fail + 1))
		kernel_ok="" tests_ok=""
	fi
done
echo "check-bisect: $((SECONDS - total))s for ${#commits[@]} steps, flavour $flavour"
echo "check-bisect: $pass passed, $fail failed"
[ $fail -eq 0 ]
