# SPDX-License-Identifier: GPL-2.0
# Parse the guest's TAP (results.log).  Top-level result lines are one per
# test program.  What a program prints reaches us as "# "-prefixed lines
# before its result; the first nested level holds its subtest results.
# Unprefixed "ktest...:"/"guest...:" lines are the guest's own control
# lines, which test output cannot produce.
# Prints one line per test program:
#   name <TAB> verdict <TAB> pass <TAB> fail <TAB> skip <TAB> secs <TAB> note
# and, last:
#   plan <TAB> planned <TAB> seen <TAB> done <TAB> running <TAB> tainted
#        <TAB> debug_locks <TAB> names of the results, comma-separated
function reset_nested() { npass = 0; nfail = 0; nskip = 0; nplan = -1; nseen = 0; secs = ""; failed_names = "" }
function directive(s) {
	if (s ~ /#[ \t]*[Ss][Kk][Ii][Pp]/) return "skip"
	if (s ~ /#[ \t]*(XFAIL|TODO)/) return "xfail"
	if (s ~ /#[ \t]*TIMEOUT/) return "timeout"
	return ""
}
function resname(s) {
	sub(/^(not )?ok [0-9]+[ \t]*(- )?/, "", s)
	sub(/[ \t]*#.*$/, "", s)
	return s
}
function addnote(s) { note = note (note == "" ? "" : "; ") s }
BEGIN { planned = -1; seen = 0; done = 0; tainted = "-"; dlocks = "-"; running = "-"; names = ""; reset_nested() }
{ sub(/\r$/, "") }
/^guest: done$/ { done = 1; next }
/^guest-tainted: / { tainted = $2; next }
/^guest-debug-locks: / { dlocks = $2; next }
/^ktest-time: / { secs = $3; next }
/^ktest: / { running = $2; sub(/:$/, "", running); next }
/^ktest-note: / { knote = knote (knote == "" ? "" : "; ") substr($0, 13); next }
# A retried test: what the failed attempt printed does not count.
/^ktest-retry: / { kn = knote; reset_nested(); knote = kn; next }
/^# / {
	l = substr($0, 3)
	if (l ~ /^1\.\.[0-9]+/) { nplan = substr(l, 4) + 0; next }
	# uffd-unit-tests does not print TAP: "Testing <what>... done|skipped|failed"
	# per case, then "Userfaults unit tests: pass=N, skip=N, fail=N (total=N)".
	if (l ~ /^Testing .*\.\.\. (done|skipped|failed)/) {
		nseen++
		if (l ~ /\.\.\. done/) npass++
		else if (l ~ /\.\.\. skipped/) nskip++
		else { nfail++; x = l; sub(/^Testing /, "", x); sub(/\.\.\. .*/, "", x); gsub(/ /, "_", x); failed_names = failed_names " " x }
		next
	}
	# Run once per filter, it prints one summary each: their totals add up.
	if (l ~ /^Userfaults unit tests: .*total=[0-9]+/) { x = l; sub(/.*total=/, "", x); nplan = (nplan < 0 ? 0 : nplan) + x; next }
	if (l ~ /^(not )?ok [0-9]+/) {
		nseen++
		d = directive(l)
		if (d == "skip") nskip++
		else if (l ~ /^ok/ || d == "xfail") npass++
		else { nfail++; failed_names = failed_names " " resname(l) }
	}
	next
}
/^1\.\.[0-9]+/ { planned = substr($0, 4) + 0; next }
/^(not )?ok [0-9]+/ {
	seen++
	name = resname($0)
	names = names (names == "" ? "" : ",") name
	d = directive($0)
	ok = ($0 ~ /^ok/)
	note = $0; if (!sub(/^[^#]*#[ \t]*/, "", note)) note = ""
	p = npass; f = nfail; s = nskip
	verdict = ok ? (d == "skip" ? "skip" : "ok") : "FAIL"
	if (nseen == 0 && nplan <= 0) {
		# A program without subtests (or "1..0 # SKIP"): it is one test.
		if (verdict == "ok") p = 1
		else if (verdict == "skip") s = 1
		else f = 1
	} else {
		if (!ok && f == 0) f = 1              # crash, timeout, bad exit
		if (ok && d != "skip" && f > 0) { verdict = "FAIL"; addnote("subtests failed, exit 0") }
		# Its own plan must be fully run, unless it timed out (already
		# failed) or skipped as a whole after planning (ksft_exit_skip).
		# More results than planned only get a note: 6.12's
		# ksm_functional_tests prints one result twice, from a child.
		if (nplan > nseen && d != "timeout" && d != "skip") {
			if (verdict != "FAIL" || f == 0) f++
			verdict = "FAIL"
			addnote("plan " nplan ", ran " nseen)
		} else if (nplan >= 0 && nseen > nplan)
			addnote("plan " nplan ", " nseen " results")
		if (d == "skip" && nseen == 0) s = 1
	}
	if (failed_names != "") addnote("failed:" failed_names)
	if (knote != "") addnote(knote)
	printf "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", name, verdict, p, f, s, (secs == "" ? "-" : secs), note
	reset_nested()
	running = "-"
	knote = ""
	next
}
END {
	printf "plan\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", planned, seen, done, running,
		tainted, (dlocks == "" ? "-" : dlocks), (names == "" ? "-" : names)
}
