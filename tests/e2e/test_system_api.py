"""Open endpoints and the error contract at the edges."""

from __future__ import annotations

from tests.conftest import OPERATOR


async def test_health_ready_metrics_openapi_are_open(client):
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    assert ready.status == 200, await ready.text()
    metrics = await (await client.get("/metrics")).text()
    assert "flashdispatch_stock_syncs_total" in metrics
    doc = await (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    operation = doc["paths"]["/v1/stores/{store_id}/stock"]["put"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["required"] == ["version", "items"]
    assert {"200", "401", "403", "409", "413", "422", "503"} <= set(operation["responses"])


async def test_unknown_path_and_method_get_json_errors(client):
    missing = await client.get("/v1/nothing-here", headers=OPERATOR)
    assert missing.status == 404
    assert (await missing.json())["error"] == "not_found"
    wrong = await client.post("/healthz")
    assert wrong.status == 405
    assert (await wrong.json())["error"] == "method_not_allowed"


async def test_api_without_token_is_401_json(client):
    response = await client.get("/v1/tokens")
    assert response.status == 401
    body = await response.json()
    assert body["error"] == "unauthorized" and "bearer" in body["detail"].lower()
