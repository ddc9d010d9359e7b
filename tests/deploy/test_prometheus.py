"""Prometheus config and rules: promtool checks, rule unit tests, annotations, metric names."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import PROMETHEUS
from tests.deploy.metrics import KNOWN_METRICS, metric_names

RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS / "tests").glob("*.yml"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, check=False)


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def all_rules() -> list[dict]:
    return [rule for path in RULE_FILES for group in load(path)["groups"] for rule in group["rules"]]


def test_prometheus_files_parse_as_yaml() -> None:
    for path in [PROMETHEUS / "prometheus.yml", *RULE_FILES, *TEST_FILES]:
        assert isinstance(load(path), dict), path


def test_promtool_check_config_accepts_prometheus_yml(promtool: str) -> None:
    result = run(promtool, "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_prometheus_yml_loads_every_rule_file() -> None:
    config = load(PROMETHEUS / "prometheus.yml")
    loaded = {(PROMETHEUS / name).resolve() for name in config["rule_files"]}
    assert loaded == {path.resolve() for path in RULE_FILES}


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules_accepts_rule_file(promtool: str, path: Path) -> None:
    result = run(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_rule_unit_tests_exist_for_each_behaviour() -> None:
    names = {path.name for path in TEST_FILES}
    assert {"recording_test.yml", "slo_burn_test.yml", "ticket_test.yml", "operations_test.yml",
            "webhooks_test.yml"} <= names


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_promtool_test_rules_passes(promtool: str, path: Path) -> None:
    result = run(promtool, "test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_summary_description_runbook_and_severity() -> None:
    alerts = [rule for rule in all_rules() if "alert" in rule]
    assert len(alerts) >= 6
    for rule in alerts:
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook"):
            assert annotations.get(key, "").strip(), f"{rule['alert']} lacks {key}"
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]


def test_burn_rate_alerts_use_workbook_windows_and_factors() -> None:
    alerts = {rule["alert"]: rule for rule in all_rules() if "alert" in rule}
    expected = {
        "FlashDispatchOnTimeBudgetFastBurn": ("1h", "5m", "14.4", "page"),
        "FlashDispatchOnTimeBudgetSlowBurn": ("6h", "30m", "6", "page"),
        "FlashDispatchOnTimeBudgetTicket": ("3d", "6h", "1", "ticket"),
    }
    for name, (long_w, short_w, factor, severity) in expected.items():
        expr = alerts[name]["expr"]
        assert f"zone:flashdispatch_order_errors:ratio{long_w} > ({factor} * 0.05)" in expr
        assert f"zone:flashdispatch_order_errors:ratio{short_w} > ({factor} * 0.05)" in expr
        # low-traffic guard on the long window
        assert re.search(rf"zone:flashdispatch_orders_resolved:increase{long_w} >= \d+", expr)
        assert alerts[name]["labels"]["severity"] == severity


def test_recording_rules_cover_every_sli_window_per_zone_and_overall() -> None:
    records = {rule["record"] for rule in all_rules() if "record" in rule}
    for window in ("5m", "30m", "1h", "6h", "3d", "30d"):
        assert f"zone:flashdispatch_order_sli:ratio{window}" in records
        assert f"flashdispatch_order_sli:ratio{window}" in records
        assert f"zone:flashdispatch_order_errors:ratio{window}" in records
    for quantile in ("p50", "p90", "p99"):
        assert f"zone:flashdispatch_delivery_duration_seconds:{quantile}_rate5m" in records
    assert "flashdispatch_http_request_errors:ratio_rate5m" in records


def test_rules_reference_only_known_metrics_and_defined_records() -> None:
    rules = all_rules()
    records = {rule["record"] for rule in rules if "record" in rule}
    for rule in rules:
        for name in metric_names(rule["expr"]):
            assert name in KNOWN_METRICS | records | {"up"}, f"{name} in {rule['expr']}"


def test_bucket_matchers_use_the_client_s_float_label() -> None:
    for rule in all_rules():
        # prometheus_client writes le="1800.0"; le="1800" matches nothing on Prometheus 2.x
        assert not re.search(r'le="\d+"', rule["expr"]), rule["expr"]
