#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Put the series (patches/*.patch) on branch "series" of the base tree with
# git am.  Nothing is done when the branch already holds exactly these
# patches.  Work of a developer on the branch is never thrown away: if the
# branch moved since the last apply, or the tree is dirty, stop and say so.
set -euo pipefail

src=${1:?usage: apply.sh SRC PATCHDIR}
pdir=$(realpath "${2:?}")
state=$src/.git/series-state
here=$(dirname "$(readlink -f "$0")")
mapfile -t patches < <("$here/series-patches.sh" "$pdir")
hash=$("$here/series-patches.sh" --hash "$pdir")
head=$(git -C "$src" rev-parse HEAD)
branch=$(git -C "$src" symbolic-ref -q --short HEAD || echo DETACHED)
series=$(git -C "$src" rev-parse -q --verify refs/heads/series || true)
old_hash="" old_head=""
if [ -f "$state" ]; then
	read -r old_hash old_head <"$state" || true
fi

if [ "${FORCE:-0}" != 1 ]; then
	gitdir=$(git -C "$src" rev-parse --git-dir)
	case $gitdir in /*) ;; *) gitdir=$src/$gitdir ;; esac
	if [ -d "$gitdir/rebase-apply" ] || [ -d "$gitdir/rebase-merge" ]; then
		echo "apply: a git am or rebase is in progress in $src: finish it first." >&2
		exit 1
	fi
	# Branch "series" must be what the last apply or export left,
	# wherever HEAD is: anything else is a developer's work.
	if [ -n "$series" ] && [ "$series" != "$old_head" ] &&
		[ -n "$(git -C "$src" rev-list base..series)" ]; then
		echo "apply: branch 'series' in $src has commits that are not in patches/:" >&2
		echo "apply: run 'make export' to keep them, or FORCE=1 to discard them." >&2
		exit 1
	fi
	if ! git -C "$src" diff --quiet HEAD; then
		echo "apply: $src has uncommitted changes; commit and 'make export', or FORCE=1." >&2
		exit 1
	fi
fi
if [ "$branch" = series ] && [ "$head" = "$old_head" ] && [ "$hash" = "$old_hash" ] &&
	git -C "$src" diff --quiet HEAD; then
	echo "apply: series already applied (${#patches[@]} patches)"
	exit 0
fi

git -C "$src" checkout -q -f -B series base
for p in "${patches[@]}"; do
	if ! git -C "$src" am -q --keep-cr "$p" >/dev/null 2>"$src/.git/am.err"; then
		echo "apply: $(basename "$p") does not apply:" >&2
		grep -E 'error:|patch failed|does not apply|already exists' "$src/.git/am.err" >&2 ||
			cat "$src/.git/am.err" >&2
		git -C "$src" am --abort >/dev/null 2>&1 || true
		git -C "$src" checkout -q -f -B series base
		rm -f "$state"
		exit 1
	fi
done
echo "$hash $(git -C "$src" rev-parse HEAD)" >"$state"
echo "apply: ${#patches[@]} patches applied on $(cat "$src/.git/base-desc")"
