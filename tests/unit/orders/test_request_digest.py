"""The order's request digest is stored and compared on every retry: its bytes may never change."""

from __future__ import annotations

import hashlib
import json
import math
import random
import struct

from dispatch.orders.model import request_digest


def _stdlib_digest(body) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _values(rng: random.Random, depth: int = 0):
    floats = [0.0, -0.0, 1.0, 100.0, 1e15, 1e16, 1e-4, 1e-5, 0.1, 2.5e-7, 9007199254740993.0, 5e-324,
              1.7976931348623157e308, math.nan, math.inf, -math.inf, 22.5312345, 113.9312345]
    chars = ["a", "é", "中", "\n", "\x01", "\x7f", '"', "\\", "/", "e", "1", "\u2028", "😀", " ", "\ud800"]
    k = rng.random()
    if depth > 3 or k < 0.1:
        return rng.choice(floats)
    if k < 0.2:
        return struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
    if k < 0.3:
        return round(rng.uniform(-1e6, 1e6), rng.randint(0, 10))
    if k < 0.4:
        return rng.choice([rng.randint(-2**63, 2**63 - 1), 2**64 + rng.randint(0, 9), -(2**70)])
    if k < 0.55:
        return "".join(rng.choice(chars) for _ in range(rng.randint(0, 6)))
    if k < 0.6:
        return rng.choice([True, False, None])
    if k < 0.8:
        return [_values(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {"".join(rng.choice(chars) for _ in range(rng.randint(0, 4))): _values(rng, depth + 1)
            for _ in range(rng.randint(0, 4))}


def test_request_digest_is_the_standard_librarys_canonical_json_hash_on_any_body():
    rng = random.Random(16)
    compared = 0
    for _ in range(30_000):
        body = {"order_id": "o-1", "extra": _values(rng)}
        try:
            want = _stdlib_digest(body)
        except (ValueError, RecursionError):
            continue
        assert request_digest(body) == want, repr(body)[:300]
        compared += 1
    assert compared > 25_000


def test_request_digest_of_a_typical_order_ignores_key_order():
    body = {"order_id": "abc-1", "items": [{"sku": "sku-1", "quantity": 2}],
            "drop_off": {"lat": 22.5312345, "lon": 113.9312345}}
    shuffled = {"drop_off": {"lon": 113.9312345, "lat": 22.5312345}, "items": [{"quantity": 2, "sku": "sku-1"}],
                "order_id": "abc-1"}
    assert request_digest(body) == request_digest(shuffled) == _stdlib_digest(body)
