"""The rain comparison: one row per run with the figures the issue asks for, and a chart."""

from __future__ import annotations

import json

from dispatch.sim.rain_report import comparison_table, write_comparison


def run_figures(*, refused: int, extended: int, added: int, promise: float, plain: float, switches: list) -> dict:
    return {
        "rain": {"from_min": 120.0, "until_min": 180.0, "slowdown": 0.35, "demand_factor": 1.5,
                 "lever": switches[0][3] if switches else None, "busy_stores": {"shop-004": 10.0}},
        "orders_placed": 1800 - refused, "refused_over_capacity": refused,
        "promises_extended": extended, "promise_minutes_added": added,
        "on_time_vs_promise_delivered": promise, "on_time_vs_30min_delivered": plain,
        "rain_on_time_vs_promise": promise - 0.1, "rain_on_time_vs_30min": plain - 0.1,
        "promise_error_min_p50": 2.1, "promise_error_min_p90": 12.7,
        "rain_promise_error_min_p90": 20.5, "rain_promise_error_min_bias": 9.25,
        "operator_readings": [[150.0, "west", 0.97], [155.0, "west", 0.93], [155.0, "east", 0.99]],
        "operator_switches": switches,
    }


RUNS = {
    "no action": run_figures(refused=0, extended=0, added=0, promise=0.837, plain=0.837,
                             switches=[[155.0, "west", 0.93, None]]),
    "extend": run_figures(refused=0, extended=120, added=400, promise=0.9, plain=0.82,
                          switches=[[155.0, "west", 0.93, "extend"]]),
    "refuse": run_figures(refused=85, extended=0, added=0, promise=0.88, plain=0.88, switches=[]),
}


def test_comparison_table_has_a_row_per_run_with_both_shares_refusals_and_promise_error():
    rows = comparison_table(RUNS).splitlines()
    assert len(rows) == 5 and rows[1].count("|") == rows[0].count("|") == rows[2].count("|")
    no_action, extend, refuse = (r.split(" | ") for r in rows[2:])
    assert no_action[1] == "(would) west 12:35 (93.0%)" and extend[1] == "west 12:35 (93.0%)"
    assert refuse[1] == "none" and refuse[3] == "85"
    assert extend[4:7] == ["120 (400)", "90.0%", "82.0%"]  # the promise given and the plain 30 minutes differ
    assert extend[7] == "80.0% / 72.0%" and extend[8] == "2.1 / 12.7" and extend[9] == "20.5 / +9.25 |"


def test_write_comparison_writes_the_table_every_run_and_a_chart(tmp_path):
    written = write_comparison(RUNS, tmp_path, command="flashdispatch demo --scenario rain")
    assert [p.name for p in written] == ["rain-comparison.md", "rain-comparison.json", "rain-comparison.png"]
    assert comparison_table(RUNS) in written[0].read_text() and "shop-004" in written[0].read_text()
    assert json.loads(written[1].read_text()) == RUNS
    assert written[2].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and written[2].stat().st_size > 20_000
