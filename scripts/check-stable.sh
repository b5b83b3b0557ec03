#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The series on every 6.12.y Debian offers: for each version of
# linux-source-6.12 that apt knows (VERSIONS="v1 v2" to choose), download
# the package, and in a cache of its own (CACHE/stable/<version>) import
# its tree (with the stable prerequisites it lacks, prereq/), apply the
# series with git am, build the kernel and selftests, boot it and run
# T (default: series).  One line per version, then "N passed, N failed";
# the lines are also kept in CACHE/stable/report.
set -uo pipefail

cache=${1:?usage: check-stable.sh CACHE TOP}
top=$(realpath "${2:?}")
t=${T:-series}
mkdir -p "$cache/stable/debs"
cache=$(realpath "$cache")
versions=${VERSIONS:-$(apt-cache madison linux-source-6.12 | awk '{ print $3 }' | sort -V)}
[ -n "$versions" ] || { echo "check-stable: apt offers no linux-source-6.12"; echo "0 passed, 1 failed"; exit 1; }

pass=0 fail=0
report=$cache/stable/report.new
echo "check-stable $(date -u '+%Y-%m-%d %H:%M UTC'), T=$t" >"$report"
for v in $versions; do
	dir=$cache/stable/$v
	deb=$cache/stable/debs/linux-source-6.12_${v/:/%3a}_all.deb
	tarball=$dir/linux-source-6.12.tar.xz
	log=$dir/run.log
	mkdir -p "$dir"
	start=$SECONDS
	if [ ! -f "$tarball" ]; then
		if [ ! -f "$deb" ]; then
			(cd "$cache/stable/debs" && apt-get download -q "linux-source-6.12=$v" >/dev/null 2>&1)
		fi
		dpkg-deb --fsys-tarfile "$deb" 2>/dev/null |
			tar -xOf - ./usr/src/linux-source-6.12.tar.xz >"$tarball.new" &&
			[ -s "$tarball.new" ] && mv "$tarball.new" "$tarball"
	fi
	if [ ! -f "$tarball" ]; then
		line="no package (apt-get download linux-source-6.12=$v failed)"
		rc=1
	else
		# FORCE=1: nothing in this cache is a developer's work.
		make -s -C "$top" run T="$t" CACHE="$dir" KSRC="$tarball" \
			KSRC_NAME="Debian linux-source-6.12 $v" FORCE=1 >"$log" 2>&1
		rc=$?
		base=$(sed -n 's/^base: Linux \([^ ]*\) .*from .*\.tar\.xz ([^)]*)\(.*\), commit.*/\1\2/p' "$log" | tail -1)
		napplied=$(sed -n 's/^apply: \([0-9]*\) patches applied.*/\1/p' "$log" | tail -1)
		last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
		if [ -z "$napplied" ] && ! grep -q '^apply: series already applied' "$log"; then
			what="does not apply: $(grep -m1 'does not apply' "$log")"
		elif ! grep -q '^kernel: 6\.12' "$log"; then
			what="applies, does not build: $(grep -m1 -E 'error|Error' "$log")"
		elif ! grep -q '^initramfs: ' "$log"; then
			what="builds, selftests or initramfs failed: $(grep -m1 -E 'error|Error' "$log")"
		else
			what="applies, builds, boots; $t: ${last:-no result}"
		fi
		line="${base:-?}: $what"
	fi
	secs=$((SECONDS - start))
	if [ "$rc" -eq 0 ]; then
		pass=$((pass + 1)) verdict=ok
	else
		fail=$((fail + 1)) verdict=FAIL
	fi
	printf '%-4s %-20s %s (%dm%02ds)\n' "$verdict" "$v" "$line" $((secs / 60)) $((secs % 60)) |
		tee -a "$report"
done
echo "check-stable: $pass passed, $fail failed" | tee -a "$report"
mv "$report" "$cache/stable/report"
[ "$fail" -eq 0 ]
