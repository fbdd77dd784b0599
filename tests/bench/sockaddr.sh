#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The connect()/sendto() benchmark, run by tests/bench/run.sh (`make bench`,
# BENCH=sockaddr; as root): connect()/sendto() rates with no program, with
# no-op programs on hush's hooks (the floor), with hush holding 10 and 100k
# prefixes, an nftables interval set as a peer, and a denied-sendto storm.
# Prints its Markdown report (the top of tests/bench/RESULTS.md) on stdout.
#
# Safety, by construction:
#   - The benchmark runs in a private network namespace made here: lo only,
#     no veth, no route but loopback's own.  It is entered with nsenter
#     --net (not `ip netns exec`, which remounts /sys and hides cgroup2).
#     Traffic goes to 127.0.0.1 / ::1; the denied destination 198.18.9.9 is
#     refused by hush before routing and has no route anyway.
#   - Programs (hush's and the floor's no-ops) attach only to cgroups under
#     $CG2/hush-bench.<pid>, made here (never the cgroup2 root), through
#     bpf_links held by bench_sockaddr's fds and never pinned: they go when
#     it exits.  The trap kills what is in the cgroups (cgroup.kill) and
#     removes them.
#   - nftables rules exist only inside the private namespace, scoped by uid,
#     and go with it.
#
# Knobs (environment): ROUNDS (15), MS per cell (350), WARM_MS (50),
# PREFIXES (100000), BENCH_UID (4242), NFT (auto|yes|no), BENCH_ARGS (more
# arguments for bench_sockaddr, e.g. --verbose), HUSH_REV (source revision
# to report; default: git describe --dirty).
set -u
OUTPUT=${OUTPUT:-$(pwd)/.output}
cd "$(dirname "$0")/../.." || exit 2
BIN=$OUTPUT/bench/bench_sockaddr
ROUNDS=${ROUNDS:-15}
MS=${MS:-350}
WARM_MS=${WARM_MS:-50}
PREFIXES=${PREFIXES:-100000}
BENCH_UID=${BENCH_UID:-4242}
NFT=${NFT:-auto}

NS=hush-bench-$$
CG=
NS_MADE=0
BPID=
OUT=

cleanup() {
	local d
	[ -n "$BPID" ] && kill "$BPID" 2>/dev/null
	if [ -n "$CG" ] && [ -d "$CG" ]; then
		[ -e "$CG/cgroup.kill" ] && echo 1 >"$CG/cgroup.kill" 2>/dev/null
		for _ in $(seq 1 50); do
			[ -z "$(find "$CG" -name cgroup.procs -exec cat {} + 2>/dev/null)" ] && break
			sleep 0.1
		done
		# Children first (bench_sockaddr normally removes its own).
		find "$CG" -mindepth 1 -depth -type d 2>/dev/null | while read -r d; do
			rmdir "$d" 2>/dev/null
		done
		rmdir "$CG" 2>/dev/null || echo "sockaddr.sh: could not remove $CG" >&2
	fi
	if [ "$NS_MADE" = 1 ]; then
		nsenter --net="/var/run/netns/$NS" -- nft delete table inet hushbench 2>/dev/null
		ip netns del "$NS" 2>/dev/null
	fi
	[ -n "$OUT" ] && rm -f "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
	echo "sockaddr.sh: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "needs root"
[ -x "$BIN" ] || die "$BIN not built (make $BIN)"
for t in ip nsenter awk; do
	command -v $t >/dev/null || die "needs $t"
done

CG2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
{ [ -n "$CG2" ] && [ -e "$CG2/cgroup.procs" ]; } || die "no cgroup2 mount in /proc/mounts"
CG=$CG2/hush-bench.$$
mkdir "$CG" || die "cannot create $CG"
[ -e "$CG/cgroup.kill" ] || die "kernel lacks cgroup.kill (needs Linux >= 5.14)"

ip netns add "$NS" || die "cannot create network namespace $NS"
NS_MADE=1
NSX=(nsenter --net="/var/run/netns/$NS" --)
"${NSX[@]}" ip link set lo up || die "cannot bring lo up in $NS"
"${NSX[@]}" sysctl -q -w net.ipv6.conf.lo.disable_ipv6=0 >/dev/null 2>&1

# Room in the listeners' accept queues while the server sleeps between batches.
"${NSX[@]}" sysctl -q -w net.core.somaxconn=65535 >/dev/null 2>&1

# The namespace has lo and nothing else: no way out.
links=$("${NSX[@]}" ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
[ "$links" = "lo " ] || die "namespace $NS has more than lo: $links"
[ -z "$("${NSX[@]}" ip -4 route show default)$("${NSX[@]}" ip -6 route show default)" ] ||
	die "namespace $NS has a default route"

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
ncpu=$(nproc)
load0=$(cut -d' ' -f1-3 /proc/loadavg)
# Attachments of other jobs (their hooks make every cgroup pay a little).
others() {
	command -v bpftool >/dev/null || { echo "unknown (no bpftool)"; return; }
	bpftool cgroup tree "$CG2" 2>/dev/null | awk -v mine="$CG" '
		/^\// { cg = $1; next }
		NF && cg != "" && index(cg, mine) != 1 && $1 ~ /^[0-9]+$/ { n++ }
		END { print n + 0 }'
}
others0=$(others)
start=$(date +%s)
OUT=$(mktemp /tmp/hush-bench-out.XXXXXX)

echo "# bench: $ROUNDS rounds x ${MS} ms per cell in netns $NS, cgroup $CG" >&2
# The benchmark starts inside its cgroup (sh writes its own pid, then execs).
# shellcheck disable=SC2086,SC2016
"${NSX[@]}" sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$CG" \
	"$BIN" --cgroup "$CG" --rounds "$ROUNDS" --ms "$MS" --warm-ms "$WARM_MS" \
	--prefixes "$PREFIXES" --uid "$BENCH_UID" --nft "$NFT" ${BENCH_ARGS:-} >"$OUT" &
BPID=$!
wait "$BPID"
rc=$?
BPID=
[ $rc -eq 0 ] || die "bench_sockaddr failed (exit $rc)"
load1=$(cut -d' ' -f1-3 /proc/loadavg)
others1=$(others)
elapsed=$(($(date +%s) - start))

report() {
	cat <<EOF
# hush benchmark results

Written by \`make bench\` (tests/bench/run.sh); regenerate, do not edit.

- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- kernel: $(uname -r) ($(uname -m)); CPU: $cpu, $ncpu CPUs
- load average before / after: $load0 / $load1 (other work on the machine shows up as spread)
- rounds: $ROUNDS, each cell ${WARM_MS} ms warm-up + ${MS} ms timed, engines-detached and engines-attached phases alternating, cell order rotated every round; run time ${elapsed} s
- cgroup programs of others (attachments outside this run's cgroup, by \`bpftool cgroup tree\`) before / after: $others0 / $others1
- source: ${HUSH_REV:-$(git describe --always --dirty 2>/dev/null || echo unknown)}

## Method

Everything runs in a private network namespace (lo only, no route out) and in
child cgroups of a cgroup made for the run.  One measuring thread, pinned to
one CPU, runs every cell of a round for a fixed time:

- **rate** = operations per second of the measuring thread's own CPU time
  (\`CLOCK_THREAD_CPUTIME_ID\`).  This kernel has no IRQ time accounting, so
  that time includes the softirq work the loop causes (loopback receive, TCP
  handshake, ACKs), which runs in the thread's context; it excludes time other
  jobs on this shared 2-CPU machine take from the thread, which wall-clock
  rates do not (the last column gives wall-clock ratios for comparison).
- **connect**: \`socket()\`, \`SO_LINGER {1,0}\`, \`connect()\` to a listener on
  127.0.0.1 or [::1], \`close()\` (RST, no TIME_WAIT); rate = completed connects.
- **sendto**: \`sendto()\` of 64 bytes from one unconnected UDP socket to a sink
  on 127.0.0.1 or [::1]; rate = datagrams sent (send side).
- Listener and sink sockets are created outside the measured cgroups (their
  own packets are not judged).  A server process on the other CPU empties the
  accept queue (accept, close) or the sink (32 MB receive buffer) every 10 ms:
  no packet costs a wake-up, the sender seldom shares a cache line with it,
  and its work is not on the measuring thread's clock.  Drops for a full
  buffer and listen-queue overflows are counted and reported below.
- **no program**: nothing attached by the benchmark anywhere: the hush
  engines and the floor programs are detached (and unloaded) while the
  no-program, unroutable and nft cells run and attached again for the floor,
  hush and bystander cells (each round has the two phases, in alternating
  order), because once a cgroup program of a type is attached anywhere, every
  cgroup pays for that hook (see the bystander rows).  Other
  jobs on this machine (test suites) attach programs too: before each
  no-program, unroutable or nft cell the benchmark waits until no other
  cgroup-type BPF program is loaded, measures the cell again if one appeared
  meanwhile, and excludes a cell still spoiled after three tries.
- **floor**: a cgroup of its own with a no-op program (\`r0 = 1; exit\`:
  allow) on each of the six hooks hush attaches (\`cgroup/sock_create\`,
  \`cgroup_skb/egress\`, \`cgroup/connect4\`, \`connect6\`, \`sendmsg4\`,
  \`sendmsg6\`), loaded with \`bpf_prog_load\` and attached with
  \`bpf_link_create\` as the engine's links are: the kernel's hook machinery
  alone (static keys, effective-program arrays, the programs' contexts, a
  program run per hook).  hush ratio ÷ floor ratio (= hush rate ÷ floor rate
  of the same round) is what hush's own programs add on top of it.
- **bystander**: the no-program cgroup while the engines (and the floor) are
  attached to the other cgroups: what hush costs processes outside the
  policed subtree.
- **hush**: a private engine (\`engine_open\`, every hook it attaches; listed
  under Set-up) with 10 v4 + 10 v6 prefixes, or with 100k v4 /32 (\`tcp
  443\`) + 100k v6 /48 prefixes, uniformly random over the address space so
  a loopback lookup walks as deep into the LPM tries as any other (loopback
  is allowed by hush's implicit rule).
- **nftables set (peer)**: no hush; an \`inet\` output chain \`meta skuid
  <bench uid> ip daddr != @s drop\`, \`@s\` an interval set of the same 100k v4
  prefixes plus 127.0.0.1, present only while its cells run.  The measuring
  thread runs with that effective uid in every configuration.
- **denied storm**: \`sendto()\` to 198.18.9.9:9 in the hush 10-prefix cgroup;
  every attempt is denied (EPERM) and logged to the ring buffer, which a reader
  thread drains with \`engine_poll(eng, 100)\` in a loop, as hushd does.
  **Its ratio = denied-storm attempts/s ÷ no-program loopback sendto v4 rate of
  the same round.**
- per-round ratio = cell rate ÷ no-program rate of the same path in the same
  round; the tables give the median and min–max over rounds.  Goals (from the
  issue): connect ≥ 0.95 and sendto ≥ 0.92 of the no-program rate with 100k
  prefixes; denied storm ≥ 0.80.

EOF
	cat "$OUT"
}

report
echo "# bench: sockaddr done (${elapsed} s)" >&2
