"""Regenerate deploy/kubernetes/policies.yaml: the bundled policy files as the ConfigMap detour-policies.

IT edits the policy as files; on Kubernetes they reach the pods as this ConfigMap, mounted at
/etc/detour/policies (edits applied with `kubectl apply -k` reach the files within a minute, and Detour
reloads them). tests/deploy/test_kubernetes.py checks that it matches policies/.

    .venv/bin/python scripts/make_kubernetes_policies.py [POLICY_FOLDER] > deploy/kubernetes/policies.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.policy.loader import policy_files  # noqa: E402


class _Literal(str):
    """A string written as a YAML block (``|``), so the files read as IT wrote them."""


def _literal(dumper: yaml.SafeDumper, text: _Literal) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")


def configmap(folder: Path) -> str:
    yaml.SafeDumper.add_representer(_Literal, _literal)
    document = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "detour-policies", "labels": {"app.kubernetes.io/name": "detour"}},
                "data": {path.name: _Literal(path.read_text(encoding="utf-8")) for path in policy_files(folder)}}
    header = ("# Generated from policies/ by scripts/make_kubernetes_policies.py: edit the policy files, then run it "
              "again.\n")
    return header + yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=1000)


if __name__ == "__main__":
    sys.stdout.write(configmap(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "policies"))
