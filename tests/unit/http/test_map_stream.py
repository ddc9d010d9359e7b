"""The map stream's change test: what only the clock moved is not a change."""

from __future__ import annotations

from dispatch.http.map_routes import snapshot_fingerprint, sse_message


def snapshot(at: str, age: float, state: str = "idle") -> dict:
    return {"at": at, "stores": [], "orders": [], "zone_modes": [],
            "couriers": [{"courier_id": "c1", "state": state, "position_age_s": age}]}


def test_snapshot_fingerprint_ignores_the_clock_and_sees_a_state_change():
    assert snapshot_fingerprint(snapshot("t1", 3.0)) == snapshot_fingerprint(snapshot("t2", 4.0))
    assert snapshot_fingerprint(snapshot("t1", 3.0)) != snapshot_fingerprint(snapshot("t1", 3.0, "busy"))


def test_sse_message_is_one_event_with_id_and_single_line_data():
    message = sse_message("snapshot", "7-abc", {"a": "x\ny"}).decode()
    assert message == 'id: 7-abc\nevent: snapshot\ndata: {"a":"x\\ny"}\n\n'
