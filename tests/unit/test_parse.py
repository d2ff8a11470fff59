import base64
import json

import pytest

from stream_processor.parse import normalize_username, parse_message
from stream_processor.records import Frame, Reason, Rejection

pytestmark = pytest.mark.unit
LIMIT = 8 * 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def msg(**fields) -> bytes:
    return json.dumps(fields).encode()


def reason(value: bytes) -> Reason:
    out = parse_message(value, LIMIT)
    assert isinstance(out, Rejection), out
    return out.reason


def test_valid_message_parses_with_timestamp_kept_as_given():
    out = parse_message(msg(username="alice", imageData=base64.b64encode(PNG).decode(),
                            timestamp="11/27/2026, 10:00:00", extra=1), LIMIT)
    assert out == Frame("alice", "alice", "11/27/2026, 10:00:00", PNG)


def test_timestamp_is_optional():
    out = parse_message(msg(username="bob", imageData=base64.b64encode(PNG).decode()), LIMIT)
    assert isinstance(out, Frame) and out.timestamp is None


@pytest.mark.parametrize("value", [b"", b"not json", b"\xff\xfe{}", b"[1,2]", b"42", b"null", b'"s"',
                                   b"[" * 100000 + b"]" * 100000, None])
def test_invalid_json(value):
    assert reason(value) is Reason.INVALID_JSON


@pytest.mark.parametrize("fields", [
    {"imageData": "AAAA"}, {"username": "a"}, {"username": None, "imageData": "AAAA"},
    {"username": 5, "imageData": "AAAA"}, {"username": "a", "imageData": ["AAAA"]},
])
def test_missing_field(fields):
    assert reason(msg(**fields)) is Reason.MISSING_FIELD


def test_missing_field_keeps_received_username_for_the_manifest():
    out = parse_message(msg(username="carol", timestamp="t"), LIMIT)
    assert (out.reason, out.username, out.timestamp) == (Reason.MISSING_FIELD, "carol", "t")


@pytest.mark.parametrize("name", ["../x", "/etc", "/etc/passwd", "．．／x", "a\x00b", "x" * 300, ".hidden",
                                  "_manifest", "", "a/b", "a\\b", "..", "con", "NUL", "com1.txt", "al ice",
                                  "-dash", "é" * 3, "\u202eevil"])
def test_hostile_usernames_are_rejected(name):
    assert reason(msg(username=name, imageData="AAAA")) is Reason.INVALID_USERNAME


@pytest.mark.parametrize("raw, normal", [("alice", "alice"), ("Bob_1.x-y", "Bob_1.x-y"),
                                         ("ａｌｉｃｅ", "alice"), ("x" * 64, "x" * 64)])
def test_usernames_are_nfkc_normalised(raw, normal):
    assert normalize_username(raw) == normal


def test_65_characters_is_too_long():
    assert normalize_username("x" * 65) is None


@pytest.mark.parametrize("data", ["not base64!", "AAA", "AA AA", "AAAA\n", "ÀÀÀÀ", "data:image/png;base64,AAAA"])
def test_invalid_base64(data):
    assert reason(msg(username="alice", imageData=data)) is Reason.INVALID_BASE64


def test_message_too_large_is_checked_before_parsing():
    value = msg(username="alice", imageData="A" * 200)
    out = parse_message(value, max_message_bytes=100)
    assert out.reason is Reason.MESSAGE_TOO_LARGE
