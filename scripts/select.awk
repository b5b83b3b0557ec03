# SPDX-License-Identifier: GPL-2.0
# Print the names (comma-separated) of the tests.list entries that T selects:
# "all" (every set but "flaky"), a set (series, regress, flaky), a
# run_vmtests.sh category or a test name;
# several may be given, separated by commas or spaces.  A selector that
# matches nothing is an error (exit 1), so that a typo cannot shrink a run.
# With -v timeout=1, print instead the time the selection may take: the
# sum of its timeouts, each times (1 + retries).
BEGIN { n = split(T, want, /[ ,]+/) }
$1 ~ /^#/ || NF < 5 { next }
{
	for (i = 1; i <= n; i++)
		if ((want[i] == "all" && $1 != "flaky") || want[i] == $1 || want[i] == $2 || want[i] == $3) {
			hit[i] = 1
			if (!($3 in seen)) {
				seen[$3] = 1
				out = out (out == "" ? "" : ",") $3
				t = $4; r = 0
				if (t ~ /\//) { r = t; sub(/.*\//, "", r); sub(/\/.*/, "", t) }
				total += t * (1 + r)
			}
		}
}
END {
	for (i = 1; i <= n; i++)
		if (want[i] != "" && !(i in hit)) {
			print "T: '" want[i] "' matches no test in the list" > "/dev/stderr"
			exit 1
		}
	print (timeout ? total : out)
}
