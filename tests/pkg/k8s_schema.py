# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Kubernetes manifests against the API's schema, offline.

k8s_schema.py FILE...: every document's apiVersion and kind must name a
model of python3-kubernetes (Debian 12: 22.6, generated from the OpenAPI
schema of Kubernetes 1.22), and every field, recursively, must be one the
schema has, of its type (str, int, bool, lists, maps, nested objects), with
the required ones present and enumerations respected (the models' own
checks).  Prints "ok FILE: N documents" or one "bad PATH: why" per error;
exit status 1 on any.  Fields newer than 1.22 would be called unknown.
"""
import re
import sys

import kubernetes.client as k8s
import yaml

PRIM = {"str": (str,), "int": (int,), "bool": (bool,), "float": (int, float),
        "datetime": (str,), "date": (str,)}


def check(val, typ, path, errs):
    if typ == "object":
        return
    m = re.fullmatch(r"list\[(.+)\]", typ)
    if m:
        if not isinstance(val, list):
            errs.append(f"{path}: a list, not {type(val).__name__}")
            return
        for i, v in enumerate(val):
            check(v, m.group(1), f"{path}[{i}]", errs)
        return
    m = re.fullmatch(r"dict\(str, (.+)\)", typ)
    if m:
        if not isinstance(val, dict):
            errs.append(f"{path}: a map, not {type(val).__name__}")
            return
        for key, v in val.items():
            check(v, m.group(1), f"{path}.{key}", errs)
        return
    if typ in PRIM:
        ok = isinstance(val, PRIM[typ]) and not (typ != "bool" and isinstance(val, bool))
        if not ok:
            errs.append(f"{path}: {typ}, not {type(val).__name__} ({val!r})")
        return
    cls = getattr(k8s, typ)
    if not isinstance(val, dict):
        errs.append(f"{path}: an object ({typ}), not {type(val).__name__}")
        return
    attr = {j: a for a, j in cls.attribute_map.items()}
    for key, v in val.items():
        if key not in attr:
            errs.append(f"{path}.{key}: no such field in {typ}")
        else:
            check(v, cls.openapi_types[attr[key]], f"{path}.{key}", errs)
    # Required fields and enumerations: the model's own setters.
    try:
        cls(**{attr[key]: v for key, v in val.items() if key in attr})
    except (ValueError, TypeError) as e:
        errs.append(f"{path}: {typ}: {e}")


def main():
    bad = 0
    for f in sys.argv[1:]:
        n = 0
        for i, doc in enumerate(yaml.safe_load_all(open(f))):
            if not doc:
                continue
            n += 1
            errs = []
            group_version = str(doc.get("apiVersion", ""))
            name = group_version.split("/")[-1].capitalize() + str(doc.get("kind", ""))
            if not hasattr(k8s, name) or not hasattr(getattr(k8s, name), "openapi_types"):
                errs.append(f"document {i}: no kind {doc.get('kind')!r} in {group_version!r}")
            else:
                check(doc, name, f"{f}#{i}({doc.get('kind')})", errs)
            for e in errs:
                print("bad " + e)
            bad += len(errs)
        if not bad:
            print(f"ok {f}: {n} documents")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
