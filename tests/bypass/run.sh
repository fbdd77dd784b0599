#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The bypass suite (issue 11): every way out of a policy in cases.tsv, each
# tried in four cells, {root, uid 65534} x {`hush run`, hushd enforcing a test
# cgroup}, under one policy (allow $H_INT4 tcp 8080, nothing else).
#
# Ground truth is what the forbidden host's namespace received, not what the
# syscall returned: nft counters there, read before and after each cell.
#   - table inet bypass, hook input: every packet delivered to forb, by
#     protocol (neighbour discovery and MLD excepted: the kernel's, not ours);
#   - table netdev bypass, ingress of forb's veth: frames of the probe's
#     ethertype (AF_PACKET, AF_XDP) and loopback-addressed packets, which
#     forb's stack drops before its input hook.
# A cell "holds" if no counter moved, is "open" if one did.  Each cell is a
# PASS when that matches the table's expectation, a FAIL either way when not.
#
# Layout: hushd enforces box; `hush run` is started from run (its cgroup is
# made below it); both are root-owned, as hushd and hush run require of the
# parents of what they enforce.  deleg and deleg/free belong to the
# unprivileged user (a delegated subtree beside them); sibling is a
# root-owned test cgroup standing in for the cgroup2 root, which is never
# touched.
# shellcheck disable=SC2016,SC2034 # sh -c scripts expand in the command, not here;
# the variables cases.tsv names are read through eval
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
CASES=${BYPASS_CASES:-$(cd "$(dirname "$0")" && pwd)/cases.tsv}

h_init bypass
h_require_hush
h_require_tools nft setpriv
[ -x "$OUTPUT/tests/bypass_probe" ] ||
	h_skip_or_fail "$H_NAME" "$OUTPUT/tests/bypass_probe not built"
[ -r "$CASES" ] || h_skip_or_fail "$H_NAME" "no table $CASES"
h_netns_up
started=$(h_now_ms)

UNPRIV=65534
SETPRIV=(setpriv "--reuid=$UNPRIV" "--regid=$UNPRIV" --clear-groups --)
ENTER='echo $$ > "$1/cgroup.procs" && shift && exec "$@"'

# What the cells name (see cases.tsv).
FORB4=$H_FORB4 FORB6=$H_FORB6 INT4=$H_INT4 HOSTF4=$H_HOST4_F
# Where the unprivileged user can read (BIN) and write (PUB).
chmod 755 "$H_TMP"
BIN=$H_TMP/bin PUB=$H_TMP/pub
mkdir -p "$BIN" "$PUB" && chmod 755 "$BIN" && chmod 1777 "$PUB"
P=$BIN/bypass_probe
cp "$OUTPUT/tests/bypass_probe" "$P" && chmod 755 "$P"
HUSHCLI=("$HUSH" --pin-dir "$H_PIN_DIR" --run-dir "$H_RUN_DIR")

CG_DELEG=$(h_cgroup_create deleg)
CG_BOX=$(h_cgroup_create box)
CG_RUN=$(h_cgroup_create run)
CG_FREE=$(h_cgroup_create deleg/free)
CG_SIBLING=$(h_cgroup_create sibling)
chown "$UNPRIV" "$CG_DELEG" "$CG_DELEG/cgroup.procs" "$CG_DELEG/cgroup.threads" \
	"$CG_DELEG/cgroup.subtree_control" "$CG_FREE" "$CG_FREE/cgroup.procs" \
	"$CG_FREE/cgroup.threads" || {
	h_fail "setup" "cannot delegate $CG_DELEG to uid $UNPRIV"
	h_done
}

POLICY=$(h_policy base.policy <<EOF
mode enforce
allow $H_INT4 tcp 8080
EOF
)
cat >"$PUB/open.policy" <<EOF
mode enforce
allow 0.0.0.0/0
allow ::/0
EOF

# Cells that need more than one probe: small scripts, run as the cell's user.
# Each step may fail (unprivileged); the send is tried regardless.
cat >"$BIN/vxlan.sh" <<EOF
#!/bin/sh
# A vxlan device whose remote is forb; the allowed address routed into it.
ip link add vxb type vxlan id 42 remote $H_FORB4 dstport 4789 dev v-forb
ip link set vxb up
ip route replace $H_INT4/32 dev vxb
exec $P tcp $H_INT4 8080
EOF
cat >"$BIN/dnat.sh" <<EOF
#!/bin/sh
# connect() names int (allowed); nat output sends it to forb; the local port
# is a listener's, so the backstop takes the packets for replies.
nft -f - <<NFT
table ip bpx {
	chain out {
		type nat hook output priority -100;
		ip daddr $H_INT4 tcp dport 8080 dnat to $H_FORB4:80
	}
}
NFT
exec $P reuseport 9091 $H_INT4 8080
EOF
cat >"$BIN/disable.sh" <<EOF
#!/bin/sh
${HUSHCLI[*]} disable
exec $P udp $H_FORB4 9
EOF
cat >"$BIN/apply.sh" <<EOF
#!/bin/sh
${HUSHCLI[*]} policy apply $PUB/open.policy
exec $P udp $H_FORB4 9
EOF
chmod 755 "$BIN"/*.sh

# ---- the forbidden host's ground truth ----
if ! h_ns "$H_NS_FORB" nft -f - <<'EOF'; then
table inet bypass {
	chain input {
		type filter hook input priority -400; policy accept;
		icmpv6 type { nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert, nd-redirect, mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report } accept
		meta l4proto tcp counter accept comment "tcp"
		meta l4proto udp counter accept comment "udp"
		meta l4proto udplite counter accept comment "udplite"
		meta l4proto icmp counter accept comment "icmp"
		meta l4proto ipv6-icmp counter accept comment "icmpv6"
		counter comment "other"
	}
}
table netdev bypass {
	chain ingress {
		type filter hook ingress device "v-host" priority -500; policy accept;
		ether type 0x88b5 counter comment "frame"
		ip daddr 127.0.0.0/8 counter comment "lo4"
		ip6 daddr ::1 counter comment "lo6"
	}
}
EOF
	h_fail "setup" "cannot load the counters into $H_NS_FORB"
	h_done
fi

# counters: "name packets" per counter of forb's tables.
counters() {
	h_ns "$H_NS_FORB" nft list ruleset 2>/dev/null | awk '/counter packets/ {
		n = 0; c = "?"
		for (i = 1; i <= NF; i++) {
			if ($i == "packets") n = $(i + 1)
			if ($i == "comment") { c = $(i + 1); gsub(/"/, "", c) }
		}
		print c, n }'
}

# reached BEFORE AFTER: total packets between two counters() and which.
reached() {
	awk 'NR == FNR { b[$1] = $2; next }
		{ d = $2 - b[$1]; if (d > 0) { t += d; w = w sep $1 " " d; sep = ", " } }
		END { if (t) printf "%d packets (%s)\n", t, w; else print "0" }' \
		<(printf '%s\n' "$1") <(printf '%s\n' "$2")
}

# Traffic peers: forb answers TCP on 80, int listens on the allowed port.
h_listen "$H_NS_FORB" tcp :: 80
h_listen "$H_NS_INT" tcp :: 8080

# Helpers outside the policy: a socket server, a socket holder per user.
h_bg --out "$PUB/fdserver.out" -- "$P" fd-server "$PUB/fd.sock"
h_bg -- "$P" fd-holder "$PUB/holder.root"
h_bg -- "${SETPRIV[@]}" "$P" fd-holder "$PUB/holder.user"
for f in fd.sock holder.root holder.user; do
	h_wait_for_file "$PUB/$f" 5 || {
		h_fail "setup" "helper did not make $PUB/$f"
		h_done
	}
done

h_hushd_start "$POLICY" "$CG_BOX" || h_done

# restore_hushd: a fresh hushd after a cell that switched it off.
restore_hushd() {
	h_alive "$H_HUSHD_PID" && h_stop "$H_HUSHD_PID"
	h_hush disable >/dev/null 2>&1
	h_hushd_start "$POLICY" "$CG_BOX" || h_done
}

# cell_run USER MODE WRAP PROBE: one cell's command (see cases.tsv), its
# output in $H_TMP/cell.{out,err}.
cell_run() {
	local user=$1 mode=$2 wrap=() inner=() as=()
	read -r HOLDER_PID HOLDER_FD <"$PUB/holder.$user"
	if [ "$mode" = run ]; then KILL_TARGET=ppid; else KILL_TARGET=$H_HUSHD_PID; fi
	[ "$3" != - ] && eval "wrap=($3)"
	eval "inner=($4)"
	[ "$user" = user ] && as=("${SETPRIV[@]}")
	if [ "$mode" = run ]; then
		set -- sh -c "$ENTER" _ "$CG_RUN" "${wrap[@]}" "${HUSHCLI[@]}" run --quiet --policy "$POLICY" \
			-- "${as[@]}" "${inner[@]}"
	else
		set -- sh -c "$ENTER" _ "$H_CG_AUX" "${wrap[@]}" sh -c "$ENTER" _ "$CG_BOX" \
			"${as[@]}" "${inner[@]}"
	fi
	timeout -k 2 15 nsenter "--net=/run/netns/$H_NS_HOST" -- "$@" \
		>"$H_TMP/cell.out" 2>"$H_TMP/cell.err" </dev/null
}

# serve_cell USER MODE: a server in the policy; forb connects to it.
serve_cell() {
	local ready=$PUB/serve.ready pid
	rm -f "$ready"
	cell_run "$1" "$2" - "\$P serve-once 9090 $ready" &
	pid=$!
	if h_wait_for_file "$ready" 5; then
		h_ns "$H_NS_FORB" "$NETPROBE" connect "$H_HOST4_F" 9090 --timeout-ms 1000 \
			>/dev/null 2>&1
	fi
	wait "$pid"
}

# cell_before CASE: what a case needs beyond the common setup.
cell_before() {
	case $1 in
	bindtodevice-* | unicastif-*)
		# A next hop, as on any host with a default route: forb, inside
		# the test network (removed after the cell).
		ip -n "$H_NS_HOST" route add default via "$H_FORB4" dev v-forb &&
			ip -n "$H_NS_HOST" -6 route add default via "$H_FORB6" dev v-forb ;;
	esac
	return 0
}

# cell_settle: every process of the cell is gone (a probe whose `hush run`
# was killed runs on), so its packets are counted for its own cell.
cell_settle() {
	local cg i
	for cg in "$CG_RUN" "$CG_BOX" "$CG_FREE" "$CG_SIBLING"; do
		for i in $(seq 1 60); do
			grep -q '^populated 0' "$cg/cgroup.events" 2>/dev/null && break
			sleep 0.05
		done
	done
	: "$i"
	sleep 0.1
}

# cell_after CASE USER MODE: undo what a cell may have changed.
cell_after() {
	case $1 in
	bindtodevice-* | unicastif-*)
		ip -n "$H_NS_HOST" route del default 2>/dev/null
		ip -n "$H_NS_HOST" -6 route del default 2>/dev/null ;;
	vxlan) ip -n "$H_NS_HOST" link del vxb 2>/dev/null ;;
	dnat-reply-port) h_ns "$H_NS_HOST" nft delete table ip bpx 2>/dev/null ;;
	kill-hush | detach-links)
		if [ "$3" = hushd ] && { [ "$2" = root ] || ! h_alive "$H_HUSHD_PID"; }; then
			restore_hushd
		fi ;;
	hush-disable | policy-apply)
		# Root under `hush run` is outside hushd's cgroup: its disable or
		# apply reaches hushd (and must not carry over to the next cell).
		if [ "$2" = root ] || ! h_alive "$H_HUSHD_PID"; then
			restore_hushd
		fi ;;
	esac
	return 0
}

# ---- the cells ----
cells=0
while IFS=$'\t' read -r name e_rr e_rh e_ur e_uh wrap probe note; do
	case $name in '' | '#'*) continue ;; esac
	for cell in "root run $e_rr" "root hushd $e_rh" "user run $e_ur" "user hushd $e_uh"; do
		read -r user mode want <<<"$cell"
		label="$name $user $mode"
		if [ "$want" != holds ] && [ "$want" != open ]; then
			h_fail "$label" "cases.tsv: expected outcome '$want' is neither holds nor open"
			continue
		fi
		cell_before "$name"
		before=$(counters)
		if [ "$probe" = @serve ]; then
			serve_cell "$user" "$mode"
		else
			cell_run "$user" "$mode" "$wrap" "$probe"
		fi
		rc=$?
		cell_settle
		got=$(reached "$before" "$(counters)")
		if [ "$got" = 0 ]; then measured=holds; else measured=open; fi
		saw=$(grep '^{' "$H_TMP/cell.out" | tail -n 1)
		[ -n "$saw" ] || saw="exit $rc: $(tail -n 1 "$H_TMP/cell.err")"
		if [ "$measured" = "$want" ]; then
			h_pass "$label: $want (reached: $got; probe: $saw)"
		else
			h_fail "$label" "expected $want, measured $measured (reached: $got; probe: $saw; $note)"
		fi
		cells=$((cells + 1))
		cell_after "$name" "$user" "$mode"
	done
done <"$CASES"

h_log "$cells cells in $((($(h_now_ms) - started) / 1000)) s"
h_done
