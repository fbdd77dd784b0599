#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The .deb of `make deb` in a fresh Debian 12 root: apt installs it with its
# dependencies; the binaries run and name the package's version; the files,
# conffiles, group hush and the setgid log directory are there; the bash
# completion works; remove keeps the configuration, purge leaves nothing of
# hush (no file, no group) and the package list as before.  Also: lintian
# (warnings too) on the .deb, and the units' systemd-analyze exposure
# (t_systemd.sh runs them under systemd).
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=tests/pkg/lib.sh
. "$(dirname "$0")/lib.sh"

p_init deb
deb=$(p_deb)
version=$(dpkg-deb -f "$deb" Version)

if lintian --fail-on error,warning "$deb" >"$H_TMP/lintian" 2>&1; then
	h_pass "deb: lintian: no error or warning"
else
	h_fail "deb: lintian: no error or warning" "$(grep -E '^[EW]:' "$H_TMP/lintian" | head -n 5)"
fi
if command -v systemd-analyze >/dev/null; then
	# hushd has no CAP_SYS_ADMIN and no namespace type (the issue's goal:
	# <= 2.5); its DNS namespace helper, which has CAP_SYS_ADMIN and
	# RestrictNamespaces=net, is a unit of its own.  Both figures are in
	# the README; these guard against anything looser.
	for u in hushd.service:2.4 hush-dnsns@.service:2.1; do
		f=${u%%:*} max=${u#*:}
		cp "$SRC/packaging/$f" "$H_TMP/${f/@/@0}"
		exp=$(systemd-analyze security --offline=true "$H_TMP/${f/@/@0}" 2>&1 |
			sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
		if [ -n "$exp" ] && awk -v e="$exp" -v m="$max" 'BEGIN { exit !(e <= m) }'; then
			h_pass "deb: $f exposure $exp <= $max (systemd-analyze security --offline; goal 2.5)"
		else
			h_fail "deb: $f exposure <= $max" "got '$exp'"
		fi
	done
else
	h_skip_or_fail "$H_NAME" "systemd-analyze is missing (make deps-pkg)"
fi

p_root_make || h_done
cp "$deb" "$P_ROOT/tmp/"
cat "$P_ROOT/etc/group" "$P_ROOT/etc/gshadow" >"$H_TMP/groups.before"
# shellcheck disable=SC2016 # expanded in the fresh root
p_run 'dpkg-query -W -f "\${Package}\n" | sort' >"$H_TMP/pkgs.before"
find "$P_ROOT" -xdev -path "$P_ROOT/proc" -prune -o -print 2>/dev/null | sed "s|^$P_ROOT||" |
	grep -vE '^/(tmp|var/(cache|lib/apt|lib/dpkg|log))(/|$)' | sort >"$H_TMP/files.before"

if p_run "export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends /tmp/$(basename "$deb")" >"$H_TMP/install.log" 2>&1; then
	h_pass "deb: apt-get installs the .deb and its dependencies in a fresh root"
else
	h_fail "deb: apt-get installs the .deb in a fresh root" "$(tail -n 5 "$H_TMP/install.log")"
	h_done
fi
out=$(p_run 'hushd --version; hush --version' 2>&1)
if [ "$out" = "hushd $version"$'\n'"hush $version" ]; then
	h_pass "deb: hushd --version and hush --version: $version"
else
	h_fail "deb: hushd --version and hush --version" "got '$out', want $version"
fi
want="/usr/sbin/hushd /usr/sbin/hush /lib/systemd/system/hushd.service
/lib/systemd/system/hush-dnsns.socket /lib/systemd/system/hush-dnsns@.service /etc/hush/policy
/etc/default/hush /usr/share/man/man8/hush.8.gz /usr/share/man/man8/hushd.8.gz
/usr/share/man/man5/hush-policy.5.gz /usr/share/bash-completion/completions/hush
/usr/share/zsh/vendor-completions/_hush"
missing=
for f in $want; do [ -e "$P_ROOT$f" ] || missing="$missing $f"; done
if [ -z "$missing" ]; then
	h_pass "deb: binaries, unit, policy, options file, man pages, completions installed"
else
	h_fail "deb: files installed" "missing:$missing"
fi
conf=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | tr '\n' ' ')
if [ "$conf" = "/etc/default/hush /etc/hush/policy " ] && grep -q '^mode audit$' "$P_ROOT/etc/hush/policy"; then
	h_pass "deb: /etc/hush/policy (mode audit) and /etc/default/hush are conffiles"
else
	h_fail "deb: conffiles" "conffiles '$conf', policy: $(grep mode "$P_ROOT/etc/hush/policy")"
fi
st=$(p_run 'getent group hush >/dev/null && stat -c "%a %U:%G" /var/lib/hush' 2>&1)
if [ "$st" = "2750 root:hush" ]; then
	h_pass "deb: group hush, /var/lib/hush 2750 root:hush"
else
	h_fail "deb: group hush, /var/lib/hush 2750 root:hush" "got '$st'"
fi
# The policy the package installs is valid, and hushd accepts its options file.
# shellcheck disable=SC2016 # expanded in the fresh root
if p_run 'hush policy check /etc/hush/policy >/dev/null && . /etc/default/hush && [ -n "$HUSHD_OPTS" ]' >"$H_TMP/o" 2>&1; then
	h_pass "deb: the default policy passes hush policy check; /etc/default/hush sets HUSHD_OPTS"
else
	h_fail "deb: default policy and options" "$(tail -n 3 "$H_TMP/o")"
fi
# Completion: the installed bash completion completes commands and options.
# shellcheck disable=SC2016 # expanded in the fresh root
comp=$(p_run 'bash -c ". /usr/share/bash-completion/completions/hush
COMP_WORDS=(hush ru); COMP_CWORD=1; _hush; echo \"\${COMPREPLY[*]}\"
COMP_WORDS=(hush run --mo); COMP_CWORD=2; _hush; echo \"\${COMPREPLY[*]}\"
COMP_WORDS=(hushd --metrics); COMP_CWORD=1; _hushd; echo \"\${COMPREPLY[*]}\""' 2>&1)
if [ "$comp" = $'run\n--mode\n--metrics-file' ]; then
	h_pass "deb: bash completion: commands and options from --help"
else
	h_fail "deb: bash completion" "got '${comp//$'\n'/|}'"
fi

# remove: binaries go, configuration and the log directory stay.
p_run 'apt-get remove -y -qq hush' >"$H_TMP/remove.log" 2>&1
if [ ! -e "$P_ROOT/usr/sbin/hushd" ] && [ -e "$P_ROOT/etc/hush/policy" ] &&
	[ -d "$P_ROOT/var/lib/hush" ]; then
	h_pass "deb: remove: binaries gone, configuration and log kept"
else
	h_fail "deb: remove" "$(tail -n 3 "$H_TMP/remove.log")"
fi
# purge (and the dependencies apt installed for it): nothing left.
p_run 'apt-get purge -y -qq --autoremove hush' >"$H_TMP/purge.log" 2>&1
# shellcheck disable=SC2016 # expanded in the fresh root
p_run 'dpkg-query -W -f "\${Package}\n" | sort' >"$H_TMP/pkgs.after"
find "$P_ROOT" -xdev -path "$P_ROOT/proc" -prune -o -print 2>/dev/null | sed "s|^$P_ROOT||" |
	grep -vE '^/(tmp|var/(cache|lib/apt|lib/dpkg|log))(/|$)' | sort >"$H_TMP/files.after"
# (groupadd/groupdel leave their backup /etc/gshadow-: compared by content)
left=$(comm -13 "$H_TMP/files.before" "$H_TMP/files.after" | grep -vxE '/etc/(group|gshadow)-' |
	head -n 10 | tr '\n' ' ')
grp=$(p_run 'getent group hush || true')
if [ -z "$left" ] && [ -z "$grp" ] && cmp -s "$H_TMP/pkgs.before" "$H_TMP/pkgs.after" &&
	cat "$P_ROOT/etc/group" "$P_ROOT/etc/gshadow" | cmp -s - "$H_TMP/groups.before"; then
	h_pass "deb: purge: no file, group or package left that was not there before"
else
	h_fail "deb: purge leaves nothing" "new files: $left; group: $grp; packages: $(diff "$H_TMP/pkgs.before" "$H_TMP/pkgs.after" | grep '^>' | tr '\n' ' ')"
fi
h_done
