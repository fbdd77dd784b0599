#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# packaging/kubernetes/hushd.yaml: yamllint, and its structure checked against
# what the other tests prove (no Debian 12 package validates against the
# Kubernetes schemas): kinds and API versions, RBAC-free (no RBAC object, no
# token), the DaemonSet's capabilities = hushd.service's + CHOWN, host PID,
# the node's /sys/fs/bpf and /sys/fs/cgroup, and the ConfigMap's policy
# passes `hush policy check`.
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
unit_caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$SRC/packaging/hushd.service" | sed 's/CAP_//g')
# The checks, one line each: "ok WHAT" or "bad WHAT: why"; the policy to $H_TMP/policy.
python3 - "$y" "$unit_caps" "$H_TMP/policy" >"$H_TMP/checks" 2>&1 <<'EOPY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
unit = set(sys.argv[2].split())
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
c = spec["containers"][0]
sc = c["securityContext"]
caps = set(sc["capabilities"]["add"])
check("capabilities = unit + CHOWN", caps == unit | {"CHOWN"} and sc["capabilities"]["drop"] == ["ALL"],
      f"{sorted(caps)} vs unit {sorted(unit)}")
check("not privileged", sc.get("privileged") is False)
vols = {v["name"]: v for v in spec["volumes"]}
mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
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
