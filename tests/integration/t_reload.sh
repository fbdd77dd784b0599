#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Policy reloads: SIGHUP re-reads the policy file; `hush policy apply` loads
# a file through the control socket.  A policy that does not parse is
# rejected whole with file:line:col and the running policy stays in force.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"

h_init reload
h_require_hush
h_netns_up
cg=$(h_cgroup_create enforced)
H_PROBE_CG=$cg

for port in 8080 8081 8082 8083; do
	h_listen "$H_NS_INT" tcp :: "$port"
done

pfile=$H_TMP/hushd.policy
cat >"$pfile" <<EOF
mode enforce
allow $H_INT4 tcp 8080
EOF

h_hushd_start "$pfile" "$cg" || h_done

h_attempt "policy A: 8080 allowed" ok - - - - - - -- connect "$H_INT4" 8080
h_attempt "policy A: 8081 denied" error EPERM deny connect4 "$H_INT4" 8081 tcp \
	-- connect "$H_INT4" 8081

# ---- SIGHUP with a new file ----
cat >"$pfile" <<EOF
mode enforce
# policy B
allow $H_INT4 tcp 8081
EOF
kill -HUP "$H_HUSHD_PID"
# The reload is asynchronous to the signal: wait until 8081 connects.
deadline=$(($(h_now_ms) + 5000))
until h_probe -- connect "$H_INT4" 8081 && [ "$H_PROBE_RC" = 0 ]; do
	[ "$(h_now_ms)" -ge "$deadline" ] && break
	sleep 0.1
done
h_attempt "SIGHUP policy B: 8081 allowed" ok - - - - - - -- connect "$H_INT4" 8081
h_attempt "SIGHUP policy B: 8080 now denied" error EPERM deny connect4 "$H_INT4" 8080 tcp \
	--where '.rule == 0' -- connect "$H_INT4" 8080
if h_alive "$H_HUSHD_PID"; then
	h_pass "hushd survives SIGHUP"
else
	h_fail "hushd survives SIGHUP" "$(tail -n 3 "$H_HUSHD_ERR" | tr '\n' ' ')"
fi

# ---- hush policy check ----
good=$(h_policy good.policy <<EOF
# policy C
mode enforce
allow   $H_INT4   tcp   8083,8082
EOF
)
bad=$(h_policy bad.policy <<EOF
mode enforce
allow $H_INT4 tpc 8083
EOF
)
if h_hush policy check "$good" >"$H_TMP/check.out" 2>"$H_TMP/check.err"; then
	h_pass "policy check: good policy exits 0"
else
	h_fail "policy check: good policy exits 0" "$(cat "$H_TMP/check.err")"
fi
if grep -Eq "^allow $H_INT4(/32)? tcp (8082,8083|8082-8083)\$" "$H_TMP/check.out"; then
	h_pass "policy check: prints the normalized policy"
else
	h_fail "policy check: prints the normalized policy" "got: $(tr '\n' '|' <"$H_TMP/check.out")"
fi
h_hush policy check "$bad" >"$H_TMP/checkbad.out" 2>"$H_TMP/checkbad.err"
rc=$?
if [ "$rc" = 1 ] && grep -Eq "$bad:2:[0-9]+: " "$H_TMP/checkbad.err"; then
	h_pass "policy check: bad policy exits 1 with file:line:col"
else
	h_fail "policy check: bad policy exits 1 with file:line:col" "exit $rc: $(cat "$H_TMP/checkbad.err")"
fi

# ---- hush policy apply ----
if h_hush policy apply "$good" >"$H_TMP/apply.out" 2>&1; then
	h_pass "policy apply: good policy exits 0"
else
	h_fail "policy apply: good policy exits 0" "$(tail -n 3 "$H_TMP/apply.out" | tr '\n' ' ')"
fi
# apply returns once the policy is in force: no waiting here.
h_attempt "applied policy C: 8082 allowed at once" ok - - - - - - -- connect "$H_INT4" 8082
h_attempt "applied policy C: 8081 denied" error EPERM deny connect4 "$H_INT4" 8081 tcp \
	-- connect "$H_INT4" 8081
if h_hush policy show >"$H_TMP/show.out" 2>&1 && grep -q "8082" "$H_TMP/show.out"; then
	h_pass "policy show: the applied policy"
else
	h_fail "policy show: the applied policy" "$(tr '\n' '|' <"$H_TMP/show.out")"
fi

h_hush policy apply "$bad" >"$H_TMP/applybad.out" 2>"$H_TMP/applybad.err"
rc=$?
if [ "$rc" = 1 ] && grep -Eq "$bad:2:[0-9]+: " "$H_TMP/applybad.err"; then
	h_pass "policy apply: bad policy exits 1 with file:line:col"
else
	h_fail "policy apply: bad policy exits 1 with file:line:col" "exit $rc: $(cat "$H_TMP/applybad.err")"
fi
h_attempt "after bad apply: policy C still allows 8083" ok - - - - - - -- connect "$H_INT4" 8083
h_attempt "after bad apply: policy C still denies 8081" error EPERM deny connect4 "$H_INT4" 8081 tcp \
	-- connect "$H_INT4" 8081
if h_hush policy show >"$H_TMP/show2.out" 2>&1 && grep -q "8082" "$H_TMP/show2.out" &&
	! grep -q "tpc" "$H_TMP/show2.out"; then
	h_pass "after bad apply: policy show unchanged"
else
	h_fail "after bad apply: policy show unchanged" "$(tr '\n' '|' <"$H_TMP/show2.out")"
fi

# ---- SIGHUP with a broken file: the running policy stays ----
cp "$bad" "$pfile"
kill -HUP "$H_HUSHD_PID"
if h_wait_for_line "$H_HUSHD_ERR" "$pfile:2:[0-9]+: " 5; then
	h_pass "SIGHUP bad policy: hushd reports file:line:col"
else
	h_fail "SIGHUP bad policy: hushd reports file:line:col" "$(tail -n 3 "$H_HUSHD_ERR" | tr '\n' ' ')"
fi
h_attempt "SIGHUP bad policy: 8082 still allowed" ok - - - - - - -- connect "$H_INT4" 8082
h_attempt "SIGHUP bad policy: 8081 still denied" error EPERM deny connect4 "$H_INT4" 8081 tcp \
	-- connect "$H_INT4" 8081
if h_alive "$H_HUSHD_PID"; then
	h_pass "hushd survives a bad SIGHUP"
else
	h_fail "hushd survives a bad SIGHUP" "$(tail -n 3 "$H_HUSHD_ERR" | tr '\n' ' ')"
fi

h_done
