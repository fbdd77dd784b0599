#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# A fresh Debian 12 root, to prove what a new machine sees (the README's two
# commands, and later the package and the offline bundle).
#
#   freshroot.sh make DIR [PKG...]   mmdebstrap a minbase root into DIR (which must
#                                    not exist) with PKGs, from this machine's own
#                                    apt sources and Acquire settings
#   freshroot.sh tar FILE [PKG...]   the same root as a tarball (an image to import)
#   freshroot.sh run DIR CMD...      run CMD as root in DIR: DIR pivoted to the root
#                                    of a private mount namespace, with /proc, /sys (cgroup2 and
#                                    bpffs included), /dev and a tmpfs /run, DIR
#                                    bind-mounted on itself so `ip netns` works;
#                                    a clean environment (HOME=/root, CI passed on)
#   freshroot.sh remove DIR          delete DIR (refuses a DIR that is not a root
#                                    this script made)
#
# Nothing is mounted outside the private mount namespace, so nothing needs
# unmounting afterwards, whatever happened inside.
set -euo pipefail

die() {
	echo "freshroot: $*" >&2
	exit 2
}

# The machine's own apt sources: deb822 files and sources.list, as they are.
apt_sources() {
	local f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources; do
		[ -s "$f" ] && grep -qE '^[[:space:]]*(deb|URIs:)' "$f" && echo "$f"
	done
	return 0
}

# apt settings that say how to reach those sources (proxies, date checks).
apt_opts() {
	local f
	for f in /etc/apt/apt.conf /etc/apt/apt.conf.d/*; do
		[ -f "$f" ] && grep -q '^[[:space:]]*Acquire' "$f" && echo "--aptopt=$f"
	done
	return 0
}

# mmdebstrap TARGET [PKG...]: a minbase bookworm into TARGET (a directory, or
# a file ending in .tar) from this machine's apt sources and settings.
debootstrap_minbase() {
	local target=$1 include
	shift
	command -v mmdebstrap >/dev/null || die "mmdebstrap is missing: apt-get install mmdebstrap"
	mapfile -t srcs < <(apt_sources)
	[ ${#srcs[@]} -gt 0 ] || die "no apt sources found in /etc/apt"
	mapfile -t opts < <(apt_opts)
	include=$(
		IFS=,
		echo "$*"
	)
	mmdebstrap --quiet --variant=minbase ${include:+--include="$include"} "${opts[@]}" \
		bookworm "$target" "${srcs[@]}" ||
		die "mmdebstrap into $target failed (see above)"
}

fr_make() {
	local dir=$1
	shift
	[ ! -e "$dir" ] || die "$dir exists: give a new directory"
	debootstrap_minbase "$dir" "$@"
	touch "$dir/.hush-freshroot"
}

fr_tar() {
	local file=$1
	shift
	case $file in *.tar) ;; *) die "$file: the tarball's name must end in .tar" ;; esac
	debootstrap_minbase "$file" "$@"
}

fr_run() {
	local dir=$1
	shift
	[ -f "$dir/.hush-freshroot" ] || die "$dir is not a root made by freshroot.sh make"
	dir=$(cd "$dir" && pwd)
	# The inner script gets the root and the command as arguments.
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare --mount --propagation private -- /bin/bash -euc '
		r=$1
		shift
		mount --bind "$r" "$r"
		mount -t proc proc "$r/proc"
		mount --rbind /sys "$r/sys"
		mount --rbind /dev "$r/dev"
		mount -t tmpfs -o mode=0755 tmpfs "$r/run"
		if ! grep -q " $r/sys/fs/bpf bpf " /proc/mounts; then
			mount -t bpf bpf "$r/sys/fs/bpf"
		fi
		# pivot_root, not chroot: the fresh root becomes the root of the
		# mount namespace, so whatever enters that namespace later with
		# setns (runc exec, nsenter --mount) lands in it, not in the host /.
		cd "$r"
		mkdir -p .old-root
		pivot_root . .old-root
		cd /
		umount -l /.old-root
		rmdir /.old-root
		exec /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			CI="${CI:-}" "$@"
	' freshroot "$dir" "$@"
}

fr_remove() {
	local dir=$1
	[ -d "$dir" ] || return 0
	[ -f "$dir/.hush-freshroot" ] || die "$dir is not a root made by freshroot.sh make: not removing"
	rm -rf --one-file-system "$dir"
}

[ $# -ge 2 ] || die "usage: freshroot.sh make DIR [PKG...] | tar FILE [PKG...] | run DIR CMD... | remove DIR"
[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap, chroot, mounts)"
verb=$1
shift
case $verb in
make) fr_make "$@" ;;
tar) fr_tar "$@" ;;
run) fr_run "$@" ;;
remove) fr_remove "$@" ;;
*) die "unknown verb $verb (make, tar, run, remove)" ;;
esac
