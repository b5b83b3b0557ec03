#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The series' patches in PATCHDIR, in order, one path a line (the cover
# letter is not one).  With --hash, instead the hash of their contents,
# which apply.sh and export.sh record to tell whether branch "series" and
# patches/ agree: both must compute it the same way, so only this does.
set -euo pipefail

if [ "${1:-}" = --hash ]; then
	shift
	"$0" "$@" | xargs -r -d '\n' cat | sha1sum | cut -d' ' -f1
	exit
fi
pdir=${1:?usage: series-patches.sh [--hash] PATCHDIR}
shopt -s nullglob
for p in "$pdir"/[0-9][0-9][0-9][0-9]-*.patch; do
	case $p in */0000-cover-letter.patch) continue ;; esac
	echo "$p"
done
