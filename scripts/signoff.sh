#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prepare the series for sending: copy patches/ to OUTDIR, make the human
# in SIGNOFF="Name <mail>" the author and add their Signed-off-by.  The
# committed patches carry no Signed-off-by: only a person can certify the
# DCO, and only when they send.
set -euo pipefail

pdir=${1:?usage: signoff.sh PATCHDIR OUTDIR}
outdir=${2:?}
: "${SIGNOFF:?set SIGNOFF=\"Your Name <you@example.org>\"}"
case $SIGNOFF in
*" <"*@*">") ;;
*) echo "signoff: SIGNOFF must look like 'Name <mail>'" >&2; exit 1 ;;
esac

rm -rf "$outdir"
mkdir -p "$outdir"
for p in "$pdir"/[0-9][0-9][0-9][0-9]-*.patch; do
	o=$outdir/$(basename "$p")
	awk -v who="$SIGNOFF" 'hdr == 0 && /^From: / { print "From: " who; next }
		/^$/ { hdr = 1 } { print }' "$p" >"$o"
	case $o in */0000-cover-letter.patch) continue ;; esac
	git interpret-trailers --in-place --if-exists addIfDifferent \
		--trailer "Signed-off-by: $SIGNOFF" "$o"
done
echo "signoff: $(ls "$outdir" | wc -l) files in $outdir, signed off by $SIGNOFF"
echo "signoff: check with scripts/checkpatch.pl, then git send-email $outdir/*.patch"
