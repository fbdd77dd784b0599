#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# hushd under the confinement of packaging/hushd.service that can be had
# without systemd: the unit's CapabilityBoundingSet (read from the unit file),
# NoNewPrivileges and UMask.  It must start, enforce, report and log, and
# adopt its pins after SIGKILL, with no CAP_CHOWN and no CAP_SYS_ADMIN (its DNS
# namespace helper is hush-dnsns@.service under systemd: t_dnsns, t_systemd).  (The
# unit's mount and system-call sandbox needs systemd as PID 1: not here.)
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init unit
h_require_hush
h_require_tools setpriv
unit=${HUSH_SRC:-$(pwd)}/packaging/hushd.service
[ -r "$unit" ] || h_skip_or_fail "$H_NAME" "no $unit"
h_netns_up
cg=$(h_cgroup_create enforced)
H_PROBE_CG=$cg

caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit" | tr ' ' '\n' |
	sed -n 's/^CAP_\(.*\)/+\L\1/p' | paste -sd,)
umask_v=$(sed -n 's/^UMask=//p' "$unit")
nnp=
grep -qx 'NoNewPrivileges=yes' "$unit" && nnp=--no-new-privs
case $caps in
*chown* | "") h_fail "unit: bounding set" "unexpected: '$caps'" ;;
*) h_pass "unit: bounding set from hushd.service: $caps (no chown)" ;;
esac
real_hushd=$HUSHD
HUSHD=$H_TMP/hushd-unit
cat >"$HUSHD" <<EOT
#!/bin/sh
umask $umask_v
exec setpriv $nnp --bounding-set -all,$caps --inh-caps -all -- "$real_hushd" "\$@"
EOT
chmod +x "$HUSHD"

policy=$(h_policy unit.policy <<EOF2
allow $H_INT4 tcp 8080
EOF2
)
h_hushd_start "$policy" "$cg" --metrics-file "$H_TMP/hush.prom" || h_done
bnd=$(awk '/^CapBnd/ { print $2 }' "/proc/$H_HUSHD_PID/status")
eff=$(awk '/^CapEff/ { print $2 }' "/proc/$H_HUSHD_PID/status")
if [ $((0x$eff & (1 << 21))) = 0 ] && [ $((0x$bnd & (1 << 0))) = 0 ]; then
	h_pass "unit: hushd runs without CAP_SYS_ADMIN and without CAP_CHOWN"
else
	h_fail "unit: capabilities" "CapBnd $bnd CapEff $eff"
fi
h_attempt "unit: denied connect" error EPERM deny connect4 "$H_FORB4" 8080 tcp -- \
	connect "$H_FORB4" 8080 --timeout-ms 500
h_expect_probe "unit: allowed connect reaches the host (refused by it, not EPERM)" error ECONNREFUSED -- \
	connect "$H_INT4" 8080 --timeout-ms 2000
sleep 1.5
rows=$(h_hush log --db "$H_RUN_DIR/hush.db" --denied --json 2>/dev/null | grep -c "$H_FORB4")
if [ "$rows" -ge 1 ] && [ "$(stat -c %a "$H_TMP/hush.prom")" = 644 ] &&
	[ "$(stat -c %a "$H_RUN_DIR/hush.db")" = 640 ]; then
	h_pass "unit: the denial is in the audit log; metrics 0644, database 0640 under UMask $umask_v"
else
	h_fail "unit: log and file modes" "rows $rows, $(stat -c '%a %n' "$H_TMP/hush.prom" "$H_RUN_DIR/hush.db" | tr '\n' ' ')"
fi
# SIGKILL, then a new hushd under the same confinement adopts the pins.
kill -KILL "$H_HUSHD_PID"; wait "$H_HUSHD_PID" 2>/dev/null
h_stop "$H_HUSHD_PID" >/dev/null 2>&1
h_expect_probe "unit: still denied with hushd killed" error EPERM -- connect "$H_FORB4" 8080 --timeout-ms 500
h_hushd_start "$policy" "$cg" || h_done
if grep -qi "adopt" "$H_HUSHD_ERR"; then
	h_pass "unit: a restarted hushd adopts the pinned enforcement"
else
	h_fail "unit: restart adopts" "$(tail -n 3 "$H_HUSHD_ERR" | tr '\n' ' ')"
fi
h_attempt "unit: denied after restart" error EPERM deny connect4 "$H_FORB4" 8080 tcp -- \
	connect "$H_FORB4" 8080 --timeout-ms 500
h_done
