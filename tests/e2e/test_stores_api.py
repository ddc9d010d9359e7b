"""Stores and stock through real HTTP and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import json
import random

from tests.conftest import OPERATOR, bearer, make_token


def store_body(network, node: int = 0, **extra):
    return {
        "name": "Corner Shop",
        "location": {"lat": float(network.lat[node]), "lon": float(network.lon[node])},
        "zone": "nanshan",
        **extra,
    }


async def register(client, network, store_id="s1", node=0, **extra):
    response = await client.put(f"/v1/stores/{store_id}", json=store_body(network, node, **extra), headers=OPERATOR)
    assert response.status in (200, 201), await response.text()
    return await response.json()


async def stock_rows(db, store_id="s1"):
    return {r["sku"]: (r["on_hand"], r["reserved"]) for r in await db.fetch(
        "SELECT sku, on_hand, reserved FROM stock WHERE store_id = $1", store_id)}


async def test_register_store_is_idempotent_and_reports_created(client, db, road_network):
    first = await client.put("/v1/stores/s1", json=store_body(road_network), headers=OPERATOR)
    assert first.status == 201
    again = await client.put("/v1/stores/s1", json=store_body(road_network, pick_minutes=7), headers=OPERATOR)
    assert again.status == 200
    body = await again.json()
    assert body["pick_minutes"] == 7 and body["radius_minutes"] == 20 and body["stock_version"] == 0
    assert await db.fetchval("SELECT count(*) FROM stores") == 1


async def test_register_store_off_the_network_is_out_of_area_and_writes_nothing(client, db):
    response = await client.put(
        "/v1/stores/far", json={"name": "x", "location": {"lat": 48.85, "lon": 2.35}, "zone": "paris"},
        headers=OPERATOR,
    )
    assert response.status == 422
    assert (await response.json())["error"] == "out_of_area"
    assert await db.fetchval("SELECT count(*) FROM stores") == 0


async def test_snapshot_replaces_on_hand_and_zeroes_absent_skus(client, db, road_network):
    await register(client, road_network)
    r1 = await client.put("/v1/stores/s1/stock", json={"version": 1, "items": [
        {"sku": "milk", "quantity": 5}, {"sku": "eggs", "quantity": 12}]}, headers=OPERATOR)
    assert r1.status == 200, await r1.text()
    r2 = await client.put("/v1/stores/s1/stock", json={"version": 2, "items": [
        {"sku": "milk", "quantity": 3}]}, headers=OPERATOR)
    assert r2.status == 200
    assert await stock_rows(db) == {"milk": (3, 0), "eggs": (0, 0)}
    got = await (await client.get("/v1/stores/s1/stock?sku=milk&sku=eggs&sku=none", headers=OPERATOR)).json()
    assert got["version"] == 2
    assert got["items"] == [
        {"sku": "milk", "on_hand": 3, "reserved": 0, "available": 3},
        {"sku": "eggs", "on_hand": 0, "reserved": 0, "available": 0},
        {"sku": "none", "on_hand": 0, "reserved": 0, "available": 0},
    ]


async def test_stale_or_repeated_version_is_409_and_changes_nothing(client, db, road_network):
    await register(client, road_network)
    ok = await client.put("/v1/stores/s1/stock", json={"version": 5, "items": [{"sku": "a", "quantity": 1}]}, headers=OPERATOR)
    assert ok.status == 200
    for version in (5, 4):
        response = await client.put("/v1/stores/s1/stock", json={"version": version, "items": [{"sku": "a", "quantity": 9}]}, headers=OPERATOR)
        assert response.status == 409
        assert (await response.json())["error"] == "stale_version"
        delta = await client.patch("/v1/stores/s1/stock", json={"version": version, "changes": [{"sku": "a", "delta": 3}]}, headers=OPERATOR)
        assert delta.status == 409
    assert await stock_rows(db) == {"a": (1, 0)}
    assert await db.fetchval("SELECT stock_version FROM stores") == 5


async def test_delta_applies_relative_and_absolute_changes(client, db, road_network):
    await register(client, road_network)
    await client.put("/v1/stores/s1/stock", json={"version": 1, "items": [{"sku": "a", "quantity": 10}]}, headers=OPERATOR)
    response = await client.patch("/v1/stores/s1/stock", json={"version": 2, "changes": [
        {"sku": "a", "delta": -4}, {"sku": "b", "delta": 7}, {"sku": "c", "quantity": 2}]}, headers=OPERATOR)
    assert response.status == 200, await response.text()
    assert await stock_rows(db) == {"a": (6, 0), "b": (7, 0), "c": (2, 0)}


async def test_negative_delta_rejects_whole_body_without_using_its_version(client, db, road_network):
    await register(client, road_network)
    await client.put("/v1/stores/s1/stock", json={"version": 1, "items": [{"sku": "a", "quantity": 2}, {"sku": "b", "quantity": 2}]}, headers=OPERATOR)
    response = await client.patch("/v1/stores/s1/stock", json={"version": 2, "changes": [
        {"sku": "b", "delta": 5}, {"sku": "a", "delta": -3}]}, headers=OPERATOR)
    assert response.status == 422
    body = await response.json()
    assert body["error"] == "negative_stock" and body["skus"] == ["a"]
    assert await stock_rows(db) == {"a": (2, 0), "b": (2, 0)}
    retry = await client.patch("/v1/stores/s1/stock", json={"version": 2, "changes": [{"sku": "a", "delta": -2}]}, headers=OPERATOR)
    assert retry.status == 200
    assert await stock_rows(db) == {"a": (0, 0), "b": (2, 0)}


async def test_concurrent_syncs_with_shuffled_versions_end_at_the_highest(client, db, road_network):
    await register(client, road_network)
    versions = list(range(1, 41))
    random.Random(7).shuffle(versions)

    async def sync(v: int):
        return await client.put("/v1/stores/s1/stock", json={"version": v, "items": [
            {"sku": "a", "quantity": v}, {"sku": f"only-{v}", "quantity": 1}]}, headers=OPERATOR)

    responses = await asyncio.gather(*(sync(v) for v in versions))
    assert {r.status for r in responses} <= {200, 409}
    assert any(r.status == 200 for r in responses)
    rows = await stock_rows(db)
    assert rows["a"] == (40, 0)
    assert {sku for sku, (on_hand, _) in rows.items() if on_hand} == {"a", "only-40"}
    assert await db.fetchval("SELECT stock_version FROM stores") == 40


BAD_SNAPSHOTS = [
    (b"{not json", 400, "malformed_json"),
    ("{\"version\": 1, \"items\": []}".encode("utf-16"), 400, "malformed_json"),
    (b"\xff\xfe\xfa", 400, "malformed_json"),
    (b"[1, 2]", 400, "malformed_json"),
    (json.dumps({"version": 1}).encode(), 422, "invalid"),
    (json.dumps({"version": "1", "items": []}).encode(), 422, "invalid"),
    (json.dumps({"version": 1.5, "items": []}).encode(), 422, "invalid"),
    (json.dumps({"version": 0, "items": []}).encode(), 422, "invalid"),
    (json.dumps({"version": 1, "items": [{"sku": "a", "quantity": -1}]}).encode(), 422, "invalid"),
    (json.dumps({"version": 1, "items": [{"sku": "", "quantity": 1}]}).encode(), 422, "invalid"),
    (json.dumps({"version": 1, "items": [{"sku": "a", "quantity": "3"}]}).encode(), 422, "invalid"),
    (json.dumps({"version": 1, "items": [{"sku": "a", "quantity": True}]}).encode(), 422, "invalid"),
    (json.dumps({"version": 1, "items": [{"sku": "a", "quantity": 1}, {"sku": "a", "quantity": 2}]}).encode(), 422, "invalid"),
    (json.dumps({"version": 1, "items": "all"}).encode(), 422, "invalid"),
]


async def test_bad_snapshots_get_clear_4xx_and_change_nothing(client, db, road_network):
    await register(client, road_network)
    await client.put("/v1/stores/s1/stock", json={"version": 1, "items": [{"sku": "keep", "quantity": 4}]}, headers=OPERATOR)
    for raw, status, code in BAD_SNAPSHOTS:
        response = await client.put("/v1/stores/s1/stock", data=raw,
                                    headers={**OPERATOR, "Content-Type": "application/json"})
        assert response.status == status, (raw[:60], await response.text())
        body = await response.json()
        assert body["error"] == code and body["detail"], body
        if code == "invalid":
            assert body["fields"]
    assert await stock_rows(db) == {"keep": (4, 0)}
    assert await db.fetchval("SELECT stock_version FROM stores") == 1


async def test_bad_deltas_get_clear_4xx_and_change_nothing(client, db, road_network):
    await register(client, road_network)
    await client.put("/v1/stores/s1/stock", json={"version": 1, "items": [{"sku": "keep", "quantity": 4}]}, headers=OPERATOR)
    for body, status in [
        ({"version": 2}, 422),
        ({"version": 2, "items": [{"sku": "keep", "quantity": 1}]}, 422),
        ({"version": 2, "changes": [{"sku": "keep"}]}, 422),
        ({"version": 2, "changes": [{"sku": "keep", "delta": 1, "quantity": 3}]}, 422),
        ({"version": 2, "changes": [{"sku": "keep", "delta": 0.5}]}, 422),
        ({"version": None, "changes": []}, 422),
    ]:
        response = await client.patch("/v1/stores/s1/stock", json=body, headers=OPERATOR)
        assert response.status == status, (body, await response.text())
        assert (await response.json())["error"] == "invalid"
    assert await stock_rows(db) == {"keep": (4, 0)}
    assert await db.fetchval("SELECT stock_version FROM stores") == 1


async def test_oversized_body_is_413_and_changes_nothing(client, db, road_network):
    await register(client, road_network)
    huge = b'{"version": 1, "items": [' + b'{"sku": "x", "quantity": 1},' * 1_300_000 + b"]}"
    response = await client.put("/v1/stores/s1/stock", data=io.BytesIO(huge), headers={**OPERATOR, "Content-Type": "application/json"})
    assert response.status == 413
    assert (await response.json())["error"] == "body_too_large"
    assert await stock_rows(db) == {}


async def test_stock_auth_scopes(client, db, road_network):
    await register(client, road_network, "s1")
    await register(client, road_network, "s2", node=5)
    own = await make_token(client, "store", store_id="s1")
    courier = await make_token(client, "courier", courier_id="c1")
    orders = await make_token(client, "order_system")
    snapshot = {"version": 1, "items": [{"sku": "a", "quantity": 1}]}
    assert (await client.put("/v1/stores/s1/stock", json=snapshot)).status == 401
    assert (await client.put("/v1/stores/s1/stock", json=snapshot, headers=bearer("nope"))).status == 401
    assert (await client.put("/v1/stores/s2/stock", json=snapshot, headers=own)).status == 403
    assert (await client.get("/v1/stores/s2/stock", headers=own)).status == 403
    for other in (courier, orders):
        response = await client.put("/v1/stores/s1/stock", json=snapshot, headers=other)
        assert response.status == 403
        assert (await response.json())["error"] == "forbidden"
        assert (await client.patch("/v1/stores/s1/stock", json={"version": 1, "changes": []}, headers=other)).status == 403
    assert (await client.put("/v1/stores/s3", json=store_body(road_network), headers=own)).status == 403
    assert await stock_rows(db, "s1") == {} and await stock_rows(db, "s2") == {}
    assert (await client.put("/v1/stores/s1/stock", json=snapshot, headers=own)).status == 200
    assert (await client.get("/v1/stores/s1/stock", headers=orders)).status == 200


async def test_revoked_token_is_refused_at_once(client, db, road_network):
    await register(client, road_network)
    created = await (await client.post("/v1/tokens", json={"role": "store", "store_id": "s1"}, headers=OPERATOR)).json()
    token = bearer(created["token"])
    assert (await client.get("/v1/stores/s1/stock", headers=token)).status == 200
    listed = await (await client.get("/v1/tokens", headers=OPERATOR)).json()
    assert created["token_id"] in {t["token_id"] for t in listed["tokens"]}
    assert all("token" not in t for t in listed["tokens"])
    assert (await client.delete(f"/v1/tokens/{created['token_id']}", headers=OPERATOR)).status == 200
    assert (await client.get("/v1/stores/s1/stock", headers=token)).status == 401
    stored = await db.fetchval("SELECT token_hash FROM tokens WHERE token_id = $1", created["token_id"])
    assert created["token"].encode() not in stored and len(stored) == 32


async def test_stock_listing_pages_in_sku_order(client, db, road_network):
    await register(client, road_network)
    items = [{"sku": f"sku-{i:04d}", "quantity": i} for i in range(25)]
    await client.put("/v1/stores/s1/stock", json={"version": 1, "items": items}, headers=OPERATOR)
    first = await (await client.get("/v1/stores/s1/stock?limit=10", headers=OPERATOR)).json()
    assert [x["sku"] for x in first["items"]] == [f"sku-{i:04d}" for i in range(10)]
    second = await (await client.get(f"/v1/stores/s1/stock?limit=10&after={first['next_after']}", headers=OPERATOR)).json()
    assert second["items"][0]["sku"] == "sku-0010"
