#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Generate $BUILD/.config: allnoconfig (ARCH=x86_64) plus the fragments
# given, later fragments winning.  Fails, listing them, if Kconfig dropped
# any requested value (a missing dependency silently turns an option off).
# Skips the work when the fragments and the tree's Kconfig are unchanged,
# so builds stay incremental.
set -euo pipefail

src=${1:?usage: kconfig.sh SRC BUILD FRAGMENT...}
build=${2:?}
shift 2
mkdir -p "$build"
build=$(realpath "$build")
frags=()
for f in "$@"; do frags+=("$(realpath "$f")"); done
set -- "${frags[@]}"

# Regenerate when the fragments or the tree's Kconfig files changed
# (uncommitted edits included), not at every commit (check-bisect builds
# each one); verify the result every time, which is cheap.
stamp=$( (cat "$@"; git -C "$src" ls-tree -r HEAD 2>/dev/null |
	awk '$4 ~ /(^|\/)Kconfig[^\/]*$/ || $4 ~ /^scripts\/kconfig\//' || true
	git -C "$src" diff HEAD -- '*Kconfig*' scripts/kconfig 2>/dev/null || true) |
	sha1sum | cut -d' ' -f1)
if [ ! -f "$build/.config" ] || [ "$(cat "$build/.config-stamp" 2>/dev/null)" != "$stamp" ]; then
	rm -f "$build/.config-stamp"
	# merge_config.sh -n: allnoconfig with the merged fragments as KCONFIG_ALLCONFIG.
	(cd "$src" && ARCH=x86_64 scripts/kconfig/merge_config.sh -n -O "$build" "$@" \
		>"$build/merge_config.log" 2>&1) || {
		cat "$build/merge_config.log" >&2
		exit 1
	}
	make -s -C "$src" O="$build" ARCH=x86_64 olddefconfig >/dev/null
	echo "$stamp" >"$build/.config-stamp"
fi

# Requested value of every option: the last fragment that names it wins.
awk '
	/^CONFIG_[A-Za-z0-9_]+=/ { n = $0; sub(/=.*/, "", n); v = $0; sub(/^[^=]*=/, "", v); want[n] = v; next }
	/^# CONFIG_[A-Za-z0-9_]+ is not set/ { want[$2] = "n" }
	END { for (n in want) print n, want[n] }
' "$@" | sort >"$build/.config-want"

bad=0
while read -r name want; do
	have=$(grep -E "^$name=" "$build/.config" | sed 's/^[^=]*=//' || true)
	[ -n "$have" ] || have=n
	if [ "$have" != "$want" ]; then
		echo "kconfig: $name: requested $want, got $have (dependency missing?)" >&2
		bad=1
	fi
done <"$build/.config-want"
if [ $bad -ne 0 ]; then
	rm -f "$build/.config-stamp"
	echo "kconfig: fix the fragments ($*)" >&2
	exit 1
fi
echo "kconfig: $build/.config ($(grep -c '=y' "$build/.config") options =y)"
