"""``placed_at`` only within a window around the service's clock (issue 11, item 8), through real
HTTP and PostgreSQL: accepted at exactly each bound, refused one second past it, nothing written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatch.settings import Policy, Settings, SettingsError
from tests.conftest import OPERATOR_TOKEN, T0, make_token
from tests.e2e.test_orders_api import add_store, counts, layout, order  # noqa: F401  (fixture)

MAX_AGE_S = Policy().placed_at_max_age_s  # the defaults: 900 s back, 60 s ahead
MAX_AHEAD_S = Policy().placed_at_max_ahead_s


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


async def written(db):
    """Everything an order writes: orders, lines, events, reservations, and every stock row."""
    stock = [tuple(r) for r in await db.fetch("SELECT store_id, sku, on_hand, reserved FROM stock ORDER BY 1, 2")]
    return await counts(db), stock


@pytest.fixture
async def system(client):
    return await make_token(client, "order_system")


@pytest.fixture
async def stocked(client, road_network, layout):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 50})


def test_placed_at_window_defaults_are_fifteen_minutes_back_and_one_minute_ahead():
    assert (MAX_AGE_S, MAX_AHEAD_S) == (900.0, 60.0)


async def test_placed_at_at_exactly_either_bound_is_accepted_and_the_promise_counts_from_it(
        client, db, road_network, layout, system, stocked):  # noqa: F811
    for order_id, seconds in (("oldest", -MAX_AGE_S), ("newest", MAX_AHEAD_S), ("now", 0)):
        body = {**order(order_id, road_network, layout["drop"], milk=1), "placed_at": at(seconds)}
        response = await client.post("/v1/orders", json=body, headers=system)
        assert response.status == 201, (seconds, await response.text())
        assert (await response.json())["promised_by"] == at(seconds + 30 * 60)
    assert await counts(db) == (3, 3, 3, 3)


@pytest.mark.parametrize("placed_at", [
    at(-MAX_AGE_S - 1), at(MAX_AHEAD_S + 1), "2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z",
    (T0 - timedelta(seconds=MAX_AGE_S, microseconds=1)).isoformat(),
])
async def test_placed_at_past_either_bound_is_422_naming_it_and_writes_nothing(
        client, db, road_network, layout, system, stocked, placed_at):  # noqa: F811
    before = await written(db)
    body = {**order("o1", road_network, layout["drop"], milk=1), "placed_at": placed_at}
    response = await client.post("/v1/orders", json=body, headers=system)
    assert response.status == 422, await response.text()
    payload = await response.json()
    assert payload["error"] == "invalid" and list(payload["fields"]) == ["placed_at"], payload
    assert "service's clock" in payload["fields"]["placed_at"] and "placed_at" in payload["detail"]
    assert await written(db) == before
    assert before[0] == (0, 0, 0, 0) and before[1] == [("s1", "milk", 50, 0)]
    assert (await client.get("/v1/orders/o1", headers=system)).status == 404
    # the same order with an acceptable placed_at is judged afresh
    fixed = await client.post("/v1/orders", json={**body, "placed_at": at(0)}, headers=system)
    assert fixed.status == 201


async def test_a_retry_of_an_order_placed_earlier_gets_its_first_answer_after_the_window(
        client, db, road_network, layout, system, stocked, clock):  # noqa: F811
    body = {**order("o1", road_network, layout["drop"], milk=1), "placed_at": at(0)}
    first = await client.post("/v1/orders", json=body, headers=system)
    assert first.status == 201
    clock.advance(MAX_AGE_S + 60)
    again = await client.post("/v1/orders", json=body, headers=system)
    assert again.status == 201 and await again.json() == await first.json()
    other = await client.post("/v1/orders", json={**body, "items": [{"sku": "milk", "quantity": 2}]}, headers=system)
    assert other.status == 409 and (await other.json())["error"] == "order_id_reused"
    late = await client.post("/v1/orders", json={**body, "order_id": "o2"}, headers=system)
    assert late.status == 422 and list((await late.json())["fields"]) == ["placed_at"]
    assert await counts(db) == (1, 1, 1, 1)


class TestAConfiguredWindow:
    @pytest.fixture
    def settings(self, tmp_path):
        return Settings(home=tmp_path, operator_token=OPERATOR_TOKEN,
                        policy=Policy(placed_at_max_age_s=120, placed_at_max_ahead_s=0))

    async def test_placed_at_window_comes_from_the_policy(self, client, db, road_network, layout, system, stocked):  # noqa: F811
        for order_id, seconds, status in (("a", -120, 201), ("b", -121, 422), ("c", 0, 201), ("d", 1, 422)):
            body = {**order(order_id, road_network, layout["drop"], milk=1), "placed_at": at(seconds)}
            response = await client.post("/v1/orders", json=body, headers=system)
            assert response.status == status, (seconds, await response.text())
        assert await counts(db) == (2, 2, 2, 2)


def test_placed_at_window_settings_come_from_the_environment():
    policy = Settings.from_env({"FLASHDISPATCH_PLACED_AT_MAX_AGE_S": "300",
                                "FLASHDISPATCH_PLACED_AT_MAX_AHEAD_S": "5"}).policy
    assert (policy.placed_at_max_age_s, policy.placed_at_max_ahead_s) == (300.0, 5.0)
    assert Settings.from_env({}).policy == Policy()
    for name, raw in (("FLASHDISPATCH_PLACED_AT_MAX_AGE_S", "-1"), ("FLASHDISPATCH_PLACED_AT_MAX_AHEAD_S", "nan"),
                      ("FLASHDISPATCH_PLACED_AT_MAX_AGE_S", "soon")):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: raw})
