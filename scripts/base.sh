#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prepare the base tree: a git repository at $1 holding one 6.12.y tree as
# a single commit, plus the stable commits the series needs that the tree
# is too old to have (scripts/prereq.sh, PREREQDIR), tagged "base".  The
# default base is Debian's linux-source-6.12 package; KSRC=/path uses any
# other 6.12.y tree, or a linux-source tarball (as check-stable does).
#
# The commits are made with fixed identity and dates, so the same base
# always gets the same commit id (it is the series' base-commit).  For a
# Debian tarball, the files Debian's patches changed (a newer mtime than
# the upstream release's files) are listed in .git/base-debian-files.
set -euo pipefail

dst=${1:?usage: base.sh DIR [PREREQDIR]}
pdir=${2:+$(realpath "$2")}
tarball=/usr/src/linux-source-6.12.tar.xz
here=$(dirname "$(readlink -f "$0")")

if [ -n "${KSRC:-}" ] && [ -f "$KSRC" ]; then
	tarball=$(realpath "$KSRC")
	id="ksrc-tarball $tarball $(stat -c '%s %Y' "$tarball")"
	origin="$(basename "$tarball")${KSRC_NAME:+ ($KSRC_NAME)}"
elif [ -n "${KSRC:-}" ]; then
	src=$(realpath "$KSRC")
	[ -f "$src/Makefile" ] || { echo "base: KSRC=$src has no Makefile" >&2; exit 1; }
	if git -C "$src" rev-parse --verify -q HEAD >/dev/null 2>&1; then
		id="ksrc $src $(git -C "$src" rev-parse HEAD)"
	else
		# Not git: the newest modification time stands for the content.
		id="ksrc $src $(find "$src" -type f -printf '%T@\n' | sort -n | tail -1)"
	fi
	origin="tree at $src"
else
	[ -f "$tarball" ] || {
		echo "base: $tarball missing: apt-get install linux-source-6.12" >&2
		exit 1
	}
	pkgver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	id="debian linux-source-6.12 $pkgver"
	origin="Debian linux-source-6.12 $pkgver"
fi
# A change of the prerequisites a tree of SUBLEVEL $1 gets is a new base;
# a change of the others is not (the import knows its SUBLEVEL).
prereqs() {
	[ -n "$pdir" ] || return 0
	for rel in $(ls "$pdir" | sed -n 's/^v6\.12\.\([0-9]*\)$/\1/p' | sort -n); do
		if [ "$1" -lt "$rel" ]; then cat "$pdir/v6.12.$rel"/*.patch; fi
	done | sha1sum | cut -c1-12
}
id_src=$id
id="$id_src prereq $(prereqs "$(cat "$dst/.git/base-sublevel" 2>/dev/null || echo 0)")"

if [ -f "$dst/.git/base-id" ] && [ "$(cat "$dst/.git/base-id")" = "$id" ]; then
	echo "base: $(cat "$dst/.git/base-desc")"
	exit 0
fi

# A new base replaces the tree: never with unexported work on it.
if [ -d "$dst/.git" ] && [ "${FORCE:-0}" != 1 ]; then
	state=$(cat "$dst/.git/series-state" 2>/dev/null || true)
	series=$(git -C "$dst" rev-parse -q --verify refs/heads/series || true)
	if ! git -C "$dst" diff --quiet HEAD 2>/dev/null ||
		{ [ -n "$series" ] && [ "${state#* }" != "$series" ] &&
		  [ -n "$(git -C "$dst" rev-list base..series 2>/dev/null)" ]; }; then
		echo "base: the base changed ($id), but $dst holds work not in" >&2
		echo "base: patches/ (uncommitted, or commits not exported): run" >&2
		echo "base: 'make export' first, or FORCE=1 to discard it." >&2
		exit 1
	fi
fi

tmp=$dst.new
rm -rf "$tmp"
mkdir -p "$tmp"
if [ -n "${src:-}" ]; then
	if git -C "$src" rev-parse --verify -q HEAD >/dev/null 2>&1; then
		git -C "$src" archive --format=tar HEAD | tar -C "$tmp" -xf -
	else
		tar -C "$src" --exclude=.git -cf - . | tar -C "$tmp" -xf -
	fi
else
	# Debian builds the tarball from the upstream release (one mtime)
	# and then applies its patches: the files they changed are newer.
	tar -C "$tmp" --strip-components=1 -xvvf "$tarball" |
		awk '$1 !~ /^d/ { t = $4 " " $5; sub(/^[^\/]*\//, "", $6)
			n[t]++; f[t] = f[t] $6 "\n" }
			END { for (t in n) if (n[t] > top) { top = n[t]; up = t }
			      for (t in n) if (t != up) printf "%s", f[t] }' |
		sort >"$tmp.debian-files"
fi

mk() { sed -n "s/^$1 = *//p" "$tmp/Makefile" | head -1; }
kver="$(mk VERSION).$(mk PATCHLEVEL).$(mk SUBLEVEL)$(mk EXTRAVERSION)"
case $kver in
6.12.*) ;;
*) echo "base: $origin is Linux $kver, not 6.12.y" >&2; rm -rf "$tmp"; exit 1 ;;
esac

export GIT_AUTHOR_NAME=base GIT_AUTHOR_EMAIL=base@invalid
export GIT_COMMITTER_NAME=base GIT_COMMITTER_EMAIL=base@invalid
export GIT_AUTHOR_DATE="2024-11-17T00:00:00Z" GIT_COMMITTER_DATE="2024-11-17T00:00:00Z"
git -C "$tmp" init -q -b base-branch
git -C "$tmp" config core.autocrlf false
# Debian's tree has a top-level .gitignore that ignores almost everything at
# the top level: add with -f, or the base commit comes out empty.
git -C "$tmp" add -f -A .
git -C "$tmp" commit -q --no-verify -m "Linux $kver ($origin)"
nprereq=0
if [ -n "$pdir" ]; then
	"$here/prereq.sh" "$tmp" "$pdir" | tee "$tmp/.git/base-prereq"
	nprereq=$(wc -l <"$tmp/.git/base-prereq")
fi
git -C "$tmp" tag base
# Commits on the series are made under the project's neutral identity.
git -C "$tmp" config user.name "mm-paging project"
git -C "$tmp" config user.email "mm-paging@invalid"
sub=$(mk SUBLEVEL)
echo "$sub" >"$tmp/.git/base-sublevel"
echo "$id_src prereq $(prereqs "$sub")" >"$tmp/.git/base-id"
[ -f "$tmp.debian-files" ] && mv "$tmp.debian-files" "$tmp/.git/base-debian-files"
plus=""
[ "$nprereq" -gt 0 ] && plus=" + $nprereq stable prerequisites"
echo "Linux $kver from $origin$plus, commit $(git -C "$tmp" rev-parse --short=12 base)" \
	>"$tmp/.git/base-desc"
rm -rf "$dst"
mv "$tmp" "$dst"
echo "base: $(cat "$dst/.git/base-desc")"
