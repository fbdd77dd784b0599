# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# shellcheck shell=bash disable=SC2034
# (SC2034: the H_* results set here are read by the tests that source this.)
#
# Integration test harness, sourced by tests/integration/t_*.sh (bash, set -u).
#
# Safety, by construction:
#   - Everything that sends runs in private network namespaces made here:
#     $H_NS_HOST (the processes under test), $H_NS_INT (an "internal" host)
#     and $H_NS_FORB (a "forbidden" host), joined by veth pairs that exist
#     only between those namespaces.  No veth or route reaches the root
#     namespace; no namespace has a default route.
#   - cgroups are created under $CG2/hush-test.<id> only (CG2 is found in
#     /proc/mounts), and only they are ever killed or removed.  Nothing is
#     attached to the cgroup2 root; HUSH_FORBID_ROOT=1 makes hushd/hush refuse
#     to as well.
#   - Processes are started with h_bg (remembered by pid, placed in a test
#     cgroup) and killed by pid or by cgroup.kill of our own cgroups.
#   - h_cleanup runs on EXIT/INT/TERM and is idempotent.
#
# Processes enter a namespace with nsenter(1), not `ip netns exec`: the latter
# remounts /sys in a private mount namespace, which hides the cgroup2 mount and
# /sys/fs/bpf from the command.
#
# Output follows tests/run.sh: one "PASS: name", "FAIL: name: why" or
# "SKIP: name: why" line per case.  With CI=true a missing prerequisite is a
# FAIL, not a SKIP.

OUTPUT=${OUTPUT:-$(pwd)/.output}
HUSH=$OUTPUT/hush
HUSHD=$OUTPUT/hushd
NETPROBE=$OUTPUT/tests/netprobe
HUSH_FORBID_ROOT=1
export OUTPUT HUSH HUSHD NETPROBE HUSH_FORBID_ROOT

# Addresses (198.18.0.0/15 is reserved for benchmarking; fd00::/8 is ULA).
H_HOST4_I=198.18.1.1 # host side of host<->int
H_INT4=198.18.1.2
H_INT4_B=198.18.1.3 # a second internal address (carve-out tests)
H_HOST4_F=198.18.2.1
H_FORB4=198.18.2.2
H_HOST6_I=fd00:1::1
H_INT6=fd00:1::2
H_INT6_B=fd00:1::3
H_HOST6_F=fd00:2::1
H_FORB6=fd00:2::2
export H_HOST4_I H_INT4 H_INT4_B H_HOST4_F H_FORB4 H_HOST6_I H_INT6 H_INT6_B H_HOST6_F H_FORB6

# "At once": an EPERM from a socket hook comes back well under this.
H_AT_ONCE_US=${H_AT_ONCE_US:-50000}

H_NAME=${H_NAME:-}
H_ID=
H_PIDS=()
H_NETNS=()
H_NPASS=0
H_NFAIL=0

# ---- reporting ----

h_pass() {
	echo "PASS: $1"
	H_NPASS=$((H_NPASS + 1))
}

# h_fail NAME WHY
h_fail() {
	local why=${2:-failed}
	echo "FAIL: $1: ${why//$'\n'/ }"
	H_NFAIL=$((H_NFAIL + 1))
}

h_log() {
	echo "# $*"
}

# h_skip_or_fail NAME WHY: a missing prerequisite ends the test; a SKIP on a
# developer machine, a FAIL in CI.
h_skip_or_fail() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $1: $2 (CI=true: prerequisites are mandatory)"
	else
		echo "SKIP: $1: $2"
	fi
	exit 0
}

# h_done: end of a test; exit status says whether any case failed.
h_done() {
	h_log "$H_NAME: $H_NPASS passed, $H_NFAIL failed"
	[ "$H_NFAIL" -eq 0 ] && exit 0
	exit 1
}

# ---- prerequisites ----

h_require_root() {
	[ "$(id -u)" = 0 ] || h_skip_or_fail "$H_NAME" "needs root"
}

h_require_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || h_skip_or_fail "$H_NAME" "needs $t"
	done
}

h_require_netprobe() {
	[ -x "$NETPROBE" ] ||
		h_skip_or_fail "$H_NAME" "$NETPROBE not built (make $NETPROBE)"
}

h_require_hush() {
	h_require_netprobe
	[ -x "$HUSHD" ] || h_skip_or_fail "$H_NAME" "$HUSHD not built"
	[ -x "$HUSH" ] || h_skip_or_fail "$H_NAME" "$HUSH not built"
}

# The cgroup2 mount point, from /proc/mounts (hybrid hosts mount it at
# /sys/fs/cgroup/unified, pure v2 hosts at /sys/fs/cgroup).
h_cg2_mount() {
	awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts
}

# ---- setup ----

# h_init NAME: ids, temp dir, traps, basic prerequisites.
h_init() {
	H_NAME=$1
	H_ID=$(printf '%s' "$$-$H_NAME-$(date +%s%N)" | sha1sum | cut -c1-6)
	H_NS_HOST=hh-$H_ID
	H_NS_INT=hi-$H_ID
	H_NS_FORB=hf-$H_ID
	export H_NS_HOST H_NS_INT H_NS_FORB
	# bpffs refuses names with a '.' (EPERM): hush-test-<id>, not hush-test.<id>.
	H_PIN_DIR=/sys/fs/bpf/hush-test-$H_ID
	# Fresh state even in a subshell of another test's shell.
	H_PIDS=()
	H_NETNS=()
	H_NPASS=0
	H_NFAIL=0
	H_TMP=
	CG2=
	H_CG_ROOT=
	trap h_cleanup EXIT
	trap 'h_cleanup; exit 130' INT
	trap 'h_cleanup; exit 143' TERM

	h_require_root
	h_require_tools ip jq nsenter sysctl awk sha1sum timeout mktemp
	CG2=$(h_cg2_mount)
	[ -n "$CG2" ] || h_skip_or_fail "$H_NAME" "no cgroup2 mount in /proc/mounts"
	[ -e "$CG2/cgroup.procs" ] || h_skip_or_fail "$H_NAME" "$CG2 is not a cgroup2 mount"
	H_CG_ROOT=$CG2/hush-test.$H_ID
	H_CG_AUX=$H_CG_ROOT/aux
	export CG2 H_CG_ROOT H_ID
	H_TMP=$(mktemp -d "/tmp/hush-test.$H_ID.XXXXXX") ||
		h_skip_or_fail "$H_NAME" "mktemp failed"
	H_RUN_DIR=$H_TMP/run
	mkdir -p "$H_RUN_DIR"
	mkdir -p "$H_CG_AUX" || h_skip_or_fail "$H_NAME" "cannot create cgroup $H_CG_AUX"
	[ -e "$H_CG_ROOT/cgroup.kill" ] ||
		h_skip_or_fail "$H_NAME" "kernel lacks cgroup.kill (needs Linux >= 5.14)"
	h_log "$H_NAME: id $H_ID, cgroups under $H_CG_ROOT, tmp $H_TMP"
}

# h_sysctl NS KEY=VALUE...: set sysctls inside a test namespace.
h_sysctl() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- sysctl -q -w "$@" >/dev/null
}

# h_ns NS CMD...: run CMD in test namespace NS (mounts unchanged).
h_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

h_netns_add() {
	ip netns add "$1" || return 1
	H_NETNS+=("$1")
	h_sysctl "$1" net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 \
		net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.default.accept_ra=0 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 || return 1
	ip -n "$1" link set lo up
}

# h_netns_up: three namespaces and two veth pairs; see the addresses above.
h_netns_up() {
	local ns tries
	[ -d /proc/sys/net/ipv6 ] || h_skip_or_fail "$H_NAME" "kernel without IPv6"
	for ns in "$H_NS_HOST" "$H_NS_INT" "$H_NS_FORB"; do
		h_netns_add "$ns" || {
			h_fail "$H_NAME: setup" "cannot create namespace $ns"
			exit 1
		}
	done
	# Each pair is created inside the host namespace, its peer moved straight
	# into the other test namespace: the root namespace never holds either end.
	if ! { ip -n "$H_NS_HOST" link add v-int type veth peer name v-host netns "$H_NS_INT" &&
		ip -n "$H_NS_HOST" link add v-forb type veth peer name v-host netns "$H_NS_FORB" &&
		ip -n "$H_NS_HOST" addr add "$H_HOST4_I/24" dev v-int &&
		ip -n "$H_NS_HOST" addr add "$H_HOST4_F/24" dev v-forb &&
		ip -n "$H_NS_HOST" -6 addr add "$H_HOST6_I/64" dev v-int nodad &&
		ip -n "$H_NS_HOST" -6 addr add "$H_HOST6_F/64" dev v-forb nodad &&
		ip -n "$H_NS_INT" addr add "$H_INT4/24" dev v-host &&
		ip -n "$H_NS_INT" addr add "$H_INT4_B/24" dev v-host &&
		ip -n "$H_NS_INT" -6 addr add "$H_INT6/64" dev v-host nodad &&
		ip -n "$H_NS_INT" -6 addr add "$H_INT6_B/64" dev v-host nodad &&
		ip -n "$H_NS_FORB" addr add "$H_FORB4/24" dev v-host &&
		ip -n "$H_NS_FORB" -6 addr add "$H_FORB6/64" dev v-host nodad &&
		ip -n "$H_NS_HOST" link set v-int up &&
		ip -n "$H_NS_HOST" link set v-forb up &&
		ip -n "$H_NS_INT" link set v-host up &&
		ip -n "$H_NS_FORB" link set v-host up; }; then
		h_fail "$H_NAME: setup" "cannot set up veth pairs"
		exit 1
	fi
	# Ping sockets (SOCK_DGRAM/IPPROTO_ICMP) are refused unless the caller's
	# gid is in this per-namespace range (default "1 0": nobody).
	h_sysctl "$H_NS_HOST" net.ipv4.ping_group_range="0 2147483647"
	# Wait until no address is tentative (nodad/accept_dad=0 make it quick).
	for tries in $(seq 1 100); do
		if [ -z "$(ip -n "$H_NS_HOST" -6 addr show tentative)$(ip -n "$H_NS_INT" -6 addr show tentative)$(ip -n "$H_NS_FORB" -6 addr show tentative)" ]; then
			break
		fi
		sleep 0.05
	done
	: "$tries"
}

# h_enable_routing: what source-route / routing-header tests need, all of it
# inside the test namespaces: host and forb forward, forb routes back to int
# through host, the receivers accept IPv4 source routes and IPv6 segment
# routing headers.  A packet source-routed via forb then reaches int:
#   host --(ip daddr forb)--> forb --> host --> int
# The packet comes back to host with host's own source address, a "martian"
# unless v-forb has accept_local.
h_enable_routing() {
	h_sysctl "$H_NS_HOST" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
		net.ipv4.conf.all.accept_source_route=1 net.ipv4.conf.v-int.accept_source_route=1 \
		net.ipv4.conf.v-forb.accept_source_route=1 net.ipv4.conf.all.send_redirects=0 \
		net.ipv4.conf.v-forb.send_redirects=0 net.ipv4.conf.v-forb.accept_local=1 &&
		h_sysctl "$H_NS_FORB" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
			net.ipv4.conf.all.accept_source_route=1 \
			net.ipv4.conf.v-host.accept_source_route=1 \
			net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.v-host.send_redirects=0 \
			net.ipv6.conf.all.seg6_enabled=1 net.ipv6.conf.v-host.seg6_enabled=1 &&
		h_sysctl "$H_NS_INT" net.ipv4.conf.all.accept_source_route=1 \
			net.ipv4.conf.v-host.accept_source_route=1 \
			net.ipv6.conf.all.seg6_enabled=1 net.ipv6.conf.v-host.seg6_enabled=1 &&
		ip -n "$H_NS_FORB" route add 198.18.1.0/24 via "$H_HOST4_F" &&
		ip -n "$H_NS_FORB" -6 route add fd00:1::/64 via "$H_HOST6_F"
}

# h_cgroup_create NAME: $H_CG_ROOT/NAME (parents too); prints the path.
h_cgroup_create() {
	local cg=$H_CG_ROOT/$1
	mkdir -p "$cg" || return 1
	echo "$cg"
}

# h_pin_dir: a fresh bpffs directory for this test; prints the path.
h_pin_dir() {
	if ! awk '$2 == "/sys/fs/bpf" && $3 == "bpf" { f = 1 } END { exit !f }' /proc/mounts; then
		mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf || return 1
	fi
	mkdir -p "$H_PIN_DIR" || return 1
	echo "$H_PIN_DIR"
}

# h_run_dir: a fresh temporary directory (removed by h_cleanup); prints it.
h_run_dir() {
	mktemp -d "$H_TMP/dir.XXXXXX"
}

# The argv prefix that runs a command in the host namespace inside cgroup CG:
# the shell moves itself into CG, then execs, so the pid is the command's.
h_cg_prefix() {
	# shellcheck disable=SC2016
	H_PREFIX=(nsenter "--net=/run/netns/$H_NS_HOST" -- sh -c \
		'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' _ "$1")
}

# h_cgroup_run CG CMD...: run CMD (foreground) in the host netns, in cgroup CG.
h_cgroup_run() {
	local cg=$1
	shift
	h_cg_prefix "$cg"
	"${H_PREFIX[@]}" "$@"
}

# h_bg [--out F] [--err F] [--ns NS] [--cg CG] [--] CMD...
# Start CMD in the background in namespace NS (default the host namespace)
# and cgroup CG (default $H_CG_AUX, never enforced); remember its pid in
# H_PIDS and H_LAST_PID.  stdout/stderr default to files in $H_TMP.
h_bg() {
	local out=/dev/null err=/dev/null ns=$H_NS_HOST cg=$H_CG_AUX
	while [ $# -gt 0 ]; do
		case $1 in
		--out) out=$2; shift 2 ;;
		--err) err=$2; shift 2 ;;
		--ns) ns=$2; shift 2 ;;
		--cg) cg=$2; shift 2 ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	# shellcheck disable=SC2016
	nsenter "--net=/run/netns/$ns" -- sh -c \
		'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' _ "$cg" "$@" \
		>"$out" 2>"$err" </dev/null &
	H_LAST_PID=$!
	H_PIDS+=("$H_LAST_PID")
}

# h_now_ms: monotonic-enough wall clock in ms.
h_now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# h_until_ms T: sleep until h_now_ms reaches T.
h_until_ms() {
	local d=$(($1 - $(h_now_ms)))
	[ "$d" -gt 0 ] && sleep "$(awk -v d="$d" 'BEGIN { printf "%.3f", d / 1000 }')"
	return 0
}

# h_same NAME GOT WANT: pass when GOT is WANT, else say both.
h_same() {
	if [ "$2" = "$3" ]; then
		h_pass "$1"
	else
		h_fail "$1" "got '$2', want '$3'"
	fi
}

# h_resolve CASE CG SERVER NAME ADDR: NAME through SERVER (tests/dnsq) from
# cgroup CG answers ADDR alone; sets H_RESOLVED_MS (when the answer came).
h_resolve() {
	local out
	out=$(h_cgroup_run "$2" "$OUTPUT/tests/dnsq" "$3" "$4" 2>/dev/null)
	H_RESOLVED_MS=$(h_now_ms)
	if printf '%s\n' "$out" | jq -e --arg a "$5" '.rcode == 0 and .answers == [$a]' >/dev/null 2>&1; then
		h_pass "$1"
	else
		h_fail "$1" "dnsq: $out"
	fi
}

# h_wait_for_file FILE [TIMEOUT_S]
h_wait_for_file() {
	local f=$1 deadline=$(($(h_now_ms) + ${2:-5} * 1000))
	while [ ! -e "$f" ]; do
		[ "$(h_now_ms)" -ge "$deadline" ] && return 1
		sleep 0.02
	done
}

# h_wait_for_line FILE REGEX [TIMEOUT_S]: wait for a line matching REGEX (ERE).
h_wait_for_line() {
	local f=$1 re=$2 deadline=$(($(h_now_ms) + ${3:-5} * 1000))
	until grep -Eq -- "$re" "$f" 2>/dev/null; do
		[ "$(h_now_ms)" -ge "$deadline" ] && return 1
		sleep 0.02
	done
}

# h_listen NS tcp|udp ADDR PORT [netprobe options]: start a netprobe listener
# in NS; its JSON lines go to $H_TMP/listen.NS.proto.ADDR.PORT (printed).
h_listen() {
	local ns=$1 proto=$2 addr=$3 port=$4 out
	shift 4
	out=$H_TMP/listen.$ns.$proto.$addr.$port
	h_bg --out "$out" --err "$out.err" --ns "$ns" -- \
		"$NETPROBE" "listen-$proto" "$addr" "$port" "$@"
	h_wait_for_line "$out" '"event":"listening"' 5 || {
		h_fail "$H_NAME: setup" "listener $proto $addr:$port in $ns did not start: $(cat "$out.err")"
		exit 1
	}
	H_LISTEN_OUT=$out
}

# h_listen_file NS tcp|udp ADDR PORT: the output file of that listener.
h_listen_file() {
	echo "$H_TMP/listen.$1.$2.$3.$4"
}

# ---- JSON ----

# h_json_match FILE JQ_FILTER: print the first JSON line of FILE for which
# FILTER is true (lines that do not parse, e.g. half written, are skipped).
h_json_match() {
	[ -e "$1" ] || return 1
	jq -cR "fromjson? | select($2)" "$1" 2>/dev/null | head -n 1 | grep .
}

# h_assert_json FILE_OR_STRING JQ_EXPR NAME: PASS if the JSON string (or any
# line of the file) satisfies JQ_EXPR.
h_assert_json() {
	local src=$1 expr=$2 name=$3
	if [ -f "$src" ]; then
		if h_json_match "$src" "$expr" >/dev/null; then
			h_pass "$name"
			return 0
		fi
		h_fail "$name" "no line of $src satisfies $expr (last: $(tail -n 3 "$src" | tr '\n' ' '))"
		return 1
	fi
	if printf '%s\n' "$src" | jq -e "$expr" >/dev/null 2>&1; then
		h_pass "$name"
		return 0
	fi
	h_fail "$name" "$src does not satisfy $expr"
	return 1
}

# h_json_get JSON EXPR [DEFAULT]: one value of a JSON string (DEFAULT, "0"
# unless given, when it is missing or the string is not JSON).
h_json_get() {
	local v
	v=$(printf '%s\n' "$1" | jq -r "($2) // empty" 2>/dev/null | head -n 1)
	echo "${v:-${3:-0}}"
}

# h_wait_json FILE JQ_FILTER [TIMEOUT_S]: wait for a matching line; print it.
h_wait_json() {
	local deadline=$(($(h_now_ms) + ${3:-5} * 1000))
	until h_json_match "$1" "$2"; do
		[ "$(h_now_ms)" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

# h_expect_event NAME FILE JQ_FILTER [TIMEOUT_S]: PASS once an event line
# matching FILTER shows up in FILE (hushd's stdout, hush run --events).
h_expect_event() {
	local name=$1 file=$2 filter=$3 line
	if line=$(h_wait_json "$file" "$filter" "${4:-5}"); then
		h_pass "$name"
		H_EVENT=$line
		return 0
	fi
	h_fail "$name" "no event matching $filter in $file (last: $(tail -n 2 "$file" 2>/dev/null | tr '\n' ' '))"
	return 1
}

# h_expect_no_event NAME FILE JQ_FILTER: PASS if no line matches (call it
# after a later event was seen, so the ring buffer has been drained past it).
h_expect_no_event() {
	local line
	if line=$(h_json_match "$2" "$3"); then
		h_fail "$1" "unexpected event: $line"
		return 1
	fi
	h_pass "$1"
}

# h_event_filter VERDICT HOOK DADDR DPORT [PROTO]: jq filter for an event;
# DADDR alternatives separated by '|'; DPORT "-" for any.
h_event_filter() {
	local verdict=$1 hook=$2 daddr=$3 dport=$4 proto=${5:-} a d=
	local IFS='|'
	for a in $daddr; do
		d="${d:+$d or }.daddr == \"$a\""
	done
	local f=".verdict == \"$verdict\" and .hook == \"$hook\" and ($d)"
	[ "$dport" != - ] && f="$f and .dport == $dport"
	[ -n "$proto" ] && f="$f and .proto == \"$proto\""
	echo "$f"
}

# ---- probes ----

# h_probe [--cg CG] [--ns NS] -- NETPROBE_ARGS...: run netprobe (default: in
# the host namespace and cgroup $H_PROBE_CG); its JSON line goes to H_PROBE,
# its pid to H_PROBE_PID, its exit status to H_PROBE_RC.
h_probe() {
	local cg=${H_PROBE_CG:-$H_CG_AUX} ns=$H_NS_HOST
	while [ $# -gt 0 ]; do
		case $1 in
		--cg) cg=$2; shift 2 ;;
		--ns) ns=$2; shift 2 ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	# shellcheck disable=SC2016
	H_PROBE=$(nsenter "--net=/run/netns/$ns" -- sh -c \
		'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' _ "$cg" \
		"$NETPROBE" "$@" 2>"$H_TMP/probe.err" </dev/null)
	H_PROBE_RC=$?
	H_PROBE_PID=$(printf '%s\n' "$H_PROBE" | jq -r '.pid // empty' 2>/dev/null)
}

# h_expect_probe NAME RESULT ERRNO [--cg CG] [--ns NS] -- NETPROBE_ARGS...
# RESULT ok|error; ERRNO an errno name, alternatives with '|', or '-' for any.
# An expected EPERM must come back "at once" (< H_AT_ONCE_US).
h_expect_probe() {
	local name=$1 want=$2 werr=$3 res err el
	shift 3
	h_probe "$@"
	res=$(printf '%s\n' "$H_PROBE" | jq -r '.result // empty' 2>/dev/null)
	err=$(printf '%s\n' "$H_PROBE" | jq -r '.errno // "-"' 2>/dev/null)
	el=$(printf '%s\n' "$H_PROBE" | jq -r '.elapsed_us // 0' 2>/dev/null)
	if [ -z "$res" ]; then
		h_fail "$name" "netprobe printed no result (rc $H_PROBE_RC): $H_PROBE $(cat "$H_TMP/probe.err")"
		return 1
	fi
	if [ "$res" != "$want" ]; then
		h_fail "$name" "expected $want${werr:+ $werr}, got $H_PROBE"
		return 1
	fi
	if [ "$want" = error ] && [ "$werr" != - ] && ! [[ "|$werr|" == *"|$err|"* ]]; then
		h_fail "$name" "expected errno $werr, got $H_PROBE"
		return 1
	fi
	if [ "$err" = EPERM ] && [[ "|$werr|" == *"|EPERM|"* ]] && [ "$el" -ge "$H_AT_ONCE_US" ]; then
		h_fail "$name" "EPERM not at once: ${el} us >= $H_AT_ONCE_US us: $H_PROBE"
		return 1
	fi
	if { [ "$res" = ok ] && [ "$H_PROBE_RC" -ne 0 ]; } ||
		{ [ "$res" = error ] && [ "$H_PROBE_RC" -ne 1 ]; }; then
		h_fail "$name" "netprobe exit status $H_PROBE_RC does not match result $res"
		return 1
	fi
	h_pass "$name"
}

# h_attempt NAME RESULT ERRNO VERDICT HOOK DADDR DPORT PROTO [--where JQ]
#           [--events FILE] [--cg CG] -- NETPROBE_ARGS...
# One case, both halves: the socket result (h_expect_probe) and the event
# hushd logged for it (in FILE, default $H_HUSHD_OUT): verdict, hook, daddr
# (alternatives with '|', e.g. "198.18.2.2|::ffff:198.18.2.2"), dport ("-":
# any), proto, and for socket hooks the probe's own pid as tgid.  VERDICT "-"
# checks the socket only.
h_attempt() {
	local name=$1 res=$2 err=$3 verdict=$4 hook=$5 daddr=$6 dport=$7 proto=$8
	local where=true events=${H_HUSHD_OUT:-} popts=() f before=0
	shift 8
	while [ $# -gt 0 ]; do
		case $1 in
		--where) where=$2; shift 2 ;;
		--events) events=$2; shift 2 ;;
		--cg) popts+=(--cg "$2"); shift 2 ;;
		--) shift; break ;;
		*) break ;;
		esac
	done
	f=$(h_event_filter "$verdict" "$hook" "$daddr" "$dport" "$proto")
	f="$f and ($where)"
	# Egress events need not be in process context: match them by count.
	[ "$verdict" != - ] && before=$(h_count_json "$events" "$f")
	h_expect_probe "$name: socket" "$res" "$err" "${popts[@]}" -- "$@"
	[ "$verdict" = - ] && return 0
	if [ "$hook" = egress ]; then
		if h_wait_count "$events" "$f" $((before + 1)) 5; then
			h_pass "$name: event"
			return 0
		fi
		h_fail "$name: event" "no new event matching $f in $events (last: $(tail -n 2 "$events" 2>/dev/null | tr '\n' ' '))"
		return 1
	fi
	if [ -z "$H_PROBE_PID" ]; then
		h_fail "$name: event" "no probe pid to look for"
		return 1
	fi
	h_expect_event "$name: event" "$events" "$f and .tgid == $H_PROBE_PID"
}

# h_count_json FILE JQ_FILTER: how many lines match.
h_count_json() {
	if [ -e "$1" ]; then
		jq -cR "fromjson? | select($2)" "$1" 2>/dev/null | wc -l
	else
		echo 0
	fi
}

# h_wait_count FILE JQ_FILTER N [TIMEOUT_S]: wait for at least N matches.
h_wait_count() {
	local deadline=$(($(h_now_ms) + ${4:-5} * 1000))
	until [ "$(h_count_json "$1" "$2")" -ge "$3" ]; do
		[ "$(h_now_ms)" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

# h_snmp NS PROTO FIELD: a counter of /proc/net/snmp (IPv4: "Icmp InEchos")
# or /proc/net/snmp6 (PROTO "-": "Icmp6InEchos") inside NS.
h_snmp() {
	local ns=$1 proto=$2 field=$3
	# shellcheck disable=SC2016
	if [ "$proto" = - ]; then
		h_ns "$ns" awk -v f="$field" '$1 == f { print $2 }' /proc/net/snmp6
	else
		h_ns "$ns" awk -v p="$proto:" -v f="$field" '
			$1 == p && !hdr { for (i = 2; i <= NF; i++) col[$i] = i; hdr = 1; next }
			$1 == p && hdr { print $col[f]; exit }' /proc/net/snmp
	fi
}

# ---- hushd and hush ----

# h_hushd_start POLICY CG [EXTRA ARGS]: start hushd in the host namespace
# (cgroup $H_CG_AUX, outside CG), enforcing POLICY on CG, pinned under
# $H_PIN_DIR; wait for "hushd: ready:".  Events: $H_HUSHD_OUT, stderr
# $H_HUSHD_ERR (a new pair of files per start).
h_hushd_start() {
	local policy=$1 cg=$2 n
	shift 2
	h_pin_dir >/dev/null || {
		h_fail "$H_NAME: setup" "cannot make bpffs dir $H_PIN_DIR"
		exit 1
	}
	n=$(find "$H_TMP" -maxdepth 1 -name 'hushd.*.out' | wc -l)
	H_HUSHD_OUT=$H_TMP/hushd.$n.out
	H_HUSHD_ERR=$H_TMP/hushd.$n.err
	# Keep the event store in the test's run dir when hushd has one.
	if timeout 5 "$HUSHD" --help 2>&1 | grep -q -- "--db"; then
		set -- --db "$H_RUN_DIR/hush.db" "$@"
	fi
	# H_HUSHD_CG: run hushd in that cgroup (default aux, never enforced).
	h_bg --out "$H_HUSHD_OUT" --err "$H_HUSHD_ERR" ${H_HUSHD_CG:+--cg "$H_HUSHD_CG"} -- \
		"$HUSHD" --policy "$policy" \
		--cgroup "$cg" --pin-dir "$H_PIN_DIR" --run-dir "$H_RUN_DIR" --foreground "$@"
	H_HUSHD_PID=$H_LAST_PID
	local deadline=$(($(h_now_ms) + 15000))
	until grep -q '^hushd: ready:' "$H_HUSHD_ERR" 2>/dev/null; do
		if ! kill -0 "$H_HUSHD_PID" 2>/dev/null; then
			h_fail "$H_NAME: hushd start" "hushd exited: $(tail -n 5 "$H_HUSHD_ERR" | tr '\n' ' ')"
			return 1
		fi
		if [ "$(h_now_ms)" -ge "$deadline" ]; then
			h_fail "$H_NAME: hushd start" "no 'hushd: ready:' in 15 s: $(tail -n 5 "$H_HUSHD_ERR" | tr '\n' ' ')"
			return 1
		fi
		sleep 0.05
	done
}

# h_alive PID: the process exists and is not a zombie (a zombie child still
# answers kill -0 until wait reaps it).
h_alive() {
	kill -0 "$1" 2>/dev/null &&
		[ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# h_stop PID [SIGNAL]: signal a process we started and wait for it (max 5 s).
# Sets H_STOP_RC to its exit status (when it is our child).
h_stop() {
	local pid=$1 sig=${2:-TERM} i
	H_STOP_RC=
	kill "-$sig" "$pid" 2>/dev/null
	for i in $(seq 1 100); do
		h_alive "$pid" || break
		sleep 0.05
	done
	: "$i"
	wait "$pid" 2>/dev/null
	H_STOP_RC=$?
	! kill -0 "$pid" 2>/dev/null
}

# h_hush ARGS...: the CLI with this test's pin and run dirs.
h_hush() {
	"$HUSH" --pin-dir "$H_PIN_DIR" --run-dir "$H_RUN_DIR" "$@"
}

# h_hush_run CG ARGS...: `hush run ARGS` in the host namespace, in cgroup CG.
h_hush_run() {
	local cg=$1
	shift
	h_cgroup_run "$cg" "$HUSH" --pin-dir "$H_PIN_DIR" --run-dir "$H_RUN_DIR" run "$@"
}

# h_hush_run_capture TAG CG ARGS...: h_hush_run with stdout and stderr in
# $H_TMP/TAG.out and TAG.err; H_RUN_RC is its exit status, H_RUN_OUT the JSON
# lines the command printed (hush's own messages are not JSON).
h_hush_run_capture() {
	local tag=$1
	shift
	h_hush_run "$@" >"$H_TMP/$tag.out" 2>"$H_TMP/$tag.err" </dev/null
	H_RUN_RC=$?
	H_RUN_OUT=$(grep '^{' "$H_TMP/$tag.out")
	H_RUN_ERR=$(tail -n 5 "$H_TMP/$tag.err" | tr '\n' ' ')
}

# h_policy FILE <<EOF ... EOF: write a policy file; prints its path.
h_policy() {
	local f=$H_TMP/$1
	cat >"$f"
	echo "$f"
}

# ---- cleanup ----

# Everything this test made, in order: processes, cgroups, enforcement and
# pins, namespaces, files.  Idempotent; never fails the test.
h_cleanup() {
	local pid i ns alive
	[ -n "${H_ID:-}" ] || return 0
	set +e
	# 1. Processes we started: TERM, then KILL.
	for pid in "${H_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for i in $(seq 1 40); do
		alive=0
		for pid in "${H_PIDS[@]}"; do
			h_alive "$pid" && alive=1
		done
		[ "$alive" = 0 ] && break
		sleep 0.05
	done
	for pid in "${H_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	H_PIDS=()
	# 2. Our cgroups: kill what is left in them, wait until empty, remove
	#    depth-first.  Only ever $CG2/hush-test.<id>.
	if [ -n "${H_CG_ROOT:-}" ] && [ -n "${CG2:-}" ] && [ "$H_CG_ROOT" != "$CG2" ] &&
		[[ "$H_CG_ROOT" == "$CG2"/hush-test.* ]] && [ -d "$H_CG_ROOT" ]; then
		echo 1 >"$H_CG_ROOT/cgroup.kill" 2>/dev/null
		for i in $(seq 1 100); do
			grep -q '^populated 0' "$H_CG_ROOT/cgroup.events" 2>/dev/null && break
			sleep 0.05
		done
		find "$H_CG_ROOT" -depth -type d -exec rmdir {} \; 2>/dev/null
	fi
	# 3. Enforcement pinned by hushd or hush: detach and unpin.
	if [ -n "${H_PIN_DIR:-}" ] && [ -d "$H_PIN_DIR" ]; then
		if [ -x "${HUSH:-}" ]; then
			timeout 10 "$HUSH" --pin-dir "$H_PIN_DIR" --run-dir "${H_RUN_DIR:-/nonexistent}" \
				disable >/dev/null 2>&1
		fi
		rm -rf "$H_PIN_DIR" 2>/dev/null
	fi
	# 4. Namespaces (their veths go with them).
	for ns in "${H_NETNS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	H_NETNS=()
	# 5. Files.
	if [ -n "${H_TMP:-}" ] && [[ "$H_TMP" == /tmp/hush-test.* ]]; then
		rm -rf "$H_TMP"
	fi
	return 0
}
