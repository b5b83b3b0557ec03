#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Pack the guest initramfs: busybox, bash, GNU timeout (busybox's lacks
# --foreground, which the kselftest runner uses), the kernel modules, the
# selftests with the shared libraries they link, tests.list and /init.
set -euo pipefail

src=${1:?usage: mkinitramfs.sh SRC BUILD LIST INIT}
build=$(realpath "${2:?}")
list=$(realpath "${3:?}")
init=$(realpath "${4:?}")
root=$build/initramfs
rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,dev,proc,sys,tmp,tests,root}

cp /bin/busybox "$root/bin/busybox"
for a in $("$root/bin/busybox" --list); do
	[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
done
rm -f "$root/bin/bash" "$root/bin/sh" "$root/usr/bin/timeout"
cp /bin/bash "$root/bin/bash"
ln -s bash "$root/bin/sh"
cp /usr/bin/timeout "$root/usr/bin/timeout"

make -s -C "$src" O="$build" ARCH=x86_64 INSTALL_MOD_PATH="$root" \
	INSTALL_MOD_STRIP=1 modules_install >/dev/null

# Only the programs build-tests.sh built for this list: nothing stale.
for b in $(cat "$build/kselftest/mm/.programs"); do
	[ -x "$build/kselftest/mm/$b" ] && cp "$build/kselftest/mm/$b" "$root/tests/"
done
cp "$list" "$root/tests/tests.list"
install -m 0755 "$init" "$root/init"

# Shared libraries of every ELF executable, at their host paths.
find "$root" -type f -perm -u+x | while read -r f; do
	file -b "$f" 2>/dev/null | grep -q '^ELF.*dynamic' || continue
	ldd "$f" 2>/dev/null | grep -oE '/[^ ]+' || true
done | sort -u | while read -r lib; do
	[ -e "$root$lib" ] && continue
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$build/initramfs.cpio.gz.new"
mv "$build/initramfs.cpio.gz.new" "$build/initramfs.cpio.gz"
echo "initramfs: $build/initramfs.cpio.gz ($(du -h "$build/initramfs.cpio.gz" | cut -f1))"
