# SPDX-License-Identifier: GPL-2.0
# Print the names (comma-separated) of the tests.list entries that T selects:
# "all" (every set but "flaky"), a set (series, regress, flaky), a
# run_vmtests.sh category or a test name;
# several may be given, separated by commas or spaces.  A test that
# several selectors choose runs that many times, back to back (T=all,series
# runs the series' tests twice in one boot); one selector chooses each
# test once.  Tests always run in the order of the list, whose last entry
# must stay last (see README).  A selector that matches nothing is an
# error (exit 1), so that a typo cannot shrink a run.
# With -v timeout=1, print instead the time the selection may take: the
# sum of its timeouts, each times (1 + retries).
BEGIN { n = split(T, want, /[ ,]+/) }
$1 ~ /^#/ || NF < 5 { next }
{
	name[++nt] = $3; set[nt] = $1; cat[nt] = $2
	t = $4; r = 0
	if (t ~ /\//) { r = t; sub(/.*\//, "", r); sub(/\/.*/, "", t) }
	secs[nt] = t * (1 + r)
}
END {
	for (i = 1; i <= n; i++) {
		if (want[i] == "") continue
		hit = 0
		delete seen
		for (j = 1; j <= nt; j++) {
			if (name[j] in seen) continue
			if ((want[i] == "all" && set[j] != "flaky") || want[i] == set[j] ||
			    want[i] == cat[j] || want[i] == name[j]) {
				hit = 1
				seen[name[j]] = 1
				times[j]++
			}
		}
		if (!hit) {
			print "T: '" want[i] "' matches no test in the list" > "/dev/stderr"
			exit 1
		}
	}
	for (j = 1; j <= nt; j++)
		for (k = 0; k < times[j]; k++) {
			out = out (out == "" ? "" : ",") name[j]
			total += secs[j]
		}
	print (timeout ? total : out)
}
