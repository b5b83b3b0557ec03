# SPDX-License-Identifier: GPL-2.0
# Print the names (comma-separated) of the tests.list entries that T selects:
# "all", a set (series, regress), a run_vmtests.sh category or a test name;
# several may be given, separated by commas or spaces.
BEGIN { n = split(T, want, /[ ,]+/) }
$1 ~ /^#/ || NF < 5 { next }
{
	for (i = 1; i <= n; i++)
		if (want[i] == "all" || want[i] == $1 || want[i] == $2 || want[i] == $3) {
			if (!($3 in seen)) { seen[$3] = 1; out = out (out == "" ? "" : ",") $3 }
			break
		}
}
END { print out }
