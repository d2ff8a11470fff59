"""Hostile input against the core: whatever the username and image bytes of a message that the
SQL step parsed, every message gets a row and a reason from the closed set, nothing raises,
nothing is written outside the state location. (Hostile bytes, JSON and base64 against the SQL
step, then the core: tests/spark/test_messages_sql.py; end to end: tests/spark/test_hostile_replay.py.)"""

import tracemalloc
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from stream_processor.config import Config
from stream_processor.output.analyze import UserWriter, analyze
from stream_processor.records import ACCEPTED, REJECTED, Message, Reason
from tests.unit.test_imaging import jpeg_claiming, png_claiming

pytestmark = pytest.mark.unit
CFG = Config(output_dir="/nonexistent-never-written")
REASONS = {r.value for r in Reason}


def message(username, image: bytes = b"", sql_reason=None, timestamp=None) -> Message:
    """A message as the SQL step leaves it: a JSON string username and the decoded image, or a
    reason of its own (invalid_base64 is the one it gives with a username)."""
    return Message("videoCollector", 0, 0, None, username, timestamp, None if sql_reason else image,
                   sql_reason, "from SQL" if sql_reason else "", None, b"{}")


def row_for(msg: Message, tmp_path):
    result = analyze(msg, CFG)
    writer = UserWriter(replace(CFG, output_dir=str(tmp_path / "train"), state_dir=str(tmp_path / "state"),
                                max_images_per_user=5))
    row = writer.finish(result)
    writer.close()
    assert row.status in (ACCEPTED, REJECTED)
    assert (row.reason is None) == (row.status == ACCEPTED)
    assert row.reason is None or row.reason in REASONS
    return row


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(username=st.text(max_size=80), image=st.binary(max_size=300) | st.just(b"\x89PNG\r\n\x1a\n"),
       bad_base64=st.booleans(), timestamp=st.none() | st.text(max_size=20))
def test_arbitrary_messages_never_raise_nor_escape(tmp_path, username, image, bad_base64, timestamp):
    row = row_for(message(username, image, Reason.INVALID_BASE64 if bad_base64 else None, timestamp), tmp_path)
    assert row.status == REJECTED and row.path is None
    written = [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()]
    assert [p for p in written if p.parts[0] != "state"] == []  # the training set holds no file


@pytest.mark.parametrize("username, image, reason", [
    ("a\u0000b", b"", "invalid_username"), ("/etc/passwd", b"", "invalid_username"),
    ("\uff0e\uff0e\uff0fx", b"", "invalid_username"), ("..", b"", "invalid_username"),
    ("../x", Reason.INVALID_BASE64, "invalid_username"),  # the username is checked first, as it always was
    ("alice", Reason.INVALID_BASE64, "invalid_base64"),
    ("alice", b"%PDF-1.4 not an image", "unsupported_format"),
    ("alice", b"", "unsupported_format"),
])
def test_crafted_messages(tmp_path, username, image, reason):
    msg = message(username, sql_reason=image) if isinstance(image, Reason) else message(username, image)
    assert row_for(msg, tmp_path).reason == reason


def test_a_reason_from_sql_is_kept(tmp_path):
    for reason in (Reason.INVALID_JSON, Reason.MISSING_FIELD, Reason.MESSAGE_TOO_LARGE):
        result = analyze(message(None, sql_reason=reason), CFG)
        assert (result.reason, result.detail, result.folder) == (reason, "from SQL", None)
    result = analyze(message("alice", sql_reason=Reason.MISSING_FIELD), CFG)
    assert (result.reason, result.folder) == (Reason.MISSING_FIELD, "alice")  # counted for alice


@pytest.mark.parametrize("header", [png_claiming(200000, 200000), jpeg_claiming(65535, 65535)])
def test_gigapixel_frames_are_rejected_with_flat_memory(tmp_path, header):
    tracemalloc.start()
    row = row_for(message("alice", header), tmp_path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert row.reason == "image_too_large" and peak < 2 * 1024 * 1024
