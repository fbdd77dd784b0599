# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# shellcheck shell=bash
# Helpers of the package tests (tests/pkg/t_*.sh), sourced after harness.sh.
#
# A fresh Debian 12 root per test (tests/lib/freshroot.sh), removed at exit.
# Every command in it runs with a bpffs of its own mounted on /sys/fs/bpf: a
# maintainer script there (prerm's `hush disable`) can never see the host's
# pins, only the test's.

SRC=${HUSH_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
FRESHROOT=$SRC/tests/lib/freshroot.sh
P_ROOT=

# p_init NAME: h_init, and the fresh root removed at exit too.
p_init() {
	h_init "$1"
	trap 'p_root_remove; h_cleanup' EXIT
	trap 'p_root_remove; h_cleanup; exit 130' INT
	trap 'p_root_remove; h_cleanup; exit 143' TERM
	command -v mmdebstrap >/dev/null || h_skip_or_fail "$H_NAME" "mmdebstrap is missing (make deps-test)"
}

# p_root_make: a fresh minbase root (from the machine's apt sources).
p_root_make() {
	P_ROOT=$(mktemp -d /var/tmp/hush-pkgtest.XXXXXX) && rmdir "$P_ROOT" || return 1
	"$FRESHROOT" make "$P_ROOT" >"$H_TMP/freshroot.log" 2>&1 || {
		h_fail "$H_NAME: fresh root" "$(tail -n 5 "$H_TMP/freshroot.log")"
		return 1
	}
}

p_root_remove() {
	[ -z "$P_ROOT" ] || "$FRESHROOT" remove "$P_ROOT" || true
	P_ROOT=
}

# p_run SCRIPT: shell commands (one string) run as root in the fresh root,
# with a private bpffs on /sys/fs/bpf.  Output as the commands print it.
p_run() {
	printf 'set -e\n%s\n' "$1" >"$P_ROOT/tmp/p_run.sh"
	"$FRESHROOT" run "$P_ROOT" /bin/sh -c 'mount -t bpf bpf /sys/fs/bpf && exec /bin/sh /tmp/p_run.sh'
}

# p_deb: the .deb `make deb` built (path), or fail.
p_deb() {
	local d
	d=$(find "$OUTPUT/deb" -maxdepth 1 -name 'hush_*.deb' 2>/dev/null | head -n 1)
	[ -n "$d" ] || h_skip_or_fail "$H_NAME" "no .deb in $OUTPUT/deb: run make deb first"
	echo "$d"
}
