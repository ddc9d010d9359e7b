"""Grafana: provisioning parses, dashboards are up to date, every panel query is sound."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.conftest import GRAFANA, PROMETHEUS, load_module
from tests.deploy.metrics import KNOWN_METRICS, metric_names

DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
generator = load_module(GRAFANA / "generate_dashboards.py")
queries_module = load_module(GRAFANA / "panel_queries.py")


def dashboard(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def panels(path: Path) -> list[dict]:
    return [p for p in queries_module.iter_panels(dashboard(path)["panels"]) if p["type"] != "row"]


def recorded_names() -> set[str]:
    names = set()
    for path in (PROMETHEUS / "rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            names |= {rule["record"] for rule in group["rules"] if "record" in rule}
    return names


def test_provisioning_files_parse_and_point_at_the_dashboards() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    assert [d["uid"] for d in datasources["datasources"]] == ["prometheus"]
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/flashdispatch.yml").read_text())
    assert providers["providers"][0]["type"] == "file"


def test_generated_dashboards_are_up_to_date(tmp_path: Path) -> None:
    written = generator.write_dashboards(tmp_path)
    assert sorted(p.name for p in written) == [p.name for p in DASHBOARDS]
    for path in written:
        committed = GRAFANA / "dashboards" / path.name
        assert path.read_text() == committed.read_text(), (
            f"{committed} is stale: run .venv/bin/python deploy/grafana/generate_dashboards.py"
        )


def test_generator_runs_as_a_script(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(GRAFANA / "generate_dashboards.py"), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert len(list(tmp_path.glob("*.json"))) == len(DASHBOARDS)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_reads_back_with_the_sdk(path: Path) -> None:
    from grafana_foundation_sdk.models.dashboard import Dashboard

    model = Dashboard.from_json(dashboard(path))
    assert model.uid == dashboard(path)["uid"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_has_zone_variable_and_unique_panel_ids(path: Path) -> None:
    data = dashboard(path)
    (zone,) = [v for v in data["templating"]["list"] if v["name"] == "zone"]
    assert zone["query"] == "label_values(flashdispatch_orders_placed_total, zone)"
    assert zone["includeAll"] and zone["allValue"] == ".*"
    ids = [p["id"] for p in queries_module.iter_panels(data["panels"])]
    assert len(ids) == len(set(ids))
    assert '"options": null' not in path.read_text()


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_has_a_query_on_known_metrics(path: Path) -> None:
    allowed = KNOWN_METRICS | recorded_names()
    for panel in panels(path):
        exprs = [t.get("expr", "") for t in panel.get("targets", [])]
        assert exprs and all(exprs), f"panel {panel['title']!r} has no query"
        for expr in exprs:
            names = metric_names(expr)
            assert names, f"{panel['title']!r}: no metric in {expr}"
            assert names <= allowed, f"{panel['title']!r}: unknown {names - allowed}"
            assert panel["datasource"]["uid"] == "prometheus"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_zone_filters_are_regex_and_rates_use_rate_interval(path: Path) -> None:
    for expr in queries_module.raw_queries(dashboard(path)):
        if "$zone" in expr:
            assert 'zone=~"$zone"' in expr and not re.search(r'zone\s*=\s*"\$zone"', expr)
        # zone-labelled metrics are filtered by the variable
        if re.search(r"flashdispatch_(orders_placed|order_outcomes|delivery_duration)", expr):
            assert "$zone" in expr, expr


def test_panel_queries_substitutes_macros() -> None:
    data = {
        "panels": [
            {
                "type": "row",
                "panels": [
                    {
                        "targets": [
                            {"expr": 'sum(rate(x{zone=~"$zone"}[$__rate_interval]))'},
                            {"expr": 'increase(x{zone=~"${zone}"}[$__range]) / $__interval'},
                        ]
                    }
                ],
            }
        ]
    }
    assert queries_module.panel_queries(data) == [
        'sum(rate(x{zone=~".*"}[1m]))',
        'increase(x{zone=~".*"}[1h]) / 15s',
    ]


@pytest.mark.parametrize(
    "expr", ['x{zone="$zone"}', "rate(x[$unknown])"], ids=["equality-matcher", "unknown-variable"]
)
def test_panel_queries_rejects_queries_prometheus_would_misread(expr: str) -> None:
    with pytest.raises(ValueError):
        queries_module.panel_queries({"panels": [{"targets": [{"expr": expr}]}]})


def test_without_padding_drops_only_the_zero_fallbacks() -> None:
    drop = queries_module.without_padding
    assert drop("(sum(rate(x[1m])) or vector(0))\n  / sum(rate(y[1m]))") == "(sum(rate(x[1m])))\n  / sum(rate(y[1m]))"
    assert drop('sum by (reason) (x)\n  or label_replace(vector(0), "reason", "none", "", "")') == "sum by (reason) (x)"
    assert drop("(sum by (r) (a)\n  or sum by (r) (b) * 0)\n  / sum by (r) (b)") == "(sum by (r) (a))\n  / sum by (r) (b)"
    # an `or` between two real series is not padding
    assert drop("sum(a) or sum(b)") == "sum(a) or sum(b)"
    assert drop("(sum(a) or sum(b) * 2) / 3") == "(sum(a) or sum(b) * 2) / 3"


def test_every_padded_panel_query_has_an_unpadded_form() -> None:
    padded = [q for path in DASHBOARDS for q in queries_module.panel_queries(path) if "vector(0)" in q or "* 0" in q]
    assert padded, "no panel pads with zero: the live test's padding check would test nothing"
    for expr in padded:
        bare = queries_module.without_padding(expr)
        assert "vector(0)" not in bare and not re.search(r"\*\s*0\b", bare), bare


def test_dashboards_use_the_service_objective() -> None:
    from dispatch.orders.sla import OBJECTIVE

    assert generator.SLO_TARGET == OBJECTIVE
    assert generator.ERROR_BUDGET == 1 - OBJECTIVE


def test_every_substituted_panel_query_parses_as_promql(promtool: str, tmp_path: Path) -> None:
    # promtool has no "parse this expression" command; a rule file of records does the job.
    rules = [
        {"record": f"check:panel_query_{i}", "expr": expr}
        for i, expr in enumerate(q for path in DASHBOARDS for q in queries_module.panel_queries(path))
    ]
    assert len(rules) >= 30
    rule_file = tmp_path / "panel_queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(rule_file)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
