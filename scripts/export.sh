#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Regenerate patches/ from branch "series" of the base tree, and the
# top-level copies of the files the series creates.  The cover letter's
# subject and text come from patches/cover-letter.txt (first line: subject),
# followed by the "Base" section of scripts/base-info.sh (the upstream tag,
# the Debian patches in files the series changes, the stable
# prerequisites), which export also prints.
set -euo pipefail

src=${1:?usage: export.sh SRC TOP}
top=$(realpath "${2:?}")
pdir=$top/patches
cover=$pdir/cover-letter.txt
dirs=(mm include Documentation tools/testing/selftests/mm)

git -C "$src" diff --quiet HEAD || { echo "export: $src has uncommitted changes" >&2; exit 1; }
[ -s "$cover" ] || { echo "export: $cover missing (first line: subject)" >&2; exit 1; }
# Debian's top-level .gitignore hides new files: a source file never
# added with "git add -f" would silently stay out of the series.
untracked=$(git -C "$src" status --porcelain --ignored -- "${dirs[@]}" |
	sed -n 's/^\(??\|!!\) //p' | grep -E '\.(c|h|rst|sh|txt)$' |
	grep -vE '^tools/testing/selftests/mm/local_config\.h$' || true)
if [ -n "$untracked" ]; then
	echo "export: not committed (git add -f?): $untracked" >&2
	exit 1
fi
n=$(git -C "$src" rev-list --count base..series)
[ "$n" -gt 0 ] || { echo "export: branch series has no commits on base" >&2; exit 1; }

rm -f "$pdir"/[0-9][0-9][0-9][0-9]-*.patch
git -C "$src" -c core.abbrev=12 -c diff.renames=true format-patch -q \
	--zero-commit --no-signature --cover-letter --base=base \
	-o "$pdir" base..series

# Fill the cover letter template from cover-letter.txt and the base
# section; date it like the newest patch so that an unchanged series
# exports byte-identical.
cl=$pdir/0000-cover-letter.patch
date=$(git -C "$src" log -1 --format=%aD series)
subject=$(head -1 "$cover")
"$top/scripts/base-info.sh" "$src" "$top" >"$cl.base"
awk -v subj="$subject" -v body="$cover" -v base="$cl.base" -v date="$date" '
	/^Date: / && !dated { print "Date: " date; dated = 1; next }
	/\*\*\* SUBJECT HERE \*\*\*/ { sub(/\*\*\* SUBJECT HERE \*\*\*/, subj) }
	/^\*\*\* BLURB HERE \*\*\*$/ {
		skip = 1
		while ((getline l < body) > 0) if (skip) skip = (l != ""); else print l
		print ""
		while ((getline l < base) > 0) print l
		next
	}
	{ print }
' "$cl" >"$cl.new"
mv "$cl.new" "$cl"

# Top-level copies: exactly the files the series adds under ${dirs[*]}.
for d in "${dirs[@]}"; do
	[ -d "$top/$d" ] && find "$top/$d" -type f -delete
done
git -C "$src" diff --name-only --diff-filter=A base series -- "${dirs[@]}" |
while read -r f; do
	mkdir -p "$top/$(dirname "$f")"
	git -C "$src" show "series:$f" >"$top/$f"
done
for d in "${dirs[@]}"; do
	[ -d "$top/$d" ] && find "$top/$d" -depth -type d -empty -delete
done
# Record that branch "series" and patches/ agree (see apply.sh).
echo "$("$(dirname "$(readlink -f "$0")")/series-patches.sh" --hash "$pdir")" \
	"$(git -C "$src" rev-parse series)" >"$src/.git/series-state"
cat "$cl.base"
rm -f "$cl.base"
echo "export: $n patches and cover letter in patches/"
