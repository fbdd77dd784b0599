#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# build-deb.sh VERSION OUTDIR: hush_VERSION_ARCH.deb (and its -dbgsym,
# .buildinfo, .changes) into OUTDIR, built by dpkg-buildpackage from a copy
# of this source tree (tracked and new files, as they are now) with
# packaging/debian as debian/.  `make deb` calls it, then lintian.
#
# Reproducible: SOURCE_DATE_EPOCH is the commit's time (the changelog's date,
# hence every file's mtime in the .deb), the copy's file times are that too,
# and dpkg-buildflags maps the build directory away (-ffile-prefix-map).
set -euo pipefail

die() {
	echo "build-deb: $*" >&2
	exit 1
}

[ $# -eq 2 ] || die "usage: build-deb.sh VERSION OUTDIR"
version=$1 out=$2
cd "$(dirname "$0")/.."
src=$(pwd)
for t in dpkg-buildpackage dh; do
	command -v "$t" >/dev/null || die "$t is missing: make deps-pkg (or apt-get install dpkg-dev debhelper)"
done
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || stat -c %Y VERSION)
fi
export SOURCE_DATE_EPOCH
commit=$(git rev-parse HEAD 2>/dev/null || echo "unknown commit")

build=$out/build
stage=$build/hush-$version
rm -rf "$build"
mkdir -p "$stage"
# The files git knows or would know (not .output or other ignored files).
{
	if git rev-parse --git-dir >/dev/null 2>&1; then
		git ls-files -z --cached --others --exclude-standard
	else
		find . -path ./.output -prune -o -type f -print0
	fi
} | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	tar --null -T - -cf - | tar -xf - -C "$stage"
rm -rf "$stage/debian"
cp -r packaging/debian "$stage/debian"
{
	printf 'hush (%s) unstable; urgency=medium\n\n' "$version"
	printf '  * Built by make deb from commit %s.\n\n' "$commit"
	printf ' -- %s  %s\n' "$(sed -n 's/^Maintainer: //p' packaging/debian/control)" \
		"$(LC_ALL=C date -u -R -d "@$SOURCE_DATE_EPOCH")"
} >"$stage/debian/changelog"
find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

(cd "$stage" && dpkg-buildpackage -b --no-sign -j"$(nproc)") >"$build/build.log" 2>&1 || {
	tail -n 40 "$build/build.log" >&2
	die "dpkg-buildpackage failed (log: $build/build.log)"
}
rm -f "$out"/hush_*.deb "$out"/hush-dbgsym_*.deb "$out"/hush_*.buildinfo "$out"/hush_*.changes
mv "$build"/hush_*.deb "$build"/hush-dbgsym_*.deb "$build"/hush_*.buildinfo "$build"/hush_*.changes "$out"/
echo "$src: built $(cd "$out" && ls hush_*.deb)"
