#!/bin/sh
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Install the named Debian packages that are missing; say what and why.
set -eu
missing=
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages:$missing (run as root, or: apt-get install$missing)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || { echo "deps: apt-get update failed" >&2; exit 1; }
# Packages installed for the build and the tests never start services: the
# container engines (docker.io, containerd) would otherwise start a host
# daemon that changes the root network namespace.  The tests start their own,
# in private namespaces.  policy-rc.d (exit 101: "action forbidden") says so to
# every maintainer script; one already there is left alone.
prc=/usr/sbin/policy-rc.d
ours=
if [ ! -e "$prc" ]; then
	printf '#!/bin/sh\n# hush deps.sh: no service starts during this install\nexit 101\n' >"$prc"
	chmod 0755 "$prc"
	ours=1
	trap 'rm -f "$prc"' EXIT
fi
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
	{ echo "deps: apt-get install$missing failed" >&2; exit 1; }
[ -z "$ours" ] || { rm -f "$prc" && trap - EXIT; }
