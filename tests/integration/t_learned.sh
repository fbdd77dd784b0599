#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Learned `allow host` addresses end in the kernel at TTL + grace, whether
# hushd runs or not (issue 11): the policy maps carry the expiry against the
# boot clock, and neither the destination cache nor a dead hushd extends it.
#   - hushd running: an address re-resolved before its TTL ends stays
#     allowed past the first answer's TTL + grace (hushd puts the new expiry
#     in force before the old one lapses), and ends after the new one;
#   - hushd killed (SIGKILL, enforcement pinned): the learned address passes
#     until TTL + grace, then connect() gets EPERM and the kernel counts a
#     connect4 deny (`hush status --json`, read from the pinned maps);
#   - an explicit rule less specific than the learned /32 still decides once
#     the address expired (here: a /24 allowing another port);
#   - `hush status` reports the BPF LSM layer as unavailable, with a reason.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init learned
h_require_hush
h_require_tools dnsmasq jq
DNSQ=$OUTPUT/tests/dnsq
[ -x "$DNSQ" ] || h_skip_or_fail "$H_NAME" "$DNSQ not built (make all)"
h_netns_up
cg=$(h_cgroup_create enf/enforced)
ecg=$H_CG_ROOT/enf
H_PROBE_CG=$cg
APP4=$H_INT4_B
TTL=6
GRACE=1

h_bg --out "$H_TMP/dnsmasq.out" --err "$H_TMP/dnsmasq.err" --ns "$H_NS_INT" -- \
	dnsmasq --keep-in-foreground --no-daemon --no-resolv --no-hosts --no-poll \
	--bind-interfaces --listen-address="$H_INT4" --except-interface=lo --port=53 \
	--cache-size=0 --local-ttl=$TTL --pid-file="$H_TMP/dnsmasq.pid" --user=root \
	--group=root --host-record="app.learn.test,$APP4" --log-queries --log-facility=-
for _ in $(seq 1 100); do
	h_ns "$H_NS_HOST" "$DNSQ" --timeout-ms 200 "$H_INT4" app.learn.test >/dev/null 2>&1 && break
	sleep 0.05
done

policy=$(h_policy learned.policy <<EOF
mode enforce
resolver $H_INT4
allow ${APP4%.*}.0/24 tcp 8081
allow dns app.learn.test
allow host app.learn.test tcp 8080
EOF
)
h_listen "$H_NS_INT" tcp :: 8080
h_listen "$H_NS_INT" tcp :: 8081

deny_count() {
	h_hush status --json 2>/dev/null | jq -r '.counters.connect4.deny // empty'
}

h_hushd_start "$policy" "$ecg" --dns-grace $GRACE || h_done

# No BPF LSM layer here: AF_PACKET/AF_XDP are not refused; status says so.
lsm=$(h_hush status --json 2>/dev/null | jq -c '.layers[] | select(.name == "lsm")')
if printf '%s\n' "$lsm" | jq -e '.active == false and (.reason | startswith("unavailable: "))' \
	>/dev/null 2>&1; then
	h_pass "status: the lsm layer is $(printf '%s\n' "$lsm" | jq -r .reason)"
else
	h_fail "status: the lsm layer is unavailable, with a reason" "$lsm"
fi

# ---- hushd running: a second answer keeps the address past the first ----
h_expect_probe "before resolution: denied" error EPERM -- connect "$APP4" 8080
h_resolve "resolve app.learn.test" "$cg" "$H_INT4" app.learn.test "$APP4"
t0=$H_RESOLVED_MS
h_expect_probe "learned: allowed" ok - -- connect "$APP4" 8080
# The second answer (t0 + 3 s) ends at t0 + 10 s, and hushd drops it up to
# 1 s (the grace) earlier; the first ends in the kernel at t0 + 7 s unless
# hushd put the second's expiry in force: look in between.
h_until_ms $((t0 + 3000))
h_resolve "resolve again before the TTL ends" "$cg" "$H_INT4" app.learn.test "$APP4"
h_until_ms $((t0 + (TTL + GRACE) * 1000 + 1000))
h_expect_probe "past the first answer's TTL + grace: still allowed (re-resolved)" ok - -- \
	connect "$APP4" 8080
h_until_ms $((H_RESOLVED_MS + (TTL + GRACE) * 1000 + 1500))
h_expect_probe "past the second answer's TTL + grace: denied" error EPERM -- connect "$APP4" 8080

# ---- hushd killed: the kernel ends the address by itself ----
h_resolve "resolve with hushd running" "$cg" "$H_INT4" app.learn.test "$APP4"
t1=$H_RESOLVED_MS
h_expect_probe "learned again: allowed" ok - -- connect "$APP4" 8080
h_stop "$H_HUSHD_PID" KILL
h_hush status >/dev/null 2>&1
rc=$?
if [ "$rc" = 3 ]; then
	h_pass "hushd killed: enforcement pinned, hushd not running (status 3)"
else
	h_fail "hushd killed: enforcement pinned, hushd not running (status 3)" \
		"exit $rc: $(h_hush status 2>&1 | head -n 5 | tr '\n' ' ')"
fi
h_expect_probe "hushd dead, before TTL + grace: still allowed" ok - -- connect "$APP4" 8080
d0=$(deny_count)
h_until_ms $((t1 + (TTL + GRACE) * 1000 + 1000))
h_expect_probe "hushd dead, after TTL + grace: denied" error EPERM -- connect "$APP4" 8080
d1=$(deny_count)
if [ -n "$d0" ] && [ -n "$d1" ] && [ "$d1" -gt "$d0" ]; then
	h_pass "hushd dead: the kernel counted the deny (connect4 deny $d0 -> $d1)"
else
	h_fail "hushd dead: the kernel counted the deny" "connect4 deny '$d0' -> '$d1'"
fi
h_expect_probe "hushd dead, expired: the /24 rule still allows tcp 8081" ok - -- \
	connect "$APP4" 8081
h_expect_probe "hushd dead, expired: other ports denied" error EPERM -- connect "$APP4" 8082

h_done
