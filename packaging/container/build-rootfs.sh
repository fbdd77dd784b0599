#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# build-rootfs.sh DEB OUT.tar: the root file system of the hushd image, a
# minbase Debian 12 (mmdebstrap, this machine's apt sources) with the .deb
# installed and apt's caches dropped.  No registry, no base image: import it.
#
#   docker import -c 'ENTRYPOINT ["/usr/sbin/hushd", "--foreground"]' \
#       -c 'CMD ["--policy", "/etc/hush/policy"]' OUT.tar hushd:VERSION
#
# (`make image` does both.)  The container runs privileged, in the host's PID
# and cgroup namespaces and network, with the host's /sys/fs/bpf and cgroup2
# mount: see packaging/README.md and packaging/kubernetes/.
set -euo pipefail

die() {
	echo "build-rootfs: $*" >&2
	exit 1
}
[ $# -eq 2 ] || die "usage: build-rootfs.sh DEB OUT.tar"
deb=$(realpath "$1") out=$2
cd "$(dirname "$0")/../.."
fr=$(pwd)/tests/lib/freshroot.sh
root=$(mktemp -d /var/tmp/hush-image.XXXXXX)
rmdir "$root"
trap '"$fr" remove "$root" >/dev/null 2>&1 || true' EXIT
"$fr" make "$root" >"$out.log" 2>&1 || { tail -n 20 "$out.log" >&2; die "mmdebstrap failed"; }
cp "$deb" "$root/tmp/"
# A private bpffs: the package's scripts never see the host's pins.
"$fr" run "$root" /bin/sh -c "mount -t bpf bpf /sys/fs/bpf &&
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends /tmp/$(basename "$deb") &&
	apt-get clean && rm -rf /var/lib/apt/lists/* /tmp/*.deb" >>"$out.log" 2>&1 ||
	{ tail -n 20 "$out.log" >&2; die "installing the package failed"; }
rm -f "$root/.hush-freshroot"
tar -C "$root" --numeric-owner --sort=name -cf "$out.tmp" . && mv "$out.tmp" "$out"
touch "$root/.hush-freshroot"
echo "build-rootfs: $out ($(du -h "$out" | cut -f1))"
