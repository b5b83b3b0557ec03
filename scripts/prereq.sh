#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Put on the base tree (git repository DIR, HEAD = the import) the 6.12.y
# stable commits the series needs but an older tree lacks: each patch in
# PREREQDIR/v6.12.N/ came with stable release 6.12.N, so a tree of an
# earlier SUBLEVEL gets it, oldest release first, with git am.  Fixed
# identity and dates: the same tree always gets the same commits.  Prints
# one line per patch applied; nothing for a tree that has them all.
set -euo pipefail

dir=${1:?usage: prereq.sh DIR PREREQDIR}
pdir=${2:?}
sub=$(sed -n 's/^SUBLEVEL = *//p' "$dir/Makefile" | head -1)
[ -d "$pdir" ] || exit 0

export GIT_COMMITTER_NAME=base GIT_COMMITTER_EMAIL=base@invalid
for rel in $(ls "$pdir" | sed -n 's/^v6\.12\.\([0-9]*\)$/\1/p' | sort -n); do
	[ "$sub" -lt "$rel" ] || continue
	for p in "$pdir/v6.12.$rel"/*.patch; do
		[ -f "$p" ] || continue
		if ! git -C "$dir" am -q --keep-cr --committer-date-is-author-date \
			"$p" >/dev/null 2>"$dir/.git/am.err"; then
			echo "prereq: $p does not apply to 6.12.$sub:" >&2
			grep -E 'error:|patch failed' "$dir/.git/am.err" >&2 || cat "$dir/.git/am.err" >&2
			git -C "$dir" am --abort >/dev/null 2>&1 || true
			exit 1
		fi
		echo "prereq: 6.12.$sub < 6.12.$rel: $(sed -n 's/^Subject: \[PATCH\] //p' "$p")"
	done
done
