#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Series hygiene, fast (no build): the series applies to the base, every
# patch passes checkpatch.pl --strict (or the finding is justified in
# scripts/checkpatch-allow), no patch carries a Signed-off-by, and the
# top-level mm/ include/ Documentation/ tools/testing/selftests/mm/ are
# exactly the files the series creates, byte for byte.
# Prints "N passed, N failed" over the checks.
set -uo pipefail

src=${1:?usage: check-series.sh SRC TOP}
top=$(realpath "${2:?}")
allow=$top/scripts/checkpatch-allow
dirs=(mm include Documentation tools/testing/selftests/mm)
pass=0 fail=0
ok() { echo "ok   $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

mapfile -t patches < <("$top/scripts/series-patches.sh" "$top/patches")
[ ${#patches[@]} -gt 0 ] || bad "patches/ holds no patch"

# 1. Apply to the base in a private index: no checkout, no build.
idx=$(mktemp)
trap 'rm -f "$idx" "$idx.out"' EXIT
export GIT_INDEX_FILE=$idx
git -C "$src" read-tree base
applied=1
for p in "${patches[@]}"; do
	if ! git -C "$src" apply --cached "$p" 2>"$idx.out"; then
		bad "apply: $(basename "$p"): $(head -3 "$idx.out" | tr '\n' ' ')"
		applied=0
		break
	fi
done
[ $applied = 1 ] && ok "series applies to base ($(cat "$src/.git/base-desc"))"

# 2. checkpatch --strict, from the base tree, on each patch.
for p in "${patches[@]}"; do
	name=$(basename "$p")
	# The Subject: header, unfolded (long ones continue on " " lines).
	subject=$(awk '/^Subject: / { s = $0; getline
			while (/^ /) { s = s $0; getline }
			sub(/^Subject: \[PATCH[^]]*\] /, "", s); print s; exit }' "$p")
	# --ignore UNKNOWN_COMMIT_ID: the base is a tarball import without
	# history, so checkpatch cannot look up the ids in Fixes: tags and
	# "commit <id>" references; they are checked against upstream by hand.
	# --no-signoff: by design the committed series carries no
	# Signed-off-by (make signoff adds the sender's).  /usr/bin first:
	# checkpatch runs spdxcheck.py with python3, which needs Debian's ply.
	out=$(cd "$src" && PATH=/usr/bin:$PATH perl scripts/checkpatch.pl --strict \
		--ignore UNKNOWN_COMMIT_ID --no-signoff --show-types --terse --no-summary "$p" 2>&1)
	rc=$?
	found=$(echo "$out" | grep -E ': (ERROR|WARNING|CHECK):' || true)
	# A non-zero exit must come with findings; otherwise checkpatch failed.
	if [ $rc -ne 0 ] && [ -z "$found" ]; then
		found="$name: ERROR:CHECKPATCH_FAILED: exit $rc: $(echo "$out" | tail -1)"
	fi
	if echo "$out" | grep -q 'Traceback'; then
		found+=$'\n'"$name: ERROR:CHECKPATCH_TOOLS: checkpatch helper failed: $(echo "$out" | grep -m1 Error)"
	fi
	left=""
	while IFS= read -r line; do
		[ -n "$line" ] || continue
		type=$(echo "$line" | sed -E 's/.*: (ERROR|WARNING|CHECK):([A-Z_0-9]+):.*/\2/')
		if [ -f "$allow" ] && awk -F' [|] ' -v t="$type" -v s="$subject" \
			'$1 == t && $2 == s { f = 1 } END { exit !f }' "$allow"; then
			continue
		fi
		left+="$line"$'\n'
	done <<<"$found"
	if [ -z "$left" ]; then
		ok "checkpatch --strict: $name"
	else
		bad "checkpatch --strict: $name"
		printf '%s' "$left" | sed 's/^/     /'
	fi
done

# 3. No Signed-off-by: the human who sends the series adds theirs.
if grep -l '^Signed-off-by:' "${patches[@]}" /dev/null >/dev/null; then
	bad "patches carry Signed-off-by: $(grep -l '^Signed-off-by:' "${patches[@]}" | xargs -n1 basename | tr '\n' ' ')"
else
	ok "no Signed-off-by in patches/"
fi

# 4. Top-level new files == the files the series adds, byte-identical.
if [ $applied = 1 ]; then
	tree=$(git -C "$src" write-tree)
	want=$(git -C "$src" diff-index --cached --name-only --diff-filter=A base -- "${dirs[@]}" | sort)
	have=$(cd "$top" && for d in "${dirs[@]}"; do [ -d "$d" ] && find "$d" ! -type d; done | sort)
	diffs=""
	extra=$(comm -13 <(echo "$want") <(echo "$have") | sed '/^$/d')
	missing=$(comm -23 <(echo "$want") <(echo "$have") | sed '/^$/d')
	[ -n "$extra" ] && diffs+="not created by the series: $extra"$'\n'
	[ -n "$missing" ] && diffs+="created by the series but missing: $missing"$'\n'
	while read -r f; do
		[ -n "$f" ] && [ -f "$top/$f" ] || continue
		if [ -L "$top/$f" ] ||
			[ "$(git -C "$src" rev-parse "$tree:$f")" != "$(git hash-object --no-filters "$top/$f")" ]; then
			diffs+="differs from the series: $f"$'\n'
		fi
		mode=$(git -C "$src" ls-tree "$tree" -- "$f" | cut -d' ' -f1)
		[ -x "$top/$f" ] && want_mode=100755 || want_mode=100644
		[ "$mode" = "$want_mode" ] || diffs+="mode differs from the series: $f"$'\n'
	done <<<"$want"
	if [ -z "$diffs" ]; then
		ok "top-level files are exactly the series' new files ($(echo "$want" | sed '/^$/d' | wc -l))"
	else
		bad "top-level files vs series (run 'make export'):"
		printf '%s' "$diffs" | sed 's/^/     /'
	fi
fi

echo "check-series: $pass passed, $fail failed"
[ $fail -eq 0 ]
