"""The `flashdispatch bench …` commands in tiny configurations: the last line is the JSON summary.

Correctness only (keys present, no errors, nothing lost); speed is for the benchmarks themselves.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

import pytest

from dispatch.commands import bench_intake, bench_load, bench_stock_sync, bench_webhooks
from dispatch.settings import RateLimits, Settings
from tests.conftest import ROOT


@pytest.fixture
def settings() -> Settings:
    return Settings(home=ROOT / ".flashdispatch" / "test", database_url=os.environ.get("DATABASE_URL"))


def arguments(module, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    module.configure(parser)
    return parser.parse_args(argv)


def last_line_json(capsys) -> dict:
    lines = capsys.readouterr().out.strip().splitlines()
    return json.loads(lines[-1])


def test_bench_stock_sync_prints_its_figures(settings, capsys):
    code = bench_stock_sync.run(arguments(bench_stock_sync, "--skus", "2000", "--delta", "100",
                                          "--repeat", "1"), settings)
    summary = last_line_json(capsys)
    assert code == 0 and summary["errors"] == 0
    assert {"snapshot_skus_per_s", "snapshot_s", "delta_1000_ms"} <= set(summary)
    assert summary["snapshot_s"] > 0 and summary["delta_1000_ms"] > 0


def test_bench_intake_prints_its_figures(settings, capsys):
    # a budget of one order a second: the bench measures intake, so it lifts the limit (no 429s)
    tight = dataclasses.replace(settings, rate_limits=RateLimits(orders_per_s=1.0, orders_burst=1.0))
    code = bench_intake.run(arguments(bench_intake, "--stores", "5", "--seconds", "1", "--concurrency", "4",
                                      "--load-generator", "python"), tight)
    summary = last_line_json(capsys)
    assert code == 0 and summary["errors"] == 0
    assert {"orders_per_s", "p50_ms", "p99_ms", "noop_rps", "ratio", "errors", "stores",
            "synchronous_commit"} <= set(summary)
    assert summary["orders"] > 0 and summary["synchronous_commit"] == "on"
    assert summary["lost_orders"] == 0 and summary["reservation_mismatches"] == 0
    assert summary["orders_in_database"] >= summary["orders"]


def test_bench_intake_workers_measures_each_group_and_loses_nothing(settings, capsys):
    code = bench_intake.run(arguments(bench_intake, "--stores", "5", "--seconds", "1", "--concurrency", "4",
                                      "--load-generator", "python", "--workers", "2"), settings)
    summary = last_line_json(capsys)
    assert code == 0 and summary["errors"] == 0
    assert [w["workers"] for w in summary["workers"]] == [1, 2]
    assert all(w["orders_per_s"] > 0 and w["service_cpu_ms_per_order"] > 0 for w in summary["workers"])
    assert summary["workers"][0]["scaling"] == 1.0 and summary["scaling"] > 0
    assert summary["lost_orders"] == 0 and summary["reservation_mismatches"] == 0


def test_bench_load_prints_its_figures_and_loses_nothing(settings, capsys):
    code = bench_load.run(arguments(bench_load, "--seconds", "1", "--stores", "5", "--couriers", "3",
                                    "--concurrency", "8", "--flood-seconds", "1", "--levels", "0.5"), settings)
    summary = last_line_json(capsys)
    assert [p["name"] for p in summary["phases"]] == ["capacity", "50% rounds off", "50% rounds on"]
    for phase in summary["phases"]:
        for name in ("orders", "stock_deltas", "positions", "order_reads", "all"):
            assert set(phase[name]) == {"rps", "p50_ms", "p99_ms", "errors"}
            assert phase[name]["errors"] == 0
        assert phase["lost_orders"] == 0 and phase["reservation_mismatches"] == 0
        assert phase["orders_in_database"] > 0 and phase["client_cpu_ms_per_request"] > 0
        assert phase["wal_mb"] > 0  # the orders were written
        assert phase["service_cpu_s"] > 0 and phase["database_cpu_s"]["flashdispatch-api"] > 0
    assert summary["phases"][1]["rounds"] == 0  # rounds off: only the one at start, before the load
    assert summary["phases"][1]["target_rps"] == pytest.approx(summary["capacity_rps"] / 2, rel=0.01)
    assert set(summary["p99_ratio_rounds_on_off"]["0.5"]) == {"orders", "stock_deltas", "positions",
                                                              "order_reads", "all"}
    assert summary["server_errors_5xx"] == 0 and summary["lost_orders"] == 0
    assert summary["bad_token_slowdown"] > 0
    assert code == 0


def test_bench_round_prints_rounds_and_growth_exponent(settings, capsys, tmp_path):
    from dispatch.commands import bench_round

    tiny = ROOT / "tests" / "data" / "mdrp" / "tiny"
    code = bench_round.run(arguments(bench_round, "--instance", str(tiny), "--ks", "1,2,4", "--repeats", "2",
                                     "--synthetic", "0", "--round-cache", str(tmp_path / "round.json")), settings)
    summary = last_line_json(capsys)
    assert code == 0 and (tmp_path / "round.json").is_file()
    rows = summary["rounds"]
    assert [r["k"] for r in rows] == [1, 2, 4]
    assert {"k", "open_orders", "couriers", "round_ms_p50", "round_ms_p99", "round_ms_max"} <= set(rows[0])
    assert [r["open_orders"] for r in rows] == [rows[0]["open_orders"] * k for k in (1, 2, 4)]
    assert [r["couriers"] for r in rows] == [rows[0]["couriers"] * k for k in (1, 2, 4)]
    assert all(0 < r["round_ms_p50"] <= r["round_ms_p99"] <= r["round_ms_max"] for r in rows)
    assert isinstance(summary["growth_exponent"], float)


def test_bench_round_synthetic_rounds_on_a_small_network(settings, capsys):
    from dispatch.commands import bench_round

    network = ROOT / "tests" / "data" / "osm" / "shenzhen-longgang.osm"
    code = bench_round.run(arguments(bench_round, "--ks", "1,2", "--repeats", "1", "--synthetic", "10",
                                     "--road-network", str(network)), settings)
    rows = last_line_json(capsys)["rounds"]
    assert code == 0
    assert [(r["source"], r["open_orders"], r["couriers"]) for r in rows] == [
        ("synthetic", 10, 8), ("synthetic", 20, 15)]


def test_bench_webhooks_prints_its_figures_and_loses_nothing(settings, capsys):
    code = bench_webhooks.run(arguments(bench_webhooks, "--orders", "40", "--stores", "3", "--concurrency", "4"),
                              settings)
    summary = last_line_json(capsys)
    assert {"events_per_s", "lag_p50_ms", "lag_p99_ms", "duplicates", "lost"} <= set(summary)
    assert summary["events"] == 60 and summary["lost"] == 0 and summary["duplicates"] == 0
    assert summary["signature_failures"] == 0 and summary["errors"] == 0 and summary["lag_p50_ms"] > 0
    assert code == 0
