#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# packaging/kubernetes/hushd.yaml: yamllint; the Kubernetes API schema
# (k8s_schema.py: the models of Debian's python3-kubernetes, Kubernetes 1.22,
# offline: every field known and of its type, required ones present); and its
# structure checked against what the other tests prove: kinds and API
# versions, RBAC-free (no RBAC object, no token), two containers as the two
# units (hushd: hushd.service's capabilities + CHOWN, no SYS_ADMIN; dnsns:
# hush-dnsns@.service's), their shared socket, host PID, the node's
# /sys/fs/bpf and /sys/fs/cgroup, and the ConfigMap's policy passes
# `hush policy check`.
set -u
# shellcheck source=tests/lib/harness.sh
. "$(dirname "$0")/../lib/harness.sh"
# shellcheck source=tests/pkg/lib.sh
. "$(dirname "$0")/lib.sh"

h_init k8s
h_require_hush
h_require_tools yamllint python3
y=$SRC/packaging/kubernetes/hushd.yaml
if yamllint -d '{extends: default, rules: {line-length: {max: 100}, document-start: disable}}' "$y" >"$H_TMP/yl" 2>&1; then
	h_pass "k8s: yamllint clean"
else
	h_fail "k8s: yamllint" "$(head -n 5 "$H_TMP/yl")"
fi
# Debian's python3 (not another one first in PATH) has python3-kubernetes.
if [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import kubernetes.client' 2>/dev/null; then
	if /usr/bin/python3 "$SRC/tests/pkg/k8s_schema.py" "$y" >"$H_TMP/schema" 2>&1; then
		h_pass "k8s: schema (python3-kubernetes models): $(cut -d' ' -f3- "$H_TMP/schema")"
	else
		h_fail "k8s: schema (python3-kubernetes models)" "$(head -n 5 "$H_TMP/schema")"
	fi
else
	h_skip_or_fail "$H_NAME" "python3-kubernetes is missing (make deps-pkg)"
fi
unit_caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$SRC/packaging/hushd.service" | sed 's/CAP_//g')
helper_caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$SRC/packaging/hush-dnsns@.service" | sed 's/CAP_//g')
# The checks, one line each: "ok WHAT" or "bad WHAT: why"; the policy to $H_TMP/policy.
python3 - "$y" "$unit_caps" "$H_TMP/policy" "$helper_caps" >"$H_TMP/checks" 2>&1 <<'EOPY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
unit = set(sys.argv[2].split())
helper = set(sys.argv[4].split())
def check(what, cond, why=""):
    print(("ok " if cond else "bad ") + what + ("" if cond else ": " + why))
kinds = {(d["apiVersion"], d["kind"]) for d in docs}
check("kinds", kinds == {("v1", "Namespace"), ("v1", "ConfigMap"), ("apps/v1", "DaemonSet")}, str(kinds))
check("RBAC-free", not any(d["kind"] in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding",
      "ServiceAccount") for d in docs), "RBAC objects present")
ds = next(d for d in docs if d["kind"] == "DaemonSet")
cm = next(d for d in docs if d["kind"] == "ConfigMap")
spec = ds["spec"]["template"]["spec"]
check("no service account token", spec.get("automountServiceAccountToken") is False)
check("selector matches labels", ds["spec"]["selector"]["matchLabels"].items()
      <= ds["spec"]["template"]["metadata"]["labels"].items())
check("hostPID", spec.get("hostPID") is True)
cs = {c["name"]: c for c in spec["containers"]}
check("two containers, hushd and dnsns", set(cs) == {"hushd", "dnsns"}, str(sorted(cs)))
c, h = cs["hushd"], cs["dnsns"]
sc = c["securityContext"]
caps = set(sc["capabilities"]["add"])
check("hushd: capabilities = hushd.service's + CHOWN", caps == unit | {"CHOWN"}
      and "SYS_ADMIN" not in caps and sc["capabilities"]["drop"] == ["ALL"],
      f"{sorted(caps)} vs unit {sorted(unit)}")
hsc = h["securityContext"]
check("dnsns: capabilities = hush-dnsns@.service's", set(hsc["capabilities"]["add"]) == helper
      and hsc["capabilities"]["drop"] == ["ALL"], f"{hsc['capabilities']} vs unit {sorted(helper)}")
check("not privileged", sc.get("privileged") is False and hsc.get("privileged") is False)
vols = {v["name"]: v for v in spec["volumes"]}
mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
hmounts = {m["mountPath"]: m["name"] for m in h["volumeMounts"]}
sock = next((a.split("=", 1)[1] for a in c["args"] if a.startswith("--dnsns-socket=")), "")
sdir = sock.rsplit("/", 1)[0]
check("hushd's socket is the helper's, in a volume of the pod", sock and
      f"--dnsns-listen={sock}" in h.get("command", []) and sdir in mounts and sdir in hmounts
      and mounts[sdir] == hmounts[sdir] and "emptyDir" in vols[mounts[sdir]], f"'{sock}'")
check("dnsns sees the node's cgroup2 read-only", hmounts.get("/sys/fs/cgroup") == "cgroup")
check("node bpffs", vols[mounts["/sys/fs/bpf"]]["hostPath"]["path"] == "/sys/fs/bpf")
check("node cgroup2", vols[mounts["/sys/fs/cgroup"]]["hostPath"]["path"] == "/sys/fs/cgroup")
pol = vols[mounts["/etc/hush"]]["configMap"]
check("policy from the ConfigMap", pol["name"] == cm["metadata"]["name"]
      and "--policy=/etc/hush/policy" in c["args"])
check("same namespace", ds["metadata"]["namespace"] == cm["metadata"]["namespace"])
open(sys.argv[3], "w").write(cm["data"]["policy"])
EOPY
while read -r st what; do
	case $st in
	ok) h_pass "k8s: $what" ;;
	*) h_fail "k8s: ${what%%:*}" "${what#*: }" ;;
	esac
done <"$H_TMP/checks"
grep -q '^ok ' "$H_TMP/checks" || h_fail "k8s: structure checks ran" "$(tail -n 3 "$H_TMP/checks")"
if "$HUSH" policy check "$H_TMP/policy" >/dev/null 2>&1; then
	h_pass "k8s: the ConfigMap's policy passes hush policy check"
else
	h_fail "k8s: the ConfigMap's policy" "$("$HUSH" policy check "$H_TMP/policy" 2>&1 | head -n 3)"
fi
h_done
