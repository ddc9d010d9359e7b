"""Kubernetes manifests: schema validation (kubernetes-validate, offline) and structure."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.deploy.conftest import K8S, load_module

KUBERNETES_VERSION = "1.30.0"
CRD_KINDS = {"ServiceMonitor", "PrometheusRule", "Kustomization"}
MANIFESTS = sorted(K8S.glob("*.yaml"))


def documents() -> list[tuple[Path, dict]]:
    return [
        (path, doc)
        for path in MANIFESTS
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc is not None
    ]


def by_kind(kind: str) -> dict[str, dict]:
    return {doc["metadata"]["name"]: doc for _, doc in documents() if doc["kind"] == kind}


@pytest.mark.parametrize(
    "doc",
    [doc for _, doc in documents() if doc["kind"] not in CRD_KINDS],
    ids=lambda d: f"{d['kind']}/{d['metadata']['name']}",
)
def test_manifest_matches_kubernetes_schema(doc: dict) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_validator_rejects_a_broken_deployment() -> None:
    broken = yaml.safe_load((K8S / "api.yaml").read_text().split("---")[0])
    broken["spec"]["replica"] = broken["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_document_has_api_version_kind_name() -> None:
    for path, doc in documents():
        assert doc.get("apiVersion") and doc.get("kind"), path
        if doc["kind"] != "Kustomization":
            assert doc["metadata"]["name"], path
            if doc["kind"] != "Namespace":
                assert doc["metadata"]["namespace"] == "flashdispatch", path


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in MANIFESTS} - {"kustomization.yaml"}


@pytest.mark.parametrize("name", ["flashdispatch-api", "flashdispatch-dispatcher"])
def test_deployment_selects_its_pods_and_probes_them(name: str) -> None:
    deployment = by_kind("Deployment")[name]
    template = deployment["spec"]["template"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= template["metadata"]["labels"].items()
    (container,) = template["spec"]["containers"]
    assert container["image"]
    assert container["ports"][0]["containerPort"] == 8080
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert template["spec"]["securityContext"]["runAsNonRoot"] is True
    role = name.removeprefix("flashdispatch-")
    assert container["args"] == ["serve", "--role", role]
    service = by_kind("Service")[name]
    assert service["spec"]["selector"].items() <= template["metadata"]["labels"].items()


def test_hpa_scales_the_api_and_dispatchers_are_replicated() -> None:
    hpa = by_kind("HorizontalPodAutoscaler")["flashdispatch-api"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "flashdispatch-api"
    assert hpa["spec"]["minReplicas"] >= 2
    assert by_kind("Deployment")["flashdispatch-dispatcher"]["spec"]["replicas"] >= 2


def test_migration_job_runs_migrate() -> None:
    job = by_kind("Job")["flashdispatch-migrate"]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["migrate"]


def test_secret_is_a_placeholder() -> None:
    secret = by_kind("Secret")["flashdispatch"]
    assert all("CHANGE_ME" in value for value in secret["stringData"].values())


def test_service_monitor_selects_both_services() -> None:
    monitor = by_kind("ServiceMonitor")["flashdispatch"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selector = monitor["spec"]["selector"]["matchLabels"]
    ports = {e["port"] for e in monitor["spec"]["endpoints"]}
    for service in by_kind("Service").values():
        assert selector.items() <= service["metadata"]["labels"].items()
        assert ports <= {p["name"] for p in service["spec"]["ports"]}


def test_prometheus_rule_is_generated_from_the_rule_files() -> None:
    generator = load_module(K8S / "generate_prometheusrule.py")
    expected = generator.render(generator.build_prometheus_rule())
    assert (K8S / "prometheusrule.yaml").read_text() == expected, (
        "prometheusrule.yaml is stale: run .venv/bin/python deploy/k8s/generate_prometheusrule.py"
    )
    rule = by_kind("PrometheusRule")["flashdispatch"]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert [g["name"] for g in rule["spec"]["groups"]] == [
        g["name"] for path in generator.RULE_FILES for g in yaml.safe_load(path.read_text())["groups"]
    ]
