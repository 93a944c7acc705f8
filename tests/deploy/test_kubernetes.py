"""deploy/kubernetes/: every manifest valid against the Kubernetes schemas (kubernetes-validate, strict: no
unknown fields), the policy ConfigMap the same as policies/, and what the Deployment promises kept: probes on
Detour's own health routes, a drain longer than a worker's, settings Detour accepts, the secrets it needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate import utils as kubernetes

from gateway.policy.loader import load_policy
from gateway.settings import Settings
from gateway.supervisor import STOP_SECONDS
from scripts.make_kubernetes_policies import configmap
from tests.conftest import POLICIES, ROOT

FOLDER = ROOT / "deploy" / "kubernetes"
KUBERNETES = "1.33"  # a version clusters run today; the manifests use nothing newer than autoscaling/v2


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((FOLDER / name).read_text()) if d]


def manifests() -> list[Path]:
    listed = documents("kustomization.yaml")[0]["resources"]
    return [FOLDER / name for name in listed] + [FOLDER / "secret.example.yaml"]


def kind(name: str) -> dict[str, Any]:
    return next(d for path in manifests() for d in documents(path.name) if d["kind"] == name)


@pytest.mark.parametrize("path", manifests(), ids=lambda p: p.name)
def test_each_manifest_is_valid_kubernetes(path: Path) -> None:
    for document in documents(path.name):
        kubernetes.validate(document, KUBERNETES, strict=True)  # raises ValidationError, naming the field


def test_the_check_finds_what_kubernetes_would_refuse() -> None:
    deployment = documents("deployment.yaml")[0]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}  # a misspelt field
    with pytest.raises(kubernetes.ValidationError):
        kubernetes.validate(deployment, KUBERNETES, strict=True)


def test_every_file_in_the_folder_is_applied_or_an_example() -> None:
    listed = {p.name for p in manifests()}
    assert {p.name for p in FOLDER.glob("*.yaml")} - {"kustomization.yaml"} == listed


def test_the_policy_configmap_is_the_bundled_policy(tmp_path: Path) -> None:
    assert (FOLDER / "policies.yaml").read_text() == configmap(POLICIES), \
        "run: .venv/bin/python scripts/make_kubernetes_policies.py > deploy/kubernetes/policies.yaml"
    for name, text in documents("policies.yaml")[0]["data"].items():
        (tmp_path / name).write_text(text)
    assert load_policy(tmp_path).digest == load_policy(POLICIES).digest


def test_the_deployment_drains_probes_and_runs_as_detour() -> None:
    spec = kind("Deployment")["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {p["containerPort"] for p in container["ports"]} == {8080, 1344}
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert spec["terminationGracePeriodSeconds"] >= pause + STOP_SECONDS
    assert spec["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    settings = documents("settings.yaml")[0]["data"]
    assert {settings["DETOUR_DATA_DIR"], settings["DETOUR_POLICIES_DIR"], "/tmp"} <= mounts
    assert "replicas" not in kind("Deployment")["spec"]  # the autoscaler owns it: an apply never sets it back
    assert kind("PodDisruptionBudget")["spec"]["minAvailable"] < kind("HorizontalPodAutoscaler")["spec"]["minReplicas"]
    ports = {p["port"] for rule in kind("NetworkPolicy")["spec"]["ingress"] for p in rule["ports"]}
    assert ports == {"icap", "http"}  # nothing else reaches the pods


def test_the_settings_and_secrets_are_what_detour_needs_in_production() -> None:
    settings = dict(documents("settings.yaml")[0]["data"])
    container = kind("Deployment")["spec"]["template"]["spec"]["containers"][0]
    secret = documents("secret.example.yaml")[0]["stringData"]
    from_secret = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"]}
    assert set(from_secret.values()) <= set(secret)
    assert set(from_secret) == {"DETOUR_HASH_KEY", "DETOUR_DATABASE_URL"}
    assert settings["DETOUR_ENVIRONMENT"] == "production"
    for trusted in ("DETOUR_ICAP_CLIENTS", "DETOUR_TRUSTED_PROXIES"):  # single addresses, never a whole network
        assert all(part.endswith("/32") for part in settings[trusted].split(",")), trusted
    names = {f"DETOUR_{name.upper()}" for name in Settings.model_fields}
    assert set(settings) <= names  # no misspelt setting that Detour would ignore
    values = {k.removeprefix("DETOUR_").lower(): v for k, v in settings.items()}
    Settings(**values, hash_key="x" * 32)  # accepted in production with a key
    with pytest.raises(ValueError, match="DETOUR_HASH_KEY"):
        Settings(**values)  # and refused without one
