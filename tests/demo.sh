#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# `make demo` (as root): hush denying a forbidden host, inside private network
# namespaces made for the demo (nothing leaves this machine, nothing is
# attached outside a cgroup the demo creates), then everything is removed.
set -u
cd "$(dirname "$0")/.." || exit 2
OUTPUT=${OUTPUT:-$(pwd)/.output}

if [ -t 1 ]; then
	B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' D=$'\e[2m' N=$'\e[0m'
else
	B='' G='' R='' D='' N=''
fi
say() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
note() { printf '    %s%s%s\n' "$D" "$*" "$N"; }
die() {
	printf 'demo: %s\n' "$*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root: run make demo as root"
for f in "$OUTPUT/hushd" "$OUTPUT/hush" "$OUTPUT/tests/netprobe"; do
	[ -x "$f" ] || die "$f is not built: run make first"
done
for t in ip jq nsenter; do
	command -v "$t" >/dev/null || die "needs $t (make deps-test installs it)"
done

# shellcheck source=tests/lib/harness.sh
. tests/lib/harness.sh
h_init demo >/dev/null

say "Setting up a private test network (three network namespaces, no route out)"
h_netns_up
cat <<EOF
      host ($H_NS_HOST)           processes under test run here
        |-- v-int  $H_HOST4_I  <--->  internal  ($H_NS_INT)  $H_INT4
        '-- v-forb $H_HOST4_F  <--->  forbidden ($H_NS_FORB) $H_FORB4
EOF
note "no default route anywhere; the machine's own network is not connected"

h_listen "$H_NS_INT" tcp 0.0.0.0 8080
h_listen "$H_NS_FORB" tcp 0.0.0.0 8080
note "a TCP listener on port 8080 on both the internal and the forbidden host"

cg=$(h_cgroup_create service)
H_PROBE_CG=$cg
say "A fresh cgroup for the service under test: $cg"

show_probe() { # the probe's JSON, summarized
	local res err el
	res=$(h_json_get "$H_PROBE" .result "?")
	err=$(h_json_get "$H_PROBE" .errno "")
	el=$(h_json_get "$H_PROBE" .elapsed_us "?")
	if [ "$res" = ok ]; then
		printf '    %sconnected%s in %s us\n' "$G" "$N" "$el"
	else
		printf '    %sfailed: %s%s after %s us\n' "$R" "$err" "$N" "$el"
	fi
	note "$H_PROBE"
}

say "Before hush: the service can reach both hosts"
echo "    \$ netprobe connect $H_INT4 8080"
h_probe -- connect "$H_INT4" 8080
show_probe
echo "    \$ netprobe connect $H_FORB4 8080"
h_probe -- connect "$H_FORB4" 8080
show_probe

policy=$(h_policy demo.policy <<EOF
# allow the internal host's service port, nothing else
mode enforce
allow $H_INT4 tcp 8080
EOF
)
say "The policy"
sed 's/^/    /' "$policy"

say "Starting hushd on the service's cgroup"
echo "    \$ hushd --policy demo.policy --cgroup $cg --pin-dir $H_PIN_DIR --foreground"
h_hushd_start "$policy" "$cg" >/dev/null || {
	tail -n 5 "$H_HUSHD_ERR" >&2
	die "hushd did not start"
}
sed -n 's/^/    /; /ready:/p' "$H_HUSHD_ERR"

say "Allowed: connect to the internal host"
echo "    \$ netprobe connect $H_INT4 8080"
h_probe -- connect "$H_INT4" 8080
show_probe

say "Forbidden: connect to the forbidden host"
echo "    \$ netprobe connect $H_FORB4 8080"
h_probe -- connect "$H_FORB4" 8080
show_probe
note "EPERM comes from the cgroup/connect4 hook at once: no packet was sent"

say "hushd logged the attempt"
if event=$(h_wait_json "$H_HUSHD_OUT" ".verdict == \"deny\" and .tgid == ${H_PROBE_PID:-0}" 5); then
	printf '%s\n' "$event" | jq . | sed 's/^/    /'
else
	echo "    ${R}no event from hushd${N}"
fi

say "Cleaning up: hushd, cgroup, pinned programs, namespaces"
h_cleanup
note "done; nothing of the demo is left on this machine"
