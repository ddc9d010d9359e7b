"""docker-compose, Dockerfile and env.example: structure and references (no Docker here)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tests.deploy.conftest import DEPLOY, ROOT

COMPOSE = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
VARIABLES = {
    "DATABASE_URL": "",
    "FLASHDISPATCH_HOME": "./.flashdispatch",
    "FLASHDISPATCH_ROAD_NETWORK": "",
    "FLASHDISPATCH_HOST": "127.0.0.1",
    "FLASHDISPATCH_PORT": "8080",
    "FLASHDISPATCH_OPERATOR_TOKEN": "",
    "FLASHDISPATCH_SLA_MINUTES": "30",
    "FLASHDISPATCH_TIMEZONE": "Asia/Shanghai",
    "FLASHDISPATCH_MAX_SNAP_M": "500",
    "FLASHDISPATCH_DISPATCH_INTERVAL_S": "5",
    "FLASHDISPATCH_COURIER_SILENCE_S": "300",
    "FLASHDISPATCH_LOG_LEVEL": "INFO",
    "FLASHDISPATCH_DB_POOL_SIZE": "10",
    "FLASHDISPATCH_DROPOFF_RETENTION_DAYS": "30",
    "FLASHDISPATCH_RATE_LIMIT_ORDERS_PER_S": "2000",
    "FLASHDISPATCH_RATE_LIMIT_ORDERS_BURST": "4000",
    "FLASHDISPATCH_RATE_LIMIT_POSITIONS_PER_S": "2000",
    "FLASHDISPATCH_RATE_LIMIT_POSITIONS_BURST": "4000",
    "FLASHDISPATCH_LOG_REQUESTS": "errors",
    "FLASHDISPATCH_SLOW_REQUEST_S": "1",
    "FLASHDISPATCH_WEBHOOK_ALLOW_PRIVATE": "0",
    "FLASHDISPATCH_WEBHOOK_TIMEOUT_S": "10",
    "FLASHDISPATCH_WEBHOOK_CONCURRENCY": "32",
    "FLASHDISPATCH_WEBHOOK_POLL_S": "0.25",
}


def test_compose_has_the_expected_services() -> None:
    services = COMPOSE["services"]
    assert set(services) == {"postgres", "migrate", "api", "dispatcher", "prometheus", "grafana"}
    assert services["postgres"]["image"] == "postgres:16"
    assert services["grafana"]["image"].startswith("grafana/grafana:11.6")
    assert services["api"]["command"] == ["serve", "--role", "api"]
    assert services["dispatcher"]["command"] == ["serve", "--role", "dispatcher"]
    assert services["migrate"]["command"] == ["migrate"]
    for name in ("api", "dispatcher"):
        depends = services[name]["depends_on"]["migrate"]["condition"]
        assert depends == "service_completed_successfully"
        assert services[name]["environment"]["FLASHDISPATCH_HOST"] == "0.0.0.0"


def test_compose_references_only_files_that_exist() -> None:
    checked = 0
    for name, service in COMPOSE["services"].items():
        build = service.get("build")
        if build:
            context = (DEPLOY / build["context"]).resolve()
            assert context.is_dir(), name
            assert (context / build["dockerfile"]).is_file(), name
            checked += 1
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (DEPLOY / source).exists(), f"{name}: {source}"
                checked += 1
        for env_file in service.get("env_file", []):
            assert (DEPLOY / env_file).is_file(), f"{name}: {env_file}"
    assert checked >= 6


def test_prometheus_scrapes_the_compose_services() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    targets = {
        t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    }
    assert {"api:8080", "dispatcher:8080"} <= targets


def test_dockerfile_installs_the_project_and_runs_as_non_root() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert "pip wheel" in text and "pip install" in text
    assert re.search(r"^USER 10001", text, re.M)
    assert 'ENTRYPOINT ["flashdispatch"]' in text and 'CMD ["serve"' in text
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for path in source.split():
            if path != "README.md":  # the project README, written with the package
                assert (ROOT / path).exists(), path


def test_env_example_documents_every_variable_with_its_default() -> None:
    lines = (DEPLOY / "env.example").read_text().splitlines()
    values = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert values == VARIABLES


def test_k8s_configmap_uses_the_same_defaults() -> None:
    configmap = yaml.safe_load((DEPLOY / "k8s/configmap.yaml").read_text())["data"]
    for key, value in configmap.items():
        if key not in {"FLASHDISPATCH_HOST", "FLASHDISPATCH_HOME"}:
            assert VARIABLES[key] == value, key


def test_readme_says_what_was_not_run() -> None:
    text = (DEPLOY / "README.md").read_text()
    for claim in ("Docker", "cluster", "Grafana"):
        assert claim in text
    assert Path(DEPLOY / "README.md").stat().st_size > 1000
