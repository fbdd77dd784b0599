#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The offline bundle (packaging/make-bundle.sh, signed with a key made here):
# its SBOM names every package with version, SHA-256 and licences; a
# tampered tarball, a tampered or added file and a re-made SHA256SUMS are
# refused by hush-verify-bundle; in a fresh Debian 12 root with no network
# (unshare -n) the bundle verifies and installs, and the installed hushd
# enforces on a private test cgroup (EPERM at connect, a deny row in its log).
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=tests/pkg/lib.sh
. "$(dirname "$0")/lib.sh"

p_init bundle
deb=$(p_deb)
h_require_tools gpg gpgv jq
export GNUPGHOME=$H_TMP/gnupg
mkdir -m 0700 "$GNUPGHOME"
gpg --batch --passphrase '' --quick-gen-key 'hush bundle test <test@hush.invalid>' ed25519 sign never \
	>/dev/null 2>&1 || h_skip_or_fail "$H_NAME" "gpg cannot make a test key"
key=$(gpg --list-keys --with-colons | awk -F: '/^fpr/ { print $10; exit }')
gpg --export "$key" >"$H_TMP/key.gpg"

if "$SRC/packaging/make-bundle.sh" "$deb" "$H_TMP/out" "$key" >"$H_TMP/make.log" 2>&1; then
	h_pass "bundle: make-bundle.sh builds and signs the bundle"
else
	h_fail "bundle: make-bundle.sh" "$(tail -n 5 "$H_TMP/make.log")"
	h_done
fi
tarball=$(find "$H_TMP/out" -name 'hush-bundle_*.tar')
name=$(basename "$tarball" .tar)

# ---- the SBOM against the bundle's own files ----
mkdir "$H_TMP/x"
tar -xf "$tarball" -C "$H_TMP/x"
bd=$H_TMP/x/$name
sbom=$bd/hush.spdx.json
ndeb=$(find "$bd" -name '*.deb' | wc -l)
bad=
for f in "$bd"/*.deb "$bd"/deps/*.deb; do
	rel=${f#"$bd"/}
	sha=$(sha256sum "$f" | cut -d' ' -f1)
	jq -e --arg rel "$rel" --arg sha "$sha" --arg p "$(dpkg-deb -f "$f" Package)" \
		--arg v "$(dpkg-deb -f "$f" Version)" '.packages[] | select(.packageFileName == $rel)
		| select(.name == $p and .versionInfo == $v and .checksums[0].checksumValue == $sha
			and (.licenseDeclared | length > 0))' "$sbom" >/dev/null || bad="$bad $rel"
done
if [ -z "$bad" ] && [ "$ndeb" -ge 2 ] &&
	jq -e --argjson n "$ndeb" '.spdxVersion == "SPDX-2.3" and .dataLicense == "CC0-1.0"
		and (.packages | length) == $n
		and ([.packages[].SPDXID] | unique | length) == $n
		and ([.relationships[] | select(.relationshipType == "DEPENDS_ON")] | length) == $n - 1
		and ([.packages[].licenseDeclared | scan("LicenseRef-[A-Za-z0-9.-]+")] | unique)
			== ([.hasExtractedLicensingInfos[].licenseId] | sort)
		and ([.packages[] | select(.name == "hush")][0].licenseDeclared | test("LGPL-2.1-only OR BSD-2-Clause"))' \
		"$sbom" >/dev/null; then
	h_pass "bundle: SPDX 2.3 SBOM: each of the $ndeb packages with version, SHA-256, licences"
else
	h_fail "bundle: SPDX 2.3 SBOM" "packages not matching:$bad"
fi
deps=$(find "$bd/deps" -name '*.deb' -printf '%f\n' | sed 's/_.*//' | sort | tr '\n' ' ')
case " $deps " in
*" libbpf1 "*" libsqlite3-0 "*) h_pass "bundle: dependencies not in minbase included ($deps)" ;;
*) h_fail "bundle: dependencies included" "deps/: $deps" ;;
esac

# ---- tampering, checked by the trusted copy of hush-verify-bundle ----
verify="$SRC/packaging/hush-verify-bundle"
# refused VERB WHY ARGS...: hush-verify-bundle ARGS must exit 1 with REFUSED.
refused() {
	local what=$1
	shift
	if "$verify" --keyring "$H_TMP/key.gpg" "$@" >"$H_TMP/v.out" 2>&1; then
		h_fail "bundle: $what is refused" "hush-verify-bundle accepted it"
	elif grep -q REFUSED "$H_TMP/v.out"; then
		h_pass "bundle: $what is refused"
	else
		h_fail "bundle: $what is refused" "$(tail -n 2 "$H_TMP/v.out")"
	fi
}
mkdir "$H_TMP/t1"
cp "$tarball" "$tarball.asc" "$H_TMP/t1/"
t1=$H_TMP/t1/$name.tar
printf 'X' | dd of="$t1" bs=1 seek=$(($(stat -c %s "$t1") / 2)) conv=notrunc status=none
refused "a tarball with one byte changed" "$t1"
if [ ! -e "$H_TMP/t1/$name" ]; then
	h_pass "bundle: nothing extracted from a refused tarball"
else
	h_fail "bundle: nothing extracted from a refused tarball" "$H_TMP/t1/$name exists"
fi
cp -a "$bd" "$H_TMP/t2"
victim=$(find "$H_TMP/t2/deps" -name '*.deb' | sort | head -n 1)
printf '\0' >>"$victim"
refused "a dependency .deb with a byte appended" --dir "$H_TMP/t2"
(cd "$H_TMP/t2" && sed -i "s|^[0-9a-f]*  deps/$(basename "$victim")\$|$(sha256sum "deps/$(basename "$victim")")|" SHA256SUMS)
refused "a SHA256SUMS re-made to match (signature no longer fits)" --dir "$H_TMP/t2"
cp -a "$bd" "$H_TMP/t3"
echo 'echo evil' >"$H_TMP/t3/deps/extra.sh"
refused "a file added to the bundle" --dir "$H_TMP/t3"
if "$verify" --keyring "$H_TMP/key.gpg" --dir "$bd" >"$H_TMP/v.out" 2>&1; then
	h_pass "bundle: the untouched bundle verifies"
else
	h_fail "bundle: the untouched bundle verifies" "$(tail -n 2 "$H_TMP/v.out")"
fi

# ---- install with no network in a fresh root, then enforce ----
h_require_hush
cg=$(h_cgroup_create enforced)
p_root_make || h_done
cp "$tarball" "$tarball.asc" "$H_TMP/key.gpg" "$P_ROOT/tmp/"
p_run "cd /tmp && echo \$\$ >$H_CG_AUX/cgroup.procs && unshare -n /bin/sh -ec '
	gpgv --keyring /tmp/key.gpg $name.tar.asc $name.tar
	tar -xOf $name.tar $name/hush-verify-bundle >/tmp/hvb
	sh /tmp/hvb --keyring /tmp/key.gpg /tmp/$name.tar --install'" >"$H_TMP/install.log" 2>&1
if grep -q "hush-verify-bundle: installed hush $(dpkg-deb -f "$deb" Version)" "$H_TMP/install.log" &&
	[ -x "$P_ROOT/usr/sbin/hushd" ]; then
	h_pass "bundle: verified and installed in a fresh root with no network (unshare -n)"
else
	h_fail "bundle: offline install" "$(tail -n 5 "$H_TMP/install.log")"
	h_done
fi

# hushd from the bundle, no network: a connect from the test cgroup is denied
# by hushd's hook (EPERM), one from outside meets the empty network namespace
# (unreachable); the denial is in hushd's log.  hushd and everything here run
# in the test's aux cgroup (killed at cleanup); the pins live in this fresh
# root's own bpffs.
p_run "echo \$\$ >$H_CG_AUX/cgroup.procs && unshare -n /bin/sh -c '
	printf \"mode enforce\n\" >/tmp/t.policy
	HUSH_FORBID_ROOT=1 hushd --policy /tmp/t.policy --cgroup $cg --pin-dir /sys/fs/bpf/hush-t \
		--run-dir /run/hush-t --db /tmp/t.db --no-dns-proxy --foreground \
		>/tmp/hushd.out 2>/tmp/hushd.err &
	i=0
	until grep -q \"^hushd: ready:\" /tmp/hushd.err; do
		i=\$((i + 1)); [ \$i -lt 150 ] || { echo NOT READY; cat /tmp/hushd.err; exit 1; }
		sleep 0.1
	done
	/bin/sh -c \"echo \\\$\\\$ >$cg/cgroup.procs; exec bash -c \\\"exec 3<>/dev/tcp/198.18.2.2/80\\\"\" 2>&1 | sed \"s/^/inside: /\"
	bash -c \"exec 3<>/dev/tcp/198.18.2.2/80\" 2>&1 | sed \"s/^/outside: /\"
	sleep 1
	echo rows: \$(hush log --db /tmp/t.db --denied --json | grep -c 198.18.2.2)
	hush --pin-dir /sys/fs/bpf/hush-t --run-dir /run/hush-t disable >/dev/null 2>&1
	wait; echo hushd-exit: \$?'" >"$H_TMP/enforce.log" 2>&1
h_log "in the fresh root: $(tr '\n' '|' <"$H_TMP/enforce.log")"
if grep -q '^inside: .*Operation not permitted' "$H_TMP/enforce.log" &&
	grep -q '^outside: .*unreachable' "$H_TMP/enforce.log" &&
	grep -q '^rows: [1-9]' "$H_TMP/enforce.log"; then
	h_pass "bundle: the installed hushd enforces on a test cgroup (EPERM inside, logged; outside unaffected)"
else
	h_fail "bundle: the installed hushd enforces" "$(tr '\n' '|' <"$H_TMP/enforce.log")"
fi
h_done
