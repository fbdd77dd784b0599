#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make-bundle.sh DEB OUTDIR KEYID: the offline bundle of hush, for a Debian 12
# host with no network (`make bundle BUNDLE_KEY=KEYID`):
#
#   OUTDIR/hush-bundle_VERSION_ARCH.tar       one tarball, one directory:
#       hush_VERSION_ARCH.deb                 the package
#       deps/*.deb                            every Debian package it needs that a
#                                             minbase Debian 12 lacks (apt-get
#                                             --download-only in a fresh minbase
#                                             root, from this machine's mirror)
#       hush.spdx.json                        SPDX 2.3 SBOM: every package, version,
#                                             SHA-256, licences (Debian copyright files)
#       hush-verify-bundle, README            how to check and install it
#       SHA256SUMS, SHA256SUMS.asc            checksums of all of it, signed
#   OUTDIR/hush-bundle_VERSION_ARCH.tar.asc   detached signature of the tarball
#
# Signed with gpg (key KEYID from GNUPGHOME); checked on the target with gpgv,
# which every Debian host has.  Needs root (the fresh root) and the mirror.
set -euo pipefail

die() {
	echo "make-bundle: $*" >&2
	exit 1
}

[ $# -eq 3 ] || die "usage: make-bundle.sh DEB OUTDIR KEYID"
deb=$(realpath "$1") out=$2 key=$3
cd "$(dirname "$0")/.."
src=$(pwd)
for t in gpg jq mmdebstrap dpkg-deb; do
	command -v "$t" >/dev/null || die "$t is missing (make deps-pkg deps-test)"
done
gpg --batch --list-secret-keys "$key" >/dev/null 2>&1 ||
	die "no secret key $key in ${GNUPGHOME:-~/.gnupg} (gpg --quick-gen-key, or set GNUPGHOME)"
version=$(dpkg-deb -f "$deb" Version)
arch=$(dpkg-deb -f "$deb" Architecture)
name=hush-bundle_${version}_$arch
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

work=$(mktemp -d /var/tmp/hush-bundle.XXXXXX)
root=$work/root
cleanup() {
	"$src/tests/lib/freshroot.sh" remove "$root" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
b=$work/$name
mkdir -p "$b/deps" "$out"

echo "make-bundle: the packages a minbase Debian 12 root lacks for $(basename "$deb")"
"$src/tests/lib/freshroot.sh" make "$root" >"$work/freshroot.log" 2>&1 ||
	{ tail -n 20 "$work/freshroot.log" >&2; die "cannot make a fresh root"; }
cp "$deb" "$root/tmp/"
"$src/tests/lib/freshroot.sh" run "$root" /bin/sh -c "apt-get update -qq &&
	apt-get install -y -qq --download-only --no-install-recommends /tmp/$(basename "$deb")" \
	>"$work/download.log" 2>&1 || { tail -n 20 "$work/download.log" >&2; die "apt-get --download-only failed"; }
cp "$root"/var/cache/apt/archives/*.deb "$b/deps/" 2>/dev/null || true
cp "$deb" "$b/"
cp packaging/hush-verify-bundle "$b/"
cat >"$b/README" <<EOT
hush $version ($arch): offline bundle for Debian 12 (bookworm).

Check the tarball first, with the signer's public key brought in apart from it
(gpgv is on every Debian host):

    gpgv --keyring ./hush-signing-key.gpg $name.tar.asc $name.tar

then check every file and install, with no network:

    ./hush-verify-bundle --keyring ./hush-signing-key.gpg $name.tar --install

(or, once extracted: hush-verify-bundle --keyring KEY --dir $name --install).
hush.spdx.json lists every package in the bundle (SPDX 2.3).
EOT

# ---- SBOM ----

# DEP-5 licence short names -> SPDX (Debian's names where they differ).
spdx_id() {
	local l=$1 plus=
	case $l in *+) plus=1 l=${l%+} ;; esac
	case $l in *GPL-[0-9].0) l=${l%.0} ;; esac
	case $l in
	GPL-1 | GPL-2 | GPL-3 | LGPL-2 | LGPL-3 | AGPL-3 | GFDL-1.2 | GFDL-1.3)
		echo "${l}.0-$([ -n "$plus" ] && echo or-later || echo only)" ;;
	LGPL-2.1 | GFDL-1.1) echo "$l-$([ -n "$plus" ] && echo or-later || echo only)" ;;
	BSD-2-clause | BSD-2-Clause) echo BSD-2-Clause ;;
	BSD-3-clause | BSD-3-Clause) echo BSD-3-Clause ;;
	BSD-4-clause | BSD-4-Clause) echo BSD-4-Clause ;;
	Expat | MIT) echo MIT ;;
	Artistic) echo Artistic-1.0-Perl ;;
	Apache-2.0 | ISC | Zlib | Artistic-1.0 | Artistic-2.0 | MPL-1.1 | MPL-2.0 | OpenSSL | \
		X11 | curl | bzip2-1.0.6 | CC0-1.0 | Unicode-DFS-2016 | MIT-0 | 0BSD | PSF-2.0)
		echo "$l" ;;
	zlib) echo Zlib ;;
	*) echo "LicenseRef-Debian-$(printf '%s' "$l$plus" | tr -c 'A-Za-z0-9.-' '-')" ;;
	esac
}

# spdx_exception WORDS: " WITH <SPDX exception>", or nothing for one SPDX
# 2.3 does not list (the licence stays, the exception is in the copyright file).
spdx_exception() {
	local w=$1
	w=${w#"${w%%[! ]*}"}
	case $w in
	Linux-syscall-note*) echo " WITH Linux-syscall-note" ;;
	Bison*) echo " WITH Bison-exception-2.2" ;;
	GCC*) echo " WITH GCC-exception-3.1" ;;
	Autoconf*) echo " WITH Autoconf-exception-3.0" ;;
	esac
}

# licence_expr COPYRIGHT-FILE: one SPDX expression for a package (its
# License: lines ANDed), or NOASSERTION for a copyright file not in DEP-5.
licence_expr() {
	local f=$1 line expr='' e t
	grep -q '^Format:' "$f" 2>/dev/null || { echo NOASSERTION; return; }
	while IFS= read -r line; do
		e='' w=''
		# WITH takes the words up to the next operator as one exception.
		for t in $(printf '%s' "$line" | sed -e 's/[(),]/ /g') ''; do
			case $t in
			or | OR | and | AND | '')
				[ -z "$w" ] || e="$e$(spdx_exception "$w")"
				w=''
				case $t in or | OR) e="$e OR " ;; and | AND) e="$e AND " ;; esac ;;
			with | WITH) w=' ' ;;
			*)
				if [ -n "$w" ]; then
					w="$w $t"
				else
					e="$e$(spdx_id "$t")"
				fi ;;
			esac
		done
		[ -n "$e" ] && expr="$expr"$'\n'"($e)"
	done < <(sed -n 's/^License:[[:space:]]*\(.*[^[:space:]]\)[[:space:]]*$/\1/p' "$f" | sort -u)
	expr=$(printf '%s\n' "$expr" | sed '/^$/d' | sort -u | paste -sd'&' | sed 's/&/ AND /g')
	echo "${expr:-NOASSERTION}"
}

# One SPDX package object per .deb (path relative to the bundle).
pkg_json() {
	local rel=$1 f=$b/$1 p v a m lic sha cp
	p=$(dpkg-deb -f "$f" Package) v=$(dpkg-deb -f "$f" Version) a=$(dpkg-deb -f "$f" Architecture)
	m=$(dpkg-deb -f "$f" Maintainer)
	cp=$work/copyright.$p
	dpkg-deb --fsys-tarfile "$f" | tar -xOf - "./usr/share/doc/$p/copyright" >"$cp" 2>/dev/null || :
	lic=$(licence_expr "$cp")
	sha=$(sha256sum "$f" | cut -d' ' -f1)
	jq -n --arg p "$p" --arg v "$v" --arg a "$a" --arg m "$m" --arg lic "$lic" --arg sha "$sha" \
		--arg rel "$rel" --arg id "SPDXRef-Package-$(printf '%s' "$p" | tr -c 'A-Za-z0-9.-' '-')" '{
		SPDXID: $id, name: $p, versionInfo: $v, packageFileName: $rel,
		supplier: ("Organization: " + ($m | gsub("<"; "(") | gsub(">"; ")"))),
		downloadLocation: "NOASSERTION", filesAnalyzed: false,
		checksums: [{algorithm: "SHA256", checksumValue: $sha}],
		licenseConcluded: "NOASSERTION", licenseDeclared: $lic, copyrightText: "NOASSERTION",
		comment: ("Licences from /usr/share/doc/" + $p + "/copyright in the package."),
		externalRefs: [{referenceCategory: "PACKAGE-MANAGER", referenceType: "purl",
			referenceLocator: ("pkg:deb/debian/" + $p + "@" + ($v | @uri) + "?arch=" + $a)}]}'
}

echo "make-bundle: SBOM of $(find "$b" -name '*.deb' | wc -l) packages"
{
	pkg_json "$(basename "$deb")"
	for d in "$b"/deps/*.deb; do [ -e "$d" ] && pkg_json "deps/$(basename "$d")"; done
} | jq -s --arg name "$name" --arg created "$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)" \
	--arg ns "https://hush.invalid/spdx/$name-$(sha256sum "$deb" | cut -c1-16)" '
	. as $pkgs
	| ([$pkgs[].licenseDeclared | scan("LicenseRef-[A-Za-z0-9.-]+")] | unique) as $refs
	| {spdxVersion: "SPDX-2.3", dataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
	   name: $name, documentNamespace: $ns,
	   creationInfo: {created: $created, creators: ["Tool: hush packaging/make-bundle.sh"]},
	   packages: $pkgs,
	   relationships: ([{spdxElementId: "SPDXRef-DOCUMENT", relationshipType: "DESCRIBES",
	                     relatedSpdxElement: $pkgs[0].SPDXID}]
	                   + [$pkgs[1:][] | {spdxElementId: $pkgs[0].SPDXID,
	                     relationshipType: "DEPENDS_ON", relatedSpdxElement: .SPDXID}]),
	   hasExtractedLicensingInfos: [$refs[] | {licenseId: ., name: .,
	     extractedText: "A licence named in a Debian copyright file without an SPDX identifier; its text is in that file (/usr/share/doc/PACKAGE/copyright)."}]}
' >"$b/hush.spdx.json"

# ---- checksums, signatures, tarball ----
(cd "$b" && find . -type f | sed 's|^\./||' | LC_ALL=C sort |
	xargs -d '\n' sha256sum >"$work/SHA256SUMS") && mv "$work/SHA256SUMS" "$b/SHA256SUMS"
gpg --batch --yes --local-user "$key" --armor --detach-sign -o "$b/SHA256SUMS.asc" "$b/SHA256SUMS"
find "$b" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
tar --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
	-C "$work" -cf "$out/$name.tar" "$name"
gpg --batch --yes --local-user "$key" --armor --detach-sign -o "$out/$name.tar.asc" "$out/$name.tar"
echo "make-bundle: $out/$name.tar ($(du -h "$out/$name.tar" | cut -f1), $(wc -l <"$b/SHA256SUMS") files), $out/$name.tar.asc"
