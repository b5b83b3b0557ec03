#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Tests of the result parser (report.sh) on recorded guest logs: each
# scripts/testdata/<case>/ holds results.log, console.log, status and the
# expected exit code and final line.
set -uo pipefail
here=$(dirname "$(readlink -f "$0")")
pass=0 fail=0
# Each case may name the tests the run asked for (want); sets come from
# testdata/tests.list.
for d in "$here"/testdata/*/; do
	name=$(basename "$d")
	want_rc=$(sed -n 's/^rc=//p' "$d/expect")
	want_last=$(sed -n 2p "$d/expect")
	want=$(cat "$d/want" 2>/dev/null || true)
	got=$("$here/report.sh" "$d" "$want" "$here/testdata/tests.list" 2>&1)
	rc=$?
	last=$(echo "$got" | tail -1)
	if [ "$rc" = "$want_rc" ] && [ "$last" = "$want_last" ]; then
		echo "ok   parser: $name"
		pass=$((pass + 1))
	else
		echo "FAIL parser: $name: rc $rc (want $want_rc), '$last' (want '$want_last')"
		echo "$got" | sed 's/^/     /'
		fail=$((fail + 1))
	fi
done
echo "check-parser: $pass passed, $fail failed"
[ $fail -eq 0 ]
