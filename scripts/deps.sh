#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages the pipeline needs; as non-root, say which.
set -euo pipefail

pkgs=(build-essential flex bison bc cpio kmod file libelf-dev libssl-dev
      ccache git perl python3 python3-ply python3-git gzip xz-utils
      linux-source-6.12 busybox-static qemu-system-x86
      liburing-dev libnuma-dev libcap-dev)
[ -n "${KSRC:-}" ] && pkgs=("${pkgs[@]/linux-source-6.12/}")

missing=()
for p in "${pkgs[@]}"; do
	[ -n "$p" ] || continue
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages; as root run:" >&2
	echo "  apt-get install ${missing[*]}" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
