"""Every endpoint of the route table × every way of being the wrong caller → 401/403, nothing written.

The cases are built from ``dispatch.app.endpoints()``: a new endpoint without a request body
here fails the test until someone adds one.
"""

from __future__ import annotations

from dispatch.app import endpoints
from tests.conftest import OPERATOR, bearer, make_token
from tests.e2e.test_orders_api import add_store, layout, order, point  # noqa: F401  (fixture)

ALL_ROLES = ("operator", "store", "order_system", "courier")


def bodies(network, node) -> dict[tuple[str, str], dict | None]:
    """A valid body for every endpoint that writes: what a forbidden caller must not achieve."""
    where = point(network, node)
    return {
        ("POST", "/v1/tokens"): {"role": "operator"},
        ("PUT", "/v1/stores/{store_id}"): {"name": "renamed", "location": where, "zone": "nanshan"},
        ("PUT", "/v1/stores/{store_id}/stock"): {"version": 5, "items": [{"sku": "milk", "quantity": 1}]},
        ("PATCH", "/v1/stores/{store_id}/stock"): {"version": 5, "changes": [{"sku": "milk", "delta": -1}]},
        ("POST", "/v1/orders"): order("o-new", network, node, milk=1),
        ("PUT", "/v1/couriers/{courier_id}"): {"name": "renamed", "zone": "nanshan", "capacity": 5},
        ("POST", "/v1/couriers/{courier_id}/shift"): {"state": "on", "position": where},
        ("POST", "/v1/couriers/{courier_id}/positions"): {"positions": [where]},
        ("POST", "/v1/couriers/{courier_id}/events"): {"order_id": "o1", "type": "rejected"},
        ("POST", "/v1/orders/{order_id}/hold"): {"reason": "forbidden hold"},
        ("POST", "/v1/orders/{order_id}/release"): {"reason": "forbidden release"},
        ("POST", "/v1/orders/{order_id}/reassign"): {"courier_id": "c1", "reason": "forbidden move"},
        ("PUT", "/v1/stores/{store_id}/status"): {"status": "paused", "reason": "forbidden pause"},
        ("PUT", "/v1/zones/{zone}/mode"): {"closed": True, "reason": "forbidden closure"},
        ("POST", "/v1/webhooks"): {"url": "https://example.com/hooks"},
        ("POST", "/v1/stores/{store_id}/orders/{order_id}/pick-result"): {"lines": [{"sku": "milk", "picked": 0}]},
    }


async def snapshot(db) -> tuple:
    tables = ("orders", "order_events", "order_lines", "routes", "courier_positions", "couriers", "stores",
              "stock_syncs", "tokens", "zone_modes", "operator_actions", "webhook_endpoints", "webhook_deliveries")
    counts = [await db.fetchval(f"SELECT count(*) FROM {t}") for t in tables]
    return (*counts,
            await db.fetchval("SELECT array_agg(on_hand || '/' || reserved ORDER BY sku) FROM stock"),
            await db.fetchval("SELECT array_agg(stock_version::text || name ORDER BY store_id) FROM stores"),
            await db.fetchval("SELECT array_agg(name || capacity || on_shift ORDER BY courier_id) FROM couriers"),
            await db.fetchval("SELECT array_agg(status ORDER BY order_id) FROM orders"),
            await db.fetchval("SELECT count(*) FROM tokens WHERE revoked_at IS NOT NULL"))


async def test_every_endpoint_refuses_the_wrong_caller(client, db, road_network, layout):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    await add_store(client, road_network, "s2", layout["near"], {"milk": 10})
    system = await make_token(client, "order_system")
    assert (await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1),
                              headers=system)).status == 201
    for courier_id in ("c1", "c2"):
        response = await client.put(f"/v1/couriers/{courier_id}", json={"name": courier_id, "zone": "nanshan"},
                                    headers=OPERATOR)
        assert response.status == 201
    tokens = {
        "operator": OPERATOR,
        "order_system": system,
        "store": await make_token(client, "store", store_id="s1"),
        "courier": await make_token(client, "courier", courier_id="c1"),
    }
    other_store = await make_token(client, "store", store_id="s2")
    other_courier = await make_token(client, "courier", courier_id="c2")
    revoked_response = await client.post("/v1/tokens", json={"role": "operator"}, headers=OPERATOR)
    revoked = await revoked_response.json()
    assert (await client.delete(f"/v1/tokens/{revoked['token_id']}", headers=OPERATOR)).status == 200
    victim_token = (await (await client.post("/v1/tokens", json={"role": "courier", "courier_id": "c1"},
                                              headers=OPERATOR)).json())["token_id"]
    params = {"store_id": "s1", "order_id": "o1", "courier_id": "c1", "token_id": victim_token, "zone": "nanshan",
              "webhook_id": "wh_0000000000000000", "delivery_id": "1"}
    writes = bodies(road_network, layout["drop"])
    before = await snapshot(db)
    checked = 0
    for ep in endpoints():
        if not ep.roles:
            assert ep.path in {"/healthz", "/readyz", "/metrics", "/openapi.json"}, f"{ep.path} is open"
            continue
        key = (ep.method, ep.path)
        assert ep.request is None or key in writes, f"add a valid body for {key} to this test"
        path = ep.path.format(**params)
        body = writes.get(key)
        cases: list[tuple[str, dict[str, str], int]] = [
            ("no token", {}, 401),
            ("not bearer", {"Authorization": "Basic b3BlcmF0b3I6eA=="}, 401),
            ("unknown token", bearer("fd_" + "A" * 43), 401),
            ("malformed token", bearer("x" * 600), 401),
            ("revoked token", bearer(revoked["token"]), 401),
        ]
        cases += [(f"wrong role {role}", tokens[role], 403) for role in ALL_ROLES if role not in ep.roles]
        if "{store_id}" in ep.path and "store" in ep.roles:
            cases.append(("wrong store", other_store, 403))
        if ep.path == "/v1/orders/{order_id}" and "store" in ep.roles:
            cases.append(("another store's order", other_store, 403))
        if "{courier_id}" in ep.path and "courier" in ep.roles:
            cases.append(("wrong courier", other_courier, 403))
        assert len(cases) > 5 or ep.roles == ALL_ROLES, f"{key}: no authorization case beyond 401"
        for name, headers, expected in cases:
            response = await client.request(ep.method, path, json=body, headers=headers)
            got = await response.json()
            assert response.status == expected, (key, name, response.status, got)
            assert got["error"] == ("unauthorized" if expected == 401 else "forbidden"), (key, name)
            assert got["detail"], (key, name)
            checked += 1
    assert await snapshot(db) == before, "a refused request wrote something"
    assert checked > 100


async def test_tokens_are_stored_hashed_and_never_listed(client, db):
    response = await client.post("/v1/tokens", json={"role": "store", "store_id": "s1"}, headers=OPERATOR)
    secret = (await response.json())["token"]
    row = await db.fetchrow("SELECT * FROM tokens WHERE token_id = $1", (await response.json())["token_id"])
    assert all(secret not in str(v) for v in dict(row).values())
    listed = await (await client.get("/v1/tokens", headers=OPERATOR)).text()
    assert secret not in listed and "token_hash" not in listed
