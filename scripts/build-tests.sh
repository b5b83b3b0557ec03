#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the selftests named in tests.list against the tree's exported
# headers (make headers), into $BUILD/kselftest/mm.
set -euo pipefail

src=${1:?usage: build-tests.sh SRC BUILD LIST}
build=$(realpath "${2:?}")
list=$(realpath "${3:?}")
out=$build/kselftest/mm

make -s -C "$src" O="$build" ARCH=x86_64 headers
mkdir -p "$out"
# The programs are the "./name" words of each command.
bins=$(awk '$1 !~ /^#/ && NF >= 5 {
	for (i = 5; i <= NF; i++) if ($i ~ /^\.\//) { sub(/^\.\//, "", $i); print $i }
}' "$list" | sort -u)
# At an early step of the series (check-bisect) a test may not exist yet.
targets=()
for b in $bins; do
	if [ -f "$src/tools/testing/selftests/mm/$b.c" ]; then
		targets+=("$out/$b")
	else
		echo "selftests: $b.c not in this tree, not built"
	fi
done
# Upstream 6.12 tests print compiler warnings: keep them in a log, show
# them only when the build fails.
if ! make -s -C "$src/tools/testing/selftests/mm" -j"$(nproc)" \
	OUTPUT="$out" KHDR_INCLUDES="-isystem $build/usr/include" "${targets[@]}" \
	>"$out/build.log" 2>&1; then
	grep -E 'error|Error' "$out/build.log" | head -20 >&2
	echo "selftests: build failed, see $out/build.log" >&2
	exit 1
fi
echo "selftests: built ${#targets[@]} in $out"
