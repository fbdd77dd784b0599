#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The package's units under a real systemd: a Debian 12 root with systemd
# (cached, see p_systemd_root) gets the .deb, and its /lib/systemd/systemd
# boots as PID 1 in private pid, mount, network, UTS, IPC and cgroup
# namespaces, inside a cgroup this test made (the cgroup namespace's root:
# systemd sees a pure cgroup2 tree whatever the host has), with a bpffs of its
# own.  Then:
#   - hushd.service and hush-dnsns.socket start (and stop, and start again);
#     hushd's connection starts one hush-dnsns@.service, as a dynamic user;
#   - `systemd-analyze security` of the running units says what
#     `--offline=true` says of the unit files (and <= 2.5);
#   - hushd enforces on a cgroup inside: a connect is refused and logged;
#   - the metrics file and the chain head are 0644 under UMask=0077, the log
#     0640 group hush;
#   - DNS from a process in a network namespace of its own (`unshare -n`) is
#     answered through the listener the helper opened there;
#   - the fleet example's hush-ship.service, as shipped, reads the log as a
#     dynamic user in group hush and ships the refused connect's row once,
#     across a restart too (exposure <= 2.5);
#   - `systemctl stop hushd`: the helper goes with hushd's connection; the
#     pinned enforcement stays (fail closed, by design: hushd.service says
#     so); `hush disable` then leaves no pin and no refusal.
# Nothing leaves the container's network namespace (its resolver, dnsmasq,
# listens on an address of its loopback).  The test's cgroup is killed and
# removed at exit, which ends systemd and everything below it; the mounts
# live in the container's mount namespace only.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=tests/pkg/lib.sh
. "$(dirname "$0")/lib.sh"

p_init systemd
# The container (in the test's cgroups) ends before its root is removed.
trap 'h_cleanup; p_root_remove' EXIT
trap 'h_cleanup; p_root_remove; exit 130' INT
trap 'h_cleanup; p_root_remove; exit 143' TERM
h_require_tools unshare nsenter systemd-analyze
deb=$(p_deb)
for t in dnsq netprobe; do
	[ -x "$OUTPUT/tests/$t" ] || h_skip_or_fail "$H_NAME" "$OUTPUT/tests/$t not built (make all)"
done
RES=10.99.0.1 # the container's resolver, on its lo
WEB=10.99.0.7

p_systemd_root || h_done
cp "$deb" "$P_ROOT/tmp/hush.deb"
cp "$OUTPUT/tests/dnsq" "$OUTPUT/tests/netprobe" "$P_ROOT/usr/local/bin/"
# shellcheck disable=SC2016 # expanded by sh
if ! unshare --mount --propagation private sh -c \
	'mount -t proc proc "$1/proc" && chroot "$1" dpkg -i /tmp/hush.deb' _ "$P_ROOT" >"$H_TMP/install.log" 2>&1; then
	h_fail "systemd: dpkg -i the .deb in the root" "$(tail -n 5 "$H_TMP/install.log")"
	h_done
fi
# The test's configuration: enforce on /sys/fs/cgroup/hushtest (made below,
# inside the container's cgroup), metrics for readers.
cat >"$P_ROOT/etc/hush/policy" <<EOF
mode enforce
resolver $RES
allow dns *.corp.test
EOF
echo 'HUSHD_OPTS="--cgroup /sys/fs/cgroup/hushtest --retain 90d --quiet --metrics-file /var/lib/hush/metrics.prom"' \
	>"$P_ROOT/etc/default/hush"
ln -sf /dev/null "$P_ROOT/etc/systemd/system/console-getty.service"
# The fleet example's shipper, as README "Shipping the log" installs it.
cp "$SRC/packaging/fleet/hush-ship.service" "$P_ROOT/etc/systemd/system/"

sd_boot || h_done
h_pass "systemd: /lib/systemd/systemd boots as PID 1 in the container ($(sd systemctl is-system-running 2>&1))"

# ---- the units start ----
if sd systemctl is-active -q hushd.service hush-dnsns.socket; then
	h_pass "systemd: hushd.service and hush-dnsns.socket active after boot (enabled by the package)"
else
	h_fail "systemd: hushd.service and hush-dnsns.socket active after boot" "$(sd_journal hushd.service)"
fi
if sd systemctl restart hushd.service && sd systemctl is-active -q hushd.service; then
	h_pass "systemd: systemctl restart hushd succeeds"
else
	h_fail "systemd: systemctl restart hushd succeeds" "$(sd_journal hushd.service)"
fi
helper=
for _ in $(seq 1 50); do
	helper=$(sd systemctl list-units --plain --no-legend --state=running 'hush-dnsns@*' | awk '{ print $1 }')
	[ -n "$helper" ] && break
	sleep 0.1
done
hpid=$(sd systemctl show -P MainPID "${helper:-none}" 2>/dev/null)
# stat_of PID FIELD: a field of /proc/PID/status in the container (first word).
stat_of() {
	sd sed -n "s/^$2:[[:space:]]*\([^[:space:]]*\).*/\1/p" "/proc/${1:-0}/status" 2>/dev/null
}
huid=$(stat_of "$hpid" Uid)
hcap=$(stat_of "$hpid" CapEff)
dcap=$(stat_of "$(sd systemctl show -P MainPID hushd.service)" CapEff)
# CAP_SYS_ADMIN is bit 21: the helper has it, hushd not.
if [ "$(echo "$helper" | wc -w)" = 1 ] && [ -n "$huid" ] && [ "$huid" != 0 ] &&
	[ -n "$hcap" ] && (((0x$hcap >> 21) & 1)) && [ -n "$dcap" ] && ! (((0x$dcap >> 21) & 1)); then
	h_pass "systemd: hushd's connection started $helper (uid $huid, CapEff $hcap); hushd without CAP_SYS_ADMIN (CapEff $dcap)"
else
	h_fail "systemd: one hush-dnsns@ instance for hushd, unprivileged, with CAP_SYS_ADMIN" \
		"units '$helper' uid '$huid' caps '$hcap', hushd caps '$dcap'; $(sd_journal 'hush-dnsns@*')"
fi

# ---- exposure: what runs is what the files say ----
for u in hushd.service:hushd.service hush-dnsns@.service:${helper:-none}; do
	file=${u%%:*} unit=${u#*:}
	cp "$SRC/packaging/$file" "$H_TMP/${unit}"
	off=$(systemd-analyze security --offline=true "$H_TMP/$unit" 2>&1 |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
	on=$(sd systemd-analyze security "$unit" 2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
	if [ -n "$on" ] && [ "$on" = "$off" ] && awk -v e="$on" 'BEGIN { exit !(e <= 2.5) }'; then
		h_pass "systemd: $unit exposure online $on = offline $off (<= 2.5)"
	else
		h_fail "systemd: $unit exposure online = offline <= 2.5" "online '$on', offline '$off'"
	fi
done

# ---- enforcement on a cgroup inside ----
sd ip addr add "$RES/32" dev lo
sd systemd-run -q --unit=hush-test-dns dnsmasq --keep-in-foreground --no-resolv --no-hosts \
	--bind-interfaces --listen-address="$RES" --port=53 --user=root --group=root \
	--host-record="web.corp.test,$WEB" --host-record="denied.test,10.99.0.8"
out=$(sd_in hushtest netprobe connect "$RES" 80)
if h_json_match <(echo "$out") '.result == "error" and .errno == "EPERM"' >/dev/null; then
	h_pass "systemd: a connect from the enforced cgroup is refused (EPERM)"
else
	h_fail "systemd: a connect from the enforced cgroup is refused" "got '$out'; $(sd_journal hushd.service)"
fi
row=
for _ in $(seq 1 30); do
	sd hush log --db /var/lib/hush/hush.db --json >"$H_TMP/log.json" 2>&1
	row=$(h_json_match "$H_TMP/log.json" ".verdict == \"deny\" and .daddr == \"$RES\" and .dport == 80 and .comm == \"netprobe\"") && break
	sleep 0.1
done
if [ -n "$row" ]; then
	h_pass "systemd: the refusal is a row of the audit log"
else
	h_fail "systemd: the refusal is a row of the audit log" "$(tail -n 3 "$H_TMP/log.json")"
fi

# ---- the fleet example's shipper, sandboxed, as a reader of the log ----
# ship_count: how many of its lines carry the refused connect's row.
ship_count() {
	sd cat /var/log/hush-ship/ship.log 2>/dev/null | grep -c "comm=\"netprobe\".*dport=\"80\"\|dport=\"80\".*comm=\"netprobe\""
}
sd systemctl start hush-ship.service
n=0
for _ in $(seq 1 50); do
	n=$(ship_count)
	[ "$n" -ge 1 ] && break
	sleep 0.1
done
suser=$(sd systemctl show -P User hush-ship.service 2>/dev/null)
if [ "$n" = 1 ] && sd systemctl is-active -q hush-ship.service; then
	h_pass "systemd: hush-ship.service (DynamicUser, group hush, PrivateNetwork) ships the row as RFC 5424"
else
	h_fail "systemd: hush-ship.service ships the row" "lines: $n; $(sd cat /var/log/hush-ship/ship.log 2>&1 | tail -n 2) $(sd_journal hush-ship.service)"
fi
sd systemctl restart hush-ship.service
sd_in hushtest netprobe connect "$RES" 80 >/dev/null
for _ in $(seq 1 50); do
	n=$(ship_count)
	[ "$n" -ge 2 ] && break
	sleep 0.1
done
sleep 0.3
n=$(ship_count)
cur=$(sd cat /var/lib/hush-ship/cursor 2>/dev/null)
if [ "$n" = 2 ] && [ -n "$cur" ]; then
	h_pass "systemd: hush-ship restarted: the next row once, none twice (cursor $cur)"
else
	h_fail "systemd: hush-ship restarted: the next row once, none twice" "lines: $n, cursor '$cur'; $(sd_journal hush-ship.service)"
fi
cp "$SRC/packaging/fleet/hush-ship.service" "$H_TMP/hush-ship.service"
off=$(systemd-analyze security --offline=true "$H_TMP/hush-ship.service" 2>&1 |
	sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
on=$(sd systemd-analyze security hush-ship.service 2>&1 | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
if [ -n "$on" ] && [ -n "$off" ] && awk -v a="$on" -v b="$off" 'BEGIN { exit !(a <= 2.5 && b <= 2.5) }'; then
	h_pass "systemd: hush-ship.service exposure online $on, offline $off (<= 2.5; user ${suser:-dynamic})"
else
	h_fail "systemd: hush-ship.service exposure online and offline <= 2.5" "online '$on', offline '$off'"
fi
sd systemctl stop hush-ship.service

# ---- files for readers under UMask=0077 ----
for _ in $(seq 1 30); do
	sd test -e /var/lib/hush/metrics.prom && sd test -e /var/lib/hush/hush.db.head && break
	sleep 0.1
done
modes=$(sd stat -c '%n %a %G' /var/lib/hush/metrics.prom /var/lib/hush/hush.db.head /var/lib/hush/hush.db 2>&1 | tr '\n' ' ')
if [ "$modes" = "/var/lib/hush/metrics.prom 644 hush /var/lib/hush/hush.db.head 644 hush /var/lib/hush/hush.db 640 hush " ]; then
	h_pass "systemd: under UMask=0077 metrics and chain head are 0644, the log 0640 group hush"
else
	h_fail "systemd: modes of the files for readers under UMask=0077" "got '$modes'"
fi

# ---- DNS in another network namespace, through the helper ----
# shellcheck disable=SC2016 # expanded in the namespace
out=$(sd_in hushtest unshare -n sh -c 'ip link set lo up; for i in $(seq 1 30); do
	out=$(dnsq --timeout-ms 300 "$1" web.corp.test 2>/dev/null) && case $out in *\"rcode\"*) echo "$out"; exit 0 ;; esac
	sleep 0.1; done; echo "$out"; exit 1' _ "$RES" | tail -n 1)
if h_json_match <(echo "$out") ".rcode == 0 and .answers == [\"$WEB\"]" >/dev/null; then
	h_pass "systemd: DNS from an unshare -n namespace answered through the helper's listener"
else
	h_fail "systemd: DNS from an unshare -n namespace through the helper" "got '$out'; $(sd_journal hushd.service 'hush-dnsns@*')"
fi
if sd journalctl -q --no-pager -u hushd.service | grep -q 'serving network namespace net:\['; then
	h_pass "systemd: hushd says which namespace the helper's listeners serve"
else
	h_fail "systemd: hushd says which namespace it serves" "$(sd_journal hushd.service)"
fi

# ---- stop: the helper goes; the pins stay until hush disable ----
sd systemctl stop hushd.service
left=x
for _ in $(seq 1 50); do
	left=$(sd systemctl list-units --plain --no-legend --state=active,activating,deactivating 'hush-dnsns@*')
	[ -z "$left" ] && break
	sleep 0.1
done
if [ -z "$left" ] && ! sd systemctl is-active -q hushd.service; then
	h_pass "systemd: systemctl stop hushd: no helper instance left"
else
	h_fail "systemd: systemctl stop hushd: no helper instance left" "left: $left"
fi
out=$(sd_in hushtest netprobe connect "$RES" 80)
if sd test -d /sys/fs/bpf/hush/links && h_json_match <(echo "$out") '.errno == "EPERM"' >/dev/null; then
	h_pass "systemd: hushd stopped: the pinned enforcement stays (fail closed)"
else
	h_fail "systemd: hushd stopped: the pinned enforcement stays" "got '$out'"
fi
# (From a cgroup of the container: `hush disable` must see its own.)
sd_in admin hush disable >"$H_TMP/disable" 2>&1
out=$(sd_in hushtest netprobe connect "$RES" 80)
pins=$(sd sh -c 'ls -d /sys/fs/bpf/hush* 2>/dev/null')
if [ -z "$pins" ] && h_json_match <(echo "$out") '.errno == "ECONNREFUSED"' >/dev/null; then
	h_pass "systemd: hush disable: no pin, no link, nothing refused"
else
	h_fail "systemd: hush disable leaves no pin or link" "bpffs: '$pins', connect: '$out'; $(cat "$H_TMP/disable")"
fi
h_done
