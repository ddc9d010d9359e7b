"""orjson on the wire changes no value and no refusal: every body parses as the standard library did."""

from __future__ import annotations

import json

import pytest

from dispatch.http.wire_json import decode_json, encode_json

BODIES = [
    b'{"order_id":"a","items":[{"sku":"x","quantity":1}],"drop_off":{"lat":22.5,"lon":113.9}}',
    b'{"a": 1, "a": 2}',  # the last duplicate wins in both
    b'{"n": 123456789012345678901234567890}',  # orjson would make this a float
    b'{"n": -9223372036854775809, "m": 18446744073709551616}',
    b'{"f": 1e400, "g": -0.0, "h": 1.7976931348623157e308, "i": 5e-324}',
    b'{"s": "\\ud800"}',  # a lone surrogate: only json accepts it
    b'{"s": "\\u00e9\xc3\xa9", "t": "\\n\\t"}',
    b'{"x": NaN, "y": Infinity}',
    b'[1, 2, 3]',
    b'"just a string"',
    b'  {"spaced" :  true , "null": null}  ',
]
BROKEN = [b"", b"{", b'{"a":}', b"\xef\xbb\xbf{}", b"\xff\xfe{}", b'{"a": 1} x', b"[" * 100_000]


def _stdlib(raw: bytes):
    return json.loads(raw.decode("utf-8"))


@pytest.mark.parametrize("raw", BODIES)
def test_decode_json_gives_the_standard_librarys_value(raw):
    got, want = decode_json(raw), _stdlib(raw)
    assert repr(got) == repr(want)  # repr tells 1 from 1.0 and -0.0 from 0.0
    assert type(got) is type(want)


@pytest.mark.parametrize("raw", BROKEN)
def test_decode_json_refuses_what_the_standard_library_refuses_with_its_error(raw):
    with pytest.raises((ValueError, RecursionError)) as ours:
        decode_json(raw)
    with pytest.raises((ValueError, RecursionError)) as theirs:
        _stdlib(raw)
    assert type(ours.value) is type(theirs.value)


def test_encode_json_round_trips_an_answer():
    answer = {"order_id": "o-1", "status": "reserved", "promised_by": "2026-01-01T10:30:00+00:00",
              "predicted_late": True, "promise_extension_minutes": 5, "name": "便利店"}
    assert json.loads(encode_json(answer)) == answer
