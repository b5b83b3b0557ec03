#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Per-test time spread over guest runs: for each OUT directory (a run's
# results.log; LABEL=OUT names it), every result of every test, so that a
# test whose time, and so maybe whose verdict, depends on machine speed
# shows.  Tests named in LIST's set "series" first.  Prints one line per
# test: runs, verdicts, seconds of each run, max/min.
set -uo pipefail

list=${1:?usage: spread.sh LIST [LABEL=]OUT...}
shift
here=$(dirname "$(readlink -f "$0")")
for arg in "$@"; do
	label=${arg%%=*} out=${arg#*=}
	[ "$label" != "$arg" ] || label=$(basename "$out")
	[ -f "$out/results.log" ] || continue
	awk -f "$here/ktap.awk" "$out/results.log" |
		awk -F'\t' -v l="$label" '$1 != "plan" { print l "\t" $1 "\t" $2 "\t" $6 }'
done | awk -F'\t' -v list="$list" '
	BEGIN { while ((getline line < list) > 0) { split(line, w, /[ \t]+/)
			if (w[1] == "series") series[w[3]] = 1 } }
	{
		if (!($2 in runs)) order[++n] = $2
		runs[$2]++
		v[$2] = v[$2] (v[$2] == "" ? "" : " ") $1 ":" $4 ($3 == "ok" ? "" : "(" $3 ")")
		if ($4 ~ /^[0-9]+$/) {
			if (!($2 in lo) || $4 + 0 < lo[$2]) lo[$2] = $4 + 0
			if (!($2 in hi) || $4 + 0 > hi[$2]) hi[$2] = $4 + 0
		}
		if ($3 != "ok" && $3 != "skip") bad[$2] = 1
	}
	END {
		printf "%-24s %4s %5s %5s %6s  %s\n", "TEST", "RUNS", "MIN", "MAX", "MAX/MIN", "SECONDS PER RUN"
		for (pass = 1; pass <= 2; pass++)
			for (i = 1; i <= n; i++) {
				t = order[i]
				if ((pass == 1) != (t in series)) continue
				r = (t in lo) ? (lo[t] > 0 ? sprintf("%.1f", hi[t] / lo[t]) : (hi[t] > 0 ? ">" hi[t] : "1.0")) : "-"
				printf "%-24s %4d %5s %5s %6s  %s%s\n", t, runs[t], (t in lo) ? lo[t] : "-",
					(t in hi) ? hi[t] : "-", r, v[t], (t in bad) ? "  <- not ok in some run" : ""
			}
	}'
