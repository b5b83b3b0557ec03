#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the selftests named in tests.list against the tree's exported
# headers (make headers), into $BUILD/kselftest/mm.  A listed test whose
# source is missing is an error (ALLOW_MISSING=1, for the early steps of
# check-bisect, only skips it), and its old binary is removed so that a
# stale one can never run.  New headers rebuild every test.
set -euo pipefail

src=${1:?usage: build-tests.sh SRC BUILD LIST [EXTRA_DIR]}
build=$(realpath "${2:?}")
list=$(realpath "${3:?}")
# Programs that are not kernel selftests (benchmarks) come from EXTRA_DIR.
extra=${4:+$(realpath "$4")}
out=$build/kselftest/mm

make -s -C "$src" O="$build" ARCH=x86_64 headers
# The selftests' Makefile knows no header dependencies: any change of the
# headers they include (exported, tools/include/uapi, their own) rebuilds
# them all.
hdrs=$( { find "$build/usr/include" "$src/tools/include/uapi" -type f -print0
	find "$src/tools/testing/selftests" -maxdepth 1 -name '*.h' -print0
	find "$src/tools/testing/selftests/mm" -maxdepth 1 -name '*.h' -print0; } |
	sort -z | xargs -0 cat | sha1sum | cut -d' ' -f1)
if [ "$(cat "$out/.headers" 2>/dev/null)" != "$hdrs" ]; then
	rm -rf "$out"
fi
mkdir -p "$out"
echo "$hdrs" >"$out/.headers"

# The programs are the "./name" words of each command.
bins=$(awk '$1 !~ /^#/ && NF >= 5 {
	for (i = 5; i <= NF; i++) if ($i ~ /^\.\//) { sub(/^\.\//, "", $i); print $i }
}' "$list" | sort -u)
targets=()
missing=()
extras=()
for b in $bins; do
	if [ -f "$src/tools/testing/selftests/mm/$b.c" ]; then
		targets+=("$out/$b")
	elif [ -n "$extra" ] && [ -f "$extra/$b.c" ]; then
		extras+=("$b")
	else
		rm -f "$out/$b"
		missing+=("$b")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "${ALLOW_MISSING:-0}" != 1 ]; then
		echo "selftests: listed in $list but not in the tree: ${missing[*]}" >&2
		exit 1
	fi
	echo "selftests: not in this tree, not built: ${missing[*]}"
fi

# Upstream 6.12 tests print compiler warnings: keep them in a log, show
# them only when the build fails.
: >"$out/build.log"
# No target would make the selftest Makefile build all of mm/.
if [ ${#targets[@]} -gt 0 ] && ! make -s -C "$src/tools/testing/selftests/mm" -j"$(nproc)" \
	OUTPUT="$out" KHDR_INCLUDES="-isystem $build/usr/include" "${targets[@]}" \
	>>"$out/build.log" 2>&1; then
	grep -E 'error|Error' "$out/build.log" | head -20 >&2 || true
	echo "selftests: build failed, see $out/build.log" >&2
	exit 1
fi
for b in "${extras[@]}"; do
	gcc -Wall -O2 -isystem "$build/usr/include" -o "$out/$b" "$extra/$b.c" \
		>>"$out/build.log" 2>&1 || {
		echo "selftests: $b failed to build, see $out/build.log" >&2
		exit 1
	}
done
echo "$bins" >"$out/.programs"
echo "selftests: built $((${#targets[@]} + ${#extras[@]})) in $out"
