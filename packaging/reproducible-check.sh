#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# reproducible-check.sh [COMMIT]: build one commit (default HEAD) twice, in two
# clones at different paths (of different lengths), one after the other, with
# a different time zone, umask, locale and job count, and compare: hushd,
# hush, every BPF object and skeleton, the .deb and its -dbgsym must be
# byte-identical.  On a difference it says which files differ and keeps
# both trees (diffoscope, if installed, shows how).  `make reproducible-check`.
set -euo pipefail

die() {
	echo "reproducible-check: $*" >&2
	exit 1
}

cd "$(dirname "$0")/.."
src=$(pwd)
commit=$(git rev-parse --verify "${1:-HEAD}^{commit}") || die "not a commit: ${1:-HEAD}"
work=$(mktemp -d /var/tmp/hush-repro.XXXXXX)
a=$work/a
b=$work/build-two-in-a-longer/directory/name
keep=0
cleanup() { [ "$keep" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT

# build DIR TZ UMASK LANG JOBS
build() {
	local dir=$1
	mkdir -p "$(dirname "$dir")"
	git clone -q --no-local "$src" "$dir"
	git -C "$dir" checkout -q "$commit"
	echo "reproducible-check: building $commit in $dir (TZ=$2, umask $3, LANG=$4, -j$5)"
	(
		cd "$dir"
		umask "$3"
		export TZ=$2 LANG=$4 LC_ALL=$4
		make -j"$5" all >build.log 2>&1 && make deb >>build.log 2>&1
	) || {
		tail -n 30 "$dir/build.log" >&2
		die "the build in $dir failed (log: $dir/build.log)"
	}
}

# The artifacts, relative to a build directory.
artifacts() {
	(cd "$1" && ls .output/hushd .output/hush .output/bpf/*.bpf.o .output/*.skel.h \
		.output/deb/hush_*.deb .output/deb/hush-dbgsym_*.deb)
}

build "$a" UTC 022 C.UTF-8 2
sleep 2 # a later wall clock for the second build, whatever the machine's speed
build "$b" Pacific/Kiritimati 002 C 1

bad=0 n=0
while read -r f; do
	n=$((n + 1))
	if ! cmp -s "$a/$f" "$b/$f"; then
		echo "reproducible-check: DIFFERS: $f" >&2
		bad=1
	fi
done < <(artifacts "$a")
[ "$(artifacts "$a")" = "$(artifacts "$b")" ] || {
	echo "reproducible-check: the two builds made different sets of files" >&2
	bad=1
}
if [ "$bad" = 1 ]; then
	keep=1
	die "not reproducible; both trees kept in $work (diffoscope A B shows the difference)"
fi
echo "reproducible-check: $n artifacts byte-identical across two builds of $commit:"
(cd "$a" && sha256sum .output/hushd .output/hush .output/deb/hush_*.deb)
