"""The real service scraped by a real Prometheus: every dashboard panel query returns data.

A scripted run through the HTTP API (stores, couriers, stock syncs, orders over several seconds
of wall time, dispatch rounds, pickups and deliveries, one order stuck past its promise, one
cancelled, one refused for stock, a delta and a stale sync) while Prometheus scrapes every
second; then every panel query of every dashboard (macros replaced by
deploy/grafana/panel_queries.py) is evaluated as an instant query and must return data, also
without its zero fallbacks (``or vector(0)``…): the metrics behind it must really have series.
``promtool check metrics`` must find nothing to say about the final scrape.
"""

from __future__ import annotations

import asyncio
import math
import subprocess
import time
from pathlib import Path

from dispatch.keys import METRICS, SERVICES
from tests.conftest import OPERATOR, make_token
from tests.e2e.test_dispatch_flow import add_courier
from tests.e2e.test_orders_api import add_store, layout, order, point  # noqa: F401  (fixture)
from tests.observability.conftest import DASHBOARDS, load_panel_queries, require_binary

STUCK = "stuck-1"  # placed, never delivered: the sweeper counts it late at its promise
COURIERS = ("c1", "c2", "c3")
RUN_S = 8.0  # wall time of the main run, after Prometheus's first scrape
# The run answers no 5xx: that panel's data is its zero fallback, 0 for every route.
NO_DATA_BY_DESIGN = 'status=~"5.."'


def dashboard_queries() -> list[tuple[str, str]]:
    module = load_panel_queries()
    paths = sorted(DASHBOARDS.glob("*.json"))
    assert len(paths) >= 3, paths
    return [(path.stem, q) for path in paths for q in module.panel_queries(path)]


async def courier_step(client, tokens, network, node) -> int:
    """Each courier reports its position and works its next stop (never the stuck drop-off)."""
    events = 0
    for courier_id, token in tokens.items():
        moved = await client.post(f"/v1/couriers/{courier_id}/positions",
                                  json={"positions": [point(network, node)]}, headers=token)
        assert moved.status == 202, await moved.text()
        tasks = await (await client.get(f"/v1/couriers/{courier_id}/tasks", headers=token)).json()
        for stop in tasks["stops"]:
            if stop["kind"] == "dropoff" and stop["order_ids"] == [STUCK]:
                continue
            kind = "picked_up" if stop["kind"] == "pickup" else "delivered"
            for order_id in stop["order_ids"]:
                response = await client.post(f"/v1/couriers/{courier_id}/events",
                                             json={"order_id": order_id, "type": kind}, headers=token)
                assert response.status == 200, await response.text()
                events += 1
            break
    return events


async def scripted_run(client, network, layout, clock, prometheus) -> dict[str, float]:  # noqa: F811
    dispatcher = client.app[SERVICES].dispatcher
    await add_store(client, network, "s1", layout["near"], {"milk": 500, "rare": 1})
    system = await make_token(client, "order_system")
    store = await make_token(client, "store", store_id="s1")

    async def place(order_id: str, **items: int):
        return await client.post("/v1/orders", json=order(order_id, network, layout["drop"], **items), headers=system)

    # the stuck order: placed while nobody is on shift; never delivered
    assert (await place(STUCK, milk=1)).status == 201
    assert (await dispatcher.tick()).late == 0
    # everything that counts happens after Prometheus's first scrape, so every counter is seen
    # moving (a counter first seen at 1 shows no increase)
    await prometheus.wait_up()
    clock.advance(31 * 60)  # its promise passes: the sweeper counts it late, once
    assert (await dispatcher.tick()).late == 1
    assert (await dispatcher.tick()).late == 0
    # one cancelled, one refused for stock, a delta, a stale snapshot
    assert (await place("cancel-1", milk=1)).status == 201
    assert (await client.post("/v1/orders/cancel-1/cancel", headers=system)).status == 200
    refused = await place("oos-1", rare=5)
    assert refused.status == 409 and (await refused.json())["error"] == "out_of_stock"
    delta = await client.patch("/v1/stores/s1/stock", json={"version": 2, "changes": [{"sku": "milk", "delta": 5}]},
                               headers=OPERATOR)
    assert delta.status == 200, await delta.text()
    stale = await client.put("/v1/stores/s1/stock", json={"version": 1, "items": [{"sku": "milk", "quantity": 1}]},
                             headers=OPERATOR)
    assert stale.status == 409 and (await stale.json())["error"] == "stale_version"
    tokens = {c: await add_courier(client, network, c, layout["near"]) for c in COURIERS}

    # counters must move across scrapes: orders, rounds and deliveries over RUN_S of wall time
    placed, i = [], 0
    ends = time.monotonic() + RUN_S
    while time.monotonic() < ends:
        order_id = f"o{i}"
        assert (await place(order_id, milk=1)).status == 201
        # packed at once: ready now, so the next round commits a courier (no pick queue to wait on)
        assert (await client.post(f"/v1/stores/s1/orders/{order_id}/packed", headers=store)).status == 200
        placed.append(order_id)
        await dispatcher.tick()
        await courier_step(client, tokens, network, layout["near"])
        clock.advance(20)
        i += 1
        await asyncio.sleep(0.2)
    # finish every order but the stuck one (bounded)
    for _ in range(60):
        rows = [await (await client.get(f"/v1/orders/{o}", headers=system)).json() for o in placed]
        if all(r["status"] == "delivered" for r in rows):
            break
        await dispatcher.tick()
        await courier_step(client, tokens, network, layout["near"])
        clock.advance(20)
    else:
        raise AssertionError(f"orders not delivered: {[(r['order_id'], r['status']) for r in rows]}")
    await dispatcher.tick()  # final gauges

    registry = client.app[METRICS].registry
    expected = {
        'flashdispatch_orders_placed_total{zone="nanshan"}': len(placed) + 2,
        'flashdispatch_order_outcomes_total{zone="nanshan",outcome="on_time"}': len(placed),
        'flashdispatch_order_outcomes_total{zone="nanshan",outcome="late"}': 1,
        'flashdispatch_order_outcomes_total{zone="nanshan",outcome="cancelled"}': 1,
        'flashdispatch_order_outcomes_total{zone="nanshan",outcome="failed"}': 0,
        'flashdispatch_order_rejections_total{reason="out_of_stock"}': 1,
        'flashdispatch_stock_syncs_total{kind="delta",result="applied"}': 1,
        'flashdispatch_stock_syncs_total{kind="snapshot",result="stale"}': 1,
        'flashdispatch_stock_syncs_total{kind="snapshot",result="applied"}': 1,
        'flashdispatch_delivery_duration_seconds_count{zone="nanshan"}': len(placed),
        'flashdispatch_orders_in_flight{zone="nanshan",stage="picked_up"}': 1,
        'flashdispatch_orders_at_risk{zone="nanshan"}': 1,
    }
    for selector, value in expected.items():
        name, _, labels = selector.partition("{")
        pairs = dict(p.split("=") for p in labels.rstrip("}").split(","))
        got = registry.get_sample_value(name, {k: v.strip('"') for k, v in pairs.items()})
        assert got == value, (selector, got, value)
    return expected


def prometheus_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """histogram_quantile as Prometheus 2.42 computes it (promql/quantile.go, bucketQuantile) from
    cumulative (upper bound, count) buckets ending with +Inf: the oracle for the exact value."""
    buckets = sorted(buckets)
    assert math.isinf(buckets[-1][0]) and len(buckets) >= 2
    rank = q * buckets[-1][1]
    b = next((i for i in range(len(buckets) - 1) if buckets[i][1] >= rank), len(buckets) - 1)
    if b == len(buckets) - 1:
        return buckets[-2][0]
    start, count = 0.0, buckets[b][1]
    if b > 0:
        start = buckets[b - 1][0]
        count -= buckets[b - 1][1]
        rank -= buckets[b - 1][1]
    return start + (buckets[b][0] - start) * (rank / count)


async def test_every_panel_query_returns_data_from_a_real_scrape(
    client, road_network, layout, clock, prometheus_for  # noqa: F811
):
    queries = dashboard_queries()
    without_padding = load_panel_queries().without_padding
    prometheus = prometheus_for(f"127.0.0.1:{client.server.port}")
    expected = await scripted_run(client, road_network, layout, clock, prometheus)

    # Prometheus has scraped the final state: every expected value, then one more scrape
    for selector, value in expected.items():
        await prometheus.wait_value(selector, value)
    scrapes = await prometheus.value('count_over_time(up{job="flashdispatch"}[10m])')
    await prometheus.wait_for(
        "one more scrape",
        lambda: _more(prometheus, 'count_over_time(up{job="flashdispatch"}[10m])', scrapes),
    )

    empty = []
    for dashboard, expr in queries:
        padded = await prometheus.query(expr)
        bare = without_padding(expr)
        result = await prometheus.query(bare)
        if NO_DATA_BY_DESIGN in expr:
            assert result == [], (expr, result)  # no 5xx at all in the run
            # the fallback shows exactly 0 for every route with requests in the window (one instant)
            busy = "sum by (route) (rate(flashdispatch_http_requests_total[1m])) > 0"
            assert await prometheus.query(f"({expr}) != 0 and on (route) ({busy})") == [], padded
            assert await prometheus.query(f"({expr}) == 0"), padded
        elif not result or not padded:
            empty.append(f"[{dashboard}] {bare if padded else expr}")
    assert not empty, "panel queries with no data:\n" + "\n\n".join(empty)

    # and the data is the run's, exactly: the on-time share of resolved orders (every outcome
    # series starts at 0 in the same scrapes, so increase()'s extrapolation cancels out) ...
    outcomes = "flashdispatch_order_outcomes_total"
    on_time = await prometheus.value(
        f'sum(increase({outcomes}{{outcome="on_time"}}[1h])) / sum(increase({outcomes}{{outcome=~"on_time|late|failed"}}[1h]))'
    )
    delivered = expected['flashdispatch_order_outcomes_total{zone="nanshan",outcome="on_time"}']
    late = expected['flashdispatch_order_outcomes_total{zone="nanshan",outcome="late"}']
    assert on_time is not None and math.isclose(on_time, delivered / (delivered + late), rel_tol=1e-9), on_time
    # ... and the delivery-time quantile of the service's own histogram
    registry = client.app[METRICS].registry
    buckets = [(float(s.labels["le"]), s.value) for metric in registry.collect() for s in metric.samples
               if s.name == "flashdispatch_delivery_duration_seconds_bucket" and s.labels["zone"] == "nanshan"]
    p99 = await prometheus.value(
        'histogram_quantile(0.99, sum by (le) (flashdispatch_delivery_duration_seconds_bucket))'
    )
    assert p99 is not None and math.isclose(p99, prometheus_quantile(0.99, buckets), rel_tol=1e-9), (p99, buckets)
    assert p99 <= 1800  # every delivery within the promise
    assert await prometheus.value('flashdispatch_orders_at_risk{zone="nanshan"}') == 1
    # the final scrape passes promtool's lint
    body = await (await client.get("/metrics")).read()
    checked = subprocess.run([require_binary("promtool"), "check", "metrics"], input=body, capture_output=True,
                             timeout=30)
    assert checked.returncode == 0 and not (checked.stdout + checked.stderr).strip(), checked


async def _more(prometheus, expr: str, before: float | None) -> bool:
    now = await prometheus.value(expr)
    return now is not None and before is not None and now > before


async def test_promtool_finds_no_problem_in_a_real_scrape(client, road_network, layout, clock, prometheus_for):  # noqa: F811
    """Fresh service (every series at zero) and after traffic: `promtool check metrics` is silent."""
    promtool = require_binary("promtool")
    bodies = [await (await client.get("/metrics")).read()]
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5})
    system = await make_token(client, "order_system")
    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1), headers=system)
    await client.get("/v1/nope")
    await client.app[SERVICES].dispatcher.tick()
    bodies.append(await (await client.get("/metrics")).read())
    for body in bodies:
        assert b"flashdispatch_order_outcomes_total" in body
        checked = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
        assert checked.returncode == 0 and not checked.stdout.strip() and not checked.stderr.strip(), (
            checked.returncode, checked.stdout.decode(), checked.stderr.decode())


def test_dashboards_have_queries():
    assert len(dashboard_queries()) >= 30
    assert Path(DASHBOARDS).is_dir()
