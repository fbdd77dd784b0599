#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# hush benchmarks (`make bench`, as root, from the repository root).  Runs
# the parts named in BENCH (default all five, in this order) and writes
# tests/bench/RESULTS.md; a part not run keeps its section from the file as
# it was.
#
#   sockaddr  tests/bench/sockaddr.sh: connect()/sendto() cost of hush's
#             programs, floor and peer (the top of RESULTS.md; its own knobs
#             ROUNDS, MS, ... are described there)
#   store     tests/bench/store.sh: a storm of denied attempts into the SQLite
#             audit log (issue 3; knobs STORM_*, described there)
#   query     tests/bench/bench_query.c: `hush log` latency on a 10M-row
#             database, cached under $OUTPUT/bench (issue 3)
#   dns       tests/bench/dns.sh: resolution latency and queries/s through
#             hushd's DNS proxy vs. directly to dnsmasq (issue 4; knobs
#             DNS_*, described there)
#   test      tests/bench/hushtest.sh: wall time of `hush test -- /bin/true`
#             vs. /bin/true and `unshare -n /bin/true` (issue 5; TEST_ROUNDS)
#   image     tests/bench/image.sh: `hush test --image bb -- true` vs. the
#             engine's `run --rm bb true`, docker and podman (issue 12;
#             IMAGE_ROUNDS)
#   containers  tests/bench/containers.sh: `docker run --rm bb true` with hushd
#             enforcing by container scope vs. without (issue 13; CTR_ROUNDS,
#             CTR_PER)
#
# Knobs (environment): BENCH ("sockaddr store query dns test image containers";
# e.g. BENCH=store, or BENCH="store query"), RESULTS (file written, default tests/bench/RESULTS.md;
# "-" for none), HUSH_REV (source revision to report; default: git describe
# --dirty); for query: QUERY_ROWS (10000000), QUERY_RUNS (25), QUERY_DB
# (default $OUTPUT/bench/query-<rows>.db), QUERY_REBUILD (1: build the
# database even if the cached one matches), QUERY_INDEX_ROWS (1000000: rows
# for the insert-rate comparison), QUERY_CANDIDATES (index candidates to
# measure, NAME=SQL separated by ';'; default the events(dport, ts) index;
# "none" for none).
#
# Each part prints its Markdown section on stdout; this script puts them
# together.  Safety: see each part (everything that sends runs in private
# network namespaces, hush attaches only to cgroups the part creates).
set -u
OUTPUT=${OUTPUT:-$(pwd)/.output}
export OUTPUT
cd "$(dirname "$0")/../.." || exit 2
BENCH=${BENCH:-sockaddr store query dns test image containers}
RESULTS=${RESULTS:-tests/bench/RESULTS.md}
HUSH_REV=${HUSH_REV:-$(git describe --always --dirty 2>/dev/null || echo unknown)}
export HUSH_REV
QUERY_ROWS=${QUERY_ROWS:-10000000}
QUERY_RUNS=${QUERY_RUNS:-25}
QUERY_DB=${QUERY_DB:-$OUTPUT/bench/query-$((QUERY_ROWS / 1000000))M.db}
QUERY_INDEX_ROWS=${QUERY_INDEX_ROWS:-1000000}
QUERY_CANDIDATES=${QUERY_CANDIDATES-dport=CREATE INDEX events_dport_ts ON events(dport, ts)}
AUDIT_HEAD='## Audit log (issue 3)'
STORE_HEAD='### Storm of denied attempts into SQLite'
QUERY_HEAD='### Query latency on a'
DNS_HEAD='## DNS proxy (issue 4)'
TEST_HEAD='## hush test (issue 5)'
IMAGE_HEAD='## hush test --image (issue 12)'
CTR_HEAD='## Containers (issue 13)'

die() {
	echo "run.sh: $*" >&2
	exit 1
}
want() {
	[[ " ${BENCH//,/ } " == *" $1 "* ]]
}

[ "$(id -u)" = 0 ] || die "needs root"
for b in ${BENCH//,/ }; do
	case $b in
	sockaddr | store | query | dns | test | image | containers) ;;
	*) die "BENCH: unknown part '$b' (sockaddr, store, query, dns, test, image, containers)" ;;
	esac
done

TMPD=$(mktemp -d /tmp/hush-bench-results.XXXXXX) || die "mktemp failed"
trap 'rm -rf "$TMPD"' EXIT
start=$(date +%s)
fails=0

if want sockaddr; then
	echo "# bench: sockaddr" >&2
	tests/bench/sockaddr.sh >"$TMPD/sockaddr.md" || {
		fails=$((fails + 1))
		rm -f "$TMPD/sockaddr.md"
	}
fi
if want store; then
	echo "# bench: store (storm into SQLite)" >&2
	tests/bench/store.sh >"$TMPD/store.md" || fails=$((fails + 1))
	[ -s "$TMPD/store.md" ] || rm -f "$TMPD/store.md"
fi
if want query; then
	echo "# bench: query ($QUERY_ROWS rows, $QUERY_DB)" >&2
	qargs=(--db "$QUERY_DB" --rows "$QUERY_ROWS" --runs "$QUERY_RUNS"
		--index-rows "$QUERY_INDEX_ROWS" --hush "$OUTPUT/hush")
	[ "${QUERY_REBUILD:-0}" = 1 ] && qargs+=(--rebuild)
	if [ "$QUERY_CANDIDATES" != none ]; then
		IFS=';' read -r -a cands <<<"$QUERY_CANDIDATES"
		for c in "${cands[@]}"; do
			[ -n "$c" ] && qargs+=(--candidate "$c")
		done
	fi
	mkdir -p "$(dirname "$QUERY_DB")"
	if [ -x "$OUTPUT/bench/bench_query" ]; then
		"$OUTPUT/bench/bench_query" "${qargs[@]}" >"$TMPD/query.md" || {
			fails=$((fails + 1))
			rm -f "$TMPD/query.md"
		}
		# Issue 15 on the same database: top, every filter, verify.
		if [ -s "$TMPD/query.md" ] && [ -x "$OUTPUT/bench/bench_top" ]; then
			"$OUTPUT/bench/bench_top" --db "$QUERY_DB" --hush "$OUTPUT/hush" \
				--runs "${TOP_RUNS:-5}" >>"$TMPD/query.md" || fails=$((fails + 1))
		fi
	else
		echo "run.sh: $OUTPUT/bench/bench_query not built" >&2
		fails=$((fails + 1))
	fi
fi
if want dns; then
	echo "# bench: dns (DNS proxy vs. direct)" >&2
	tests/bench/dns.sh >"$TMPD/dns.md" || fails=$((fails + 1))
	[ -s "$TMPD/dns.md" ] || rm -f "$TMPD/dns.md"
fi
if want test; then
	echo "# bench: test (hush test -- /bin/true)" >&2
	tests/bench/hushtest.sh >"$TMPD/test.md" || fails=$((fails + 1))
	[ -s "$TMPD/test.md" ] || rm -f "$TMPD/test.md"
fi
if want containers; then
	echo "# bench: containers (docker run with hushd by container scope vs. without)" >&2
	tests/bench/containers.sh >"$TMPD/containers.md" || fails=$((fails + 1))
	[ -s "$TMPD/containers.md" ] || rm -f "$TMPD/containers.md"
fi

if want image; then
	echo "# bench: image (hush test --image vs. docker/podman run)" >&2
	tests/bench/image.sh >"$TMPD/image.md" || fails=$((fails + 1))
	[ -s "$TMPD/image.md" ] || rm -f "$TMPD/image.md"
fi

# The sections of the file as it is: top (connect/sendto), storm, query, dns.
old_part() { # top|store|query|dns|test|image|containers
	[ -f "$RESULTS" ] || return 0
	awk -v part="$1" -v audit="$AUDIT_HEAD" -v store="$STORE_HEAD" -v query="$QUERY_HEAD" \
		-v dns="$DNS_HEAD" -v test="$TEST_HEAD" -v image="$IMAGE_HEAD" -v ctr="$CTR_HEAD" '
		$0 == audit { sec = "audit"; next }
		$0 == store { sec = "store" }
		index($0, query) == 1 { sec = "query" }
		$0 == dns { sec = "dns" }
		$0 == test { sec = "test" }
		$0 == image { sec = "image" }
		$0 == ctr { sec = "containers" }
		{ if ((sec == "" ? "top" : sec) == part) print }' "$RESULTS"
}
section() { # NAME: the new section, or the old one, or a placeholder
	local f=$TMPD/$1.md old
	if [ -s "$f" ]; then
		cat "$f"
		return
	fi
	old=$(old_part "$1")
	if [ -n "$old" ]; then
		printf '%s\n' "$old"
	else
		case $1 in
		store) echo "$STORE_HEAD" ;;
		query) echo "${QUERY_HEAD} large database" ;;
		dns) echo "$DNS_HEAD" ;;
		test) echo "$TEST_HEAD" ;;
		image) echo "$IMAGE_HEAD" ;;
		containers) echo "$CTR_HEAD" ;;
		esac
		echo
		echo "Not run yet (\`BENCH=$1 make bench\`)."
	fi
}
assemble() {
	if [ -s "$TMPD/sockaddr.md" ]; then
		cat "$TMPD/sockaddr.md"
	elif [ -n "$(old_part top)" ]; then
		old_part top | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
	else
		echo "# hush benchmark results"
		echo
		echo "Written by \`make bench\` (tests/bench/run.sh); regenerate, do not edit."
	fi
	echo
	echo "$AUDIT_HEAD"
	echo
	echo "Written by \`make bench\` (parts: \`BENCH=store\`, \`BENCH=query\`; each part's date is its own)."
	echo "Targets from the issue: a storm of ≥ 200k denied attempts/s for 60 s on this 2-CPU"
	echo "machine with zero uncounted (database attempts + gap attempts = kernel counters), and"
	echo "≤ 50 ms for the indexed \`hush log\` filters on a 10M-row log."
	echo
	section store | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
	echo
	section query | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
	echo
	section dns | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
	echo
	section test | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
	echo
	section image | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
	echo
	section containers | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
}

assemble >"$TMPD/RESULTS.md"
cat "$TMPD/RESULTS.md"
if [ "$RESULTS" != - ]; then
	cp "$TMPD/RESULTS.md" "$RESULTS" || die "cannot write $RESULTS"
	echo "# bench: wrote $RESULTS ($(($(date +%s) - start)) s)" >&2
fi
[ "$fails" = 0 ] || die "$fails part(s) failed (their sections are the previous ones, or say why)"
