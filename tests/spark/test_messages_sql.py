"""The message contract in Spark SQL (stream_processor/spark/messages_sql.py): every reason it gives,
with the cases where Spark's own JSON reader would be lenient, and agreement with a strict
Python reading (json + base64.b64decode(validate=True)) on many random messages."""

from __future__ import annotations

import base64
import binascii
import json
import random
from typing import Any, Optional

import pytest

from stream_processor.config import Config
from stream_processor.output.analyze import analyze
from stream_processor.records import Message, Reason
from tests.support.batches import parsed

pytestmark = pytest.mark.spark
LIMIT = 8 * 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def msg(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def parse_all(spark, values: list[Optional[bytes]], limit: int = LIMIT) -> list[Message]:
    return parsed(spark, [("t", 0, i, None, None, v) for i, v in enumerate(values)], limit)


def test_a_valid_message_becomes_typed_fields(spark):
    value = msg(username="ａｌｉｃｅ", imageData=base64.b64encode(PNG).decode(), timestamp="11/27/2026, 10:00:00", extra=1)
    [m] = parse_all(spark, [value])
    assert (m.reason, m.username, m.timestamp, m.image, m.raw_value) == (None, "ａｌｉｃｅ", "11/27/2026, 10:00:00", PNG, value)
    assert m.value is None and len(m.rest) < 120 and m.value_bytes == len(value), "the frame's bytes cross once"
    [m] = parse_all(spark, [msg(username="bob", imageData="")])
    assert (m.reason, m.timestamp, m.image) == (None, None, b"")
    value = msg(username="bob", imageData="QR==")  # not as an encoder writes it (unused bits set): sent whole
    [m] = parse_all(spark, [value])
    assert (m.reason, m.image, m.rest, m.value) == (None, b"A", None, value)


CASES = {
    # invalid_json: not UTF-8 JSON, not an object, or stricter than Spark's JSON reader
    b"": Reason.INVALID_JSON, b"not json": Reason.INVALID_JSON, b"\xff\xfe{}": Reason.INVALID_JSON,
    b'{"username": "\xe9", "imageData": "AAAA"}': Reason.INVALID_JSON,  # Latin-1, not UTF-8
    b"[1,2]": Reason.INVALID_JSON, b"42": Reason.INVALID_JSON, b"null": Reason.INVALID_JSON,
    b'"s"': Reason.INVALID_JSON, b"[" * 100000 + b"]" * 100000: Reason.INVALID_JSON,
    b'{"username": "a", "username": "b", "imageData": "AAAA"}': Reason.INVALID_JSON,  # duplicate key
    b"{'username': 'a', 'imageData': 'AAAA'}": Reason.INVALID_JSON,  # single quotes
    b'{"username": "a", "imageData": "AAAA",}': Reason.INVALID_JSON,  # trailing comma
    b'{"username": "a", "imageData": NaN}': Reason.INVALID_JSON,
    b'{"username": "a"} {}': Reason.INVALID_JSON, b'{"username": "a", "imageData": "AAAA"}, 0]': Reason.INVALID_JSON,
    b'{"username": "a", "imageData": "AAAA"}]': Reason.INVALID_JSON, b'{"username": "a", "imageData": "AAAA"}x': Reason.INVALID_JSON,
    b'{"username": "a", "imageData": "AAAA"}, 1': Reason.INVALID_JSON,
    # missing_field: absent, null or not a string (Spark's reader would take 5 as "5")
    msg(imageData="AAAA"): Reason.MISSING_FIELD, msg(username="a"): Reason.MISSING_FIELD,
    msg(username=None, imageData="AAAA"): Reason.MISSING_FIELD, msg(username=5, imageData="AAAA"): Reason.MISSING_FIELD,
    msg(username=True, imageData="AAAA"): Reason.MISSING_FIELD, msg(username="a", imageData=["AAAA"]): Reason.MISSING_FIELD,
    msg(username="a", imageData=12): Reason.MISSING_FIELD, msg(Username="a", imageData="AAAA"): Reason.MISSING_FIELD,
    # invalid_base64: what b64decode(validate=True) refuses (unbase64 alone would skip it)
    **{msg(username="a", imageData=d): Reason.INVALID_BASE64
       for d in ["not base64!", "AAA", "AA AA", "AAAA\n", "ÀÀÀÀ", "data:image/png;base64,AAAA", "A", "AA=", "A===",
                 "AA=A", "-_-_", "AAAAA", "AAA==", "=", "=="]},
}


def test_every_pre_detection_reason(spark):
    values = list(CASES)
    got = parse_all(spark, values)
    wrong = {v[:60]: (m.reason, want) for v, m, want in zip(values, got, CASES.values()) if m.reason is not want}
    assert not wrong
    assert all(m.image is None and m.detail for m in got)
    assert [m.raw_value for m in got] == values, "the raw value is kept for the dead letters"


def test_message_too_large_is_checked_before_parsing(spark):
    got = parse_all(spark, [msg(username="a", imageData="A" * 200), b"[" * 200, b"\xff" * 200], limit=150)
    assert [(m.reason, m.detail) for m in got] == [(Reason.MESSAGE_TOO_LARGE, "234 bytes > 150"),
                                                  (Reason.MESSAGE_TOO_LARGE, "200 bytes > 150"),
                                                  (Reason.MESSAGE_TOO_LARGE, "200 bytes > 150")]


def test_a_tombstone_is_invalid_json(spark):
    [m] = parse_all(spark, [None])
    assert (m.reason, m.detail) == (Reason.INVALID_JSON, "empty (tombstone) message")


def test_missing_field_keeps_the_received_username_and_timestamp(spark):
    [m] = parse_all(spark, [msg(username="carol", timestamp="t")])
    assert (m.reason, m.username, m.timestamp) == (Reason.MISSING_FIELD, "carol", "t")


def test_base64_padding_as_python_takes_it(spark):
    accepted = ["AAAA", "AA==", "AAA=", "AAAA=", "AAAA==", "AB==", ""]
    got = parse_all(spark, [msg(username="a", imageData=d) for d in accepted])
    assert [m.image for m in got] == [base64.b64decode(d, validate=True) for d in accepted]


def test_a_timestamp_that_is_not_a_string_is_kept_as_json_text(spark):
    got = parse_all(spark, [msg(username="a", imageData="", timestamp=t) for t in (1700000000, {"b": [1, 2]}, None)])
    assert [m.timestamp for m in got] == ["1700000000", '{"b": [1, 2]}', None]  # the JSON text as given


# --- agreement with a strict Python reading on random messages ---------------------------------

def python_reading(value: bytes) -> tuple:
    """(reason, username, timestamp, image) as a strict Python parser reads the contract."""
    try:
        doc = json.loads(value.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return (Reason.INVALID_JSON, None, None, None)
    if not isinstance(doc, dict):
        return (Reason.INVALID_JSON, None, None, None)
    username, data, ts = doc.get("username"), doc.get("imageData"), doc.get("timestamp")
    received = username if isinstance(username, str) else None
    ts = ts if ts is None or isinstance(ts, str) else json.dumps(ts)
    if not isinstance(username, str) or not isinstance(data, str):
        return (Reason.MISSING_FIELD, received, ts, None)
    try:
        return (None, received, ts, base64.b64decode(data, validate=True))
    except (binascii.Error, ValueError):
        return (Reason.INVALID_BASE64, received, ts, None)


def _no_duplicates(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate key")
    return dict(pairs)


def random_values(rng: random.Random, n: int) -> list[bytes]:
    def scalar():
        return rng.choice([None, True, 7, -1.5, "", "x", "ü\u2028", rng.randbytes(4).hex()])

    def value(depth=0):
        if depth > 2 or rng.random() < 0.5:
            return scalar()
        if rng.random() < 0.5:
            return [value(depth + 1) for _ in range(rng.randrange(3))]
        return {rng.choice(["username", "imageData", "timestamp", "a"]): value(depth + 1) for _ in range(rng.randrange(3))}

    def image_data():
        data = base64.b64encode(rng.randbytes(rng.randrange(12))).decode()
        cut = rng.randrange(len(data) + 1)
        return rng.choice([data, data[:cut], data + rng.choice(["=", "==", "!", " ", "\n", "-"]), data.replace("=", ""),
                           data[:cut] + rng.choice("=A/+_é") + data[cut:]])

    out = []
    for _ in range(n):
        kind = rng.randrange(4)
        if kind == 0:
            out.append(rng.randbytes(rng.randrange(20)))
        elif kind == 1:
            out.append(json.dumps(value()).encode())
        else:
            doc = {"username": rng.choice(["alice", "", 5, None, ["a"], "ｄｏｒａ"]), "imageData": image_data(),
                   "timestamp": scalar() if rng.random() < 0.5 else value()}
            for key in [k for k in doc if rng.random() < 0.15]:
                del doc[key]
            out.append(json.dumps(doc).encode())
    return out


def test_sql_agrees_with_a_strict_python_reading_on_random_messages(spark):
    values = random_values(random.Random(11), 600)
    got = parse_all(spark, values)
    disagree = []
    for value, m in zip(values, got):
        reason, username, ts, image = python_reading(value)
        same_ts = ts == m.timestamp or (ts is not None and m.timestamp is not None and json.loads(ts) == json.loads(m.timestamp))
        if (m.reason, m.username, m.image) != (reason, username, image) or not same_ts:
            disagree.append((value, (m.reason, m.username, m.timestamp, m.image), (reason, username, ts, image)))
    assert not disagree, disagree[:5]
    assert {m.reason for m in got} == {None, Reason.INVALID_JSON, Reason.MISSING_FIELD, Reason.INVALID_BASE64}


def test_the_fast_reading_of_imagedata_agrees_where_its_guess_is_wrong(spark):
    """MessageReader reads the first `"imageData": "<plain base64>"` apart and parses the rest; these
    put that text where it is not the top-level field, or make the rest fail after it."""
    img = base64.b64encode(b"frame bytes").decode()
    values = [v.encode() for v in [
        '{"a": {"imageData": "QUJD"}, "username": "u", "imageData": "%s"}' % img,  # nested first
        '{"a\\"imageData": "QUJD", "username": "u", "imageData": "%s"}' % img,  # ends another key
        '{"a": ["imageData", "QUJD"], "username": "u", "imageData": "%s"}' % img,  # not a key
        '{"a": {"imageData": "QUJD"}, "username": "u"}',  # nested only: missing
        '{"username": "u", "imageData": "%s", "imageData": "QUJD"}' % img,  # duplicate
        '{"username": "u", "imageData": "%s", "timestamp": {"t": [1, 2]}}' % img,  # JSON text after it
        '{"username": "u", "imageData": "%s", "timestamp": 1,}' % img,  # invalid after it
        '{"username": "u", "imageData": "%s"} x' % img,  # data after the value
        '{"username": "u", "imageData" :\n "%s" , "timestamp": "t"}' % img,  # spaces around the colon
        '{"username": "u", "imageData": "%s", "timestamp": "\\udcff"}' % img,  # a lone surrogate after it
        '["imageData", "%s"]' % img,
    ]] + [b'{"username": "u", "imageData": "' + img.encode() + b'", "timestamp": "\xff"}']  # not UTF-8 after it
    got = parse_all(spark, values)
    want = [python_reading(v) for v in values]
    assert [(m.reason, m.username, m.image) for m in got] == [(r, u, i) for r, u, _, i in want]
    assert got[5].timestamp == '{"t": [1, 2]}' and got[8].timestamp == "t"
    assert [m.reason for m in got].count(None) >= 5


# --- hostile values through the SQL step and then the core (tests/unit/test_hostile.py: the core alone)

def reasons_through_the_core(spark, values: list[bytes]) -> list[Optional[str]]:
    cfg = Config(output_dir="/nonexistent-never-written")
    return [None if (r := analyze(m, cfg).reason) is None else r.value for m in parse_all(spark, values)]


def test_arbitrary_bytes_and_json_shapes_are_rejected_before_detection(spark):
    rng = random.Random(5)
    noise = [rng.randbytes(rng.randrange(2000)) for _ in range(300)]
    shapes = [v for v in random_values(rng, 900) if not v.startswith(b"{")][:300]
    got = reasons_through_the_core(spark, noise + shapes)
    assert set(got[:300]) <= {"invalid_json", "missing_field"}
    assert set(got[300:]) <= {"invalid_json", "missing_field"}


@pytest.mark.parametrize("value, reason", [
    (b"[]", "invalid_json"), (b"3.14", "invalid_json"), (b"null", "invalid_json"), (b"true", "invalid_json"),
    (b'{"username": {"a": [1, {"b": null}]}, "imageData": [[[]]]}', "missing_field"),
    (b"{" * 50000, "invalid_json"), (b"[" * 50000 + b"]" * 50000, "invalid_json"),
    (b'{"username": "a\\u0000b", "imageData": "AAAA"}', "invalid_username"),
    (b'{"username": "/etc/passwd", "imageData": "AAAA"}', "invalid_username"),
    (b'{"username": "\\uff0e\\uff0e\\uff0fx", "imageData": "AAAA"}', "invalid_username"),
    (b'{"username": "../x", "imageData": "not base64"}', "invalid_username"),  # the username comes first
    (b'{"username": "alice", "imageData": "QUJD\\nREVG"}', "invalid_base64"),
    (b'{"username": "alice", "imageData": "' + base64.b64encode(b"%PDF-1.4 not an image") + b'"}', "unsupported_format"),
    (b'{"username": "alice", "imageData": "QUJD", "timestamp": NaN}', "invalid_json"),
    (b'\xef\xbb\xbf{"username": "alice", "imageData": "QUJD"}', "invalid_json"),  # a byte order mark
    ('{"username": "alice", "imageData": "QUJD"}'.encode("utf-16-le"), "invalid_json"),
])
def test_crafted_messages(spark, value, reason):
    assert reasons_through_the_core(spark, [value]) == [reason]


def test_escapes_in_base64_are_read_as_json_text(spark):
    values = [b'{"username": "a", "imageData": "AA\\/A"}', b'{"username": "a", "imageData": "\\u0041AAA"}',
              b'{"username": "a", "imageData": "AA\\u00e9A"}', b'{"username": "a", "imageData": "AA\\nA"}']
    assert [(m.reason, m.image) for m in parse_all(spark, values)] == [
        (None, base64.b64decode("AA/A")), (None, base64.b64decode("AAAA")),
        (Reason.INVALID_BASE64, None), (Reason.INVALID_BASE64, None)]
