#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# What a reviewer needs to apply the series to a tree of their own: the
# upstream stable tag the base corresponds to, the Debian patches (from
# the Debian tarball's mtimes, .git/base-debian-files; named with
# scripts/debian-patches) that touch files the series changes, and
# whether a hunk of the series comes near the lines they change; and the
# stable commits (PREREQDIR) that an older 6.12.y needs first.  Prints the
# "Base" section of the cover letter.
set -euo pipefail

src=${1:?usage: base-info.sh SRC TOP}
top=$(realpath "${2:?}")
names=$top/scripts/debian-patches
mk() { git -C "$src" show "base:Makefile" | sed -n "s/^$1 = *//p" | head -1; }
kver="$(mk VERSION).$(mk PATCHLEVEL).$(mk SUBLEVEL)"
import=$(git -C "$src" rev-list --max-parents=0 base)
origin=$(git -C "$src" log -1 --format=%s "$import" | sed 's/^Linux [^ ]* (\(.*\))$/\1/')
nprereq=$(git -C "$src" rev-list --count "$import..base")
changed=$(git -C "$src" diff --name-only base series)
nchanged=$(echo "$changed" | grep -c . || true)
debfiles=$(git -C "$src" rev-parse --git-dir)/base-debian-files
[ -f "$debfiles" ] || debfiles=$(realpath "$src")/.git/base-debian-files

echo "Base"
echo "----"
if [ -f "$debfiles" ]; then
	echo "v$kver with Debian's patches: $origin."
else
	echo "Linux $kver: $origin."
fi
if [ "$nprereq" -gt 0 ]; then
	echo "Plus $nprereq stable commits of later 6.12.y it lacks (see below)."
fi
echo "The base-commit below is that tree imported as one commit: no"
echo "reviewer can fetch it.  To apply the series to a vanilla tree:"
echo
echo "    git checkout v$kver && git am *.patch"
echo
if [ -f "$debfiles" ]; then
	touched=$(comm -12 <(echo "$changed" | sort) <(sort "$debfiles"))
	if [ -z "$touched" ]; then
		echo "None of the $nchanged files the series changes differs from v$kver."
	else
		echo "Debian's patches change $(echo "$touched" | grep -c .) of the $nchanged files the series changes"
		echo "(there the tree differs from v$kver):"
		echo
		clear=1
		for f in $touched; do
			patch="" lines=""
			# scripts/debian-patches: file | a line the patch adds | patch
			while IFS='|' read -r file re name; do
				file=$(echo "$file" | xargs) re=$(echo "$re" | xargs) name=$(echo "$name" | xargs)
				[ "$file" = "$f" ] || continue
				l=$(git -C "$src" show "base:$f" | grep -nF -- "$re" | cut -d: -f1 | tr '\n' ' ' || true)
				[ -n "$l" ] || continue
				patch="${patch:+$patch, }$name" lines="$lines$l"
			done < <(grep -v '^#' "$names" 2>/dev/null || true)
			# Old-side ranges of the series' hunks, context included.
			near=$(git -C "$src" diff -U3 base series -- "$f" |
				sed -n 's/^@@ -\([0-9]*\),*\([0-9]*\) .*/\1 \2/p' |
				while read -r s n; do
					for l in $lines; do
						if [ "$l" -ge "$s" ] && [ "$l" -lt $((s + ${n:-1})) ]; then
							echo "$l"
						fi
					done
				done || true)
			printf '    %-16s %s\n' "$f" "${patch:-a Debian patch not named in scripts/debian-patches}"
			if [ -z "$patch" ]; then
				echo "export: $f: changed by a Debian patch that scripts/debian-patches does not name" >&2
				clear=0
			elif [ -n "$near" ]; then
				printf '    %-16s %s\n' "" "NOTE: the series' context includes its line(s) $near"
				clear=0
			fi
		done
		echo
		if [ "$clear" = 1 ]; then
			echo "The series' hunks, context included, keep clear of the lines those"
			echo "patches add, so it applies to v$kver as well (lines shift)."
		else
			echo "Check the files above against v$kver before applying there."
		fi
	fi
fi
echo
echo "On an older 6.12.y, apply first the upstream stable commits of these"
echo "titles, each from the release named (the series needs their lines as"
echo "context, not what they do; the project's prereq/ holds copies, which"
echo "check-stable applies):"
echo
for d in $(ls "$top/prereq" 2>/dev/null | sort -V); do
	for p in "$top/prereq/$d"/*.patch; do
		[ -f "$p" ] || continue
		s=$(awk '/^Subject: / { s = $0; getline; while (/^ /) { s = s $0; getline }
			sub(/^Subject: \[PATCH\] /, "", s); print s; exit }' "$p")
		printf '    %-9s %s\n' "${d#v}:" "$s"
	done
done
