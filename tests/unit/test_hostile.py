"""Hostile input against the core: whatever the bytes, every message gets a row and a reason
from the closed set, nothing raises, nothing is written outside output_dir."""

import base64
import json
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dataclasses import replace

from stream_processor.config import Config
from stream_processor.core import UserWriter, analyze
from stream_processor.records import ACCEPTED, REJECTED, Reason, SourceRecord
from tests.unit.test_imaging import jpeg_claiming, png_claiming

pytestmark = pytest.mark.unit
CFG = Config(output_dir="/nonexistent-never-written")
REASONS = {r.value for r in Reason}
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)


def record(value, offset=0):
    return SourceRecord("videoCollector", 0, offset, None, None, value)


def row_for(value, tmp_path):
    result = analyze(record(value), CFG)
    writer = UserWriter(replace(CFG, output_dir=str(tmp_path / "train"), state_dir=str(tmp_path / "state"),
                                max_images_per_user=5))
    row = writer.finish(result)
    writer.close()
    assert row.status in (ACCEPTED, REJECTED)
    assert (row.reason is None) == (row.status == ACCEPTED)
    assert row.reason is None or row.reason in REASONS
    return row


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(tmp_path, value):
    assert row_for(value, tmp_path).status == REJECTED


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(json_values)
def test_arbitrary_json_shapes_never_raise(tmp_path, doc):
    row = row_for(json.dumps(doc).encode(), tmp_path)
    assert row.reason in ("invalid_json", "missing_field")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(username=st.text(max_size=80), image=st.binary(max_size=300) | st.just(b"\x89PNG\r\n\x1a\n"),
       junk=st.text(max_size=5), timestamp=json_values)
def test_arbitrary_messages_never_raise_nor_escape(tmp_path, username, image, junk, timestamp):
    data = base64.b64encode(image).decode() + junk
    row = row_for(json.dumps({"username": username, "imageData": data, "timestamp": timestamp}).encode(), tmp_path)
    assert row.status == REJECTED and row.path is None
    written = [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()]
    assert [p for p in written if p.parts[0] != "state"] == []  # the training set holds no file


@pytest.mark.parametrize("value, reason", [
    (b"[]", "invalid_json"), (b"3.14", "invalid_json"), (b"null", "invalid_json"), (b"true", "invalid_json"),
    (b'{"username": {"a": [1, {"b": null}]}, "imageData": [[[]]]}', "missing_field"),
    (b"{" * 50000, "invalid_json"), (b"[" * 50000 + b"]" * 50000, "invalid_json"),
    (b'{"username": "a\\u0000b", "imageData": "AAAA"}', "invalid_username"),
    (b'{"username": "/etc/passwd", "imageData": "AAAA"}', "invalid_username"),
    (b'{"username": "\\uff0e\\uff0e\\uff0fx", "imageData": "AAAA"}', "invalid_username"),
    (b'{"username": "alice", "imageData": "QUJD\\nREVG"}', "invalid_base64"),
    (b'{"username": "alice", "imageData": "' + base64.b64encode(b"%PDF-1.4 not an image") + b'"}', "unsupported_format"),
])
def test_crafted_messages(tmp_path, value, reason):
    assert row_for(value, tmp_path).reason == reason


@pytest.mark.parametrize("header", [png_claiming(200000, 200000), jpeg_claiming(65535, 65535)])
def test_gigapixel_frames_are_rejected_with_flat_memory(tmp_path, header):
    value = json.dumps({"username": "alice", "imageData": base64.b64encode(header).decode()}).encode()
    tracemalloc.start()
    row = row_for(value, tmp_path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert row.reason == "image_too_large" and peak < 2 * 1024 * 1024


def test_message_over_the_limit_is_rejected_unread(tmp_path):
    cfg = Config(output_dir=str(tmp_path), max_message_bytes=1024)
    value = json.dumps({"username": "alice", "imageData": "A" * 4000}).encode()
    assert analyze(record(value), cfg).reason is Reason.MESSAGE_TOO_LARGE
