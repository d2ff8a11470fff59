"""Hostile input end to end through `replay`: crafted usernames, image headers, encodings and JSON
shapes. Every line gets one manifest row with the right reason, nothing is written outside the
output folders (not even through a planted symlink), and the dead letters hold every undecodable line.
(Property-based tests of the pure core are in tests/unit/test_hostile.py.)"""

from __future__ import annotations

import base64
import json
import os
import struct
import zlib
from pathlib import Path

import pytest

from stream_processor.config import MIB, Config
from stream_processor.engines.replay import replay
from stream_processor.frames.imaging import JPEG_MAGIC, PNG_MAGIC
from stream_processor.records import Reason
from tests.support.output import manifest_rows, state_of
from stream_processor.demo.samples import astronaut, encode

pytestmark = pytest.mark.spark
MAX_MESSAGE = 1 * MIB


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A small, well-formed PNG whose header claims width x height."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_MAGIC + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _png_chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    sof = struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return JPEG_MAGIC[:2] + b"\xff\xc0" + sof + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\x00" * 32 + b"\xff\xd9"


def msg(username, data: bytes = b"", image_data=None) -> bytes:
    body = {"username": username, "imageData": base64.b64encode(data).decode() if image_data is None else image_data}
    return json.dumps(body).encode()


def cases() -> list[tuple[str, bytes, str]]:
    """(what, line, expected reason or "accepted:<folder>")."""
    face_png = encode(astronaut().image, "png")
    face_jpeg = encode(astronaut().image, "jpeg")
    bad = {
        # usernames
        "parent": (msg("..", face_png), Reason.INVALID_USERNAME),
        "traversal": (msg("../../outside", face_png), Reason.INVALID_USERNAME),
        "nested": (msg("a/../../b", face_png), Reason.INVALID_USERNAME),
        "absolute": (msg("/tmp/outside", face_png), Reason.INVALID_USERNAME),
        "windows path": (msg("C:\\outside", face_png), Reason.INVALID_USERNAME),
        "NFKC to ../": (msg("\uff0e\uff0e\uff0foutside", face_png), Reason.INVALID_USERNAME),
        "NFKC to ..": (msg("\u2025", face_png), Reason.INVALID_USERNAME),  # TWO DOT LEADER
        "NUL": (msg("ada\u0000x", face_png), Reason.INVALID_USERNAME),
        "newline": (msg("ada\nx", face_png), Reason.INVALID_USERNAME),
        "too long": (msg("a" * 65, face_png), Reason.INVALID_USERNAME),
        "reserved": (msg("CON", face_png), Reason.INVALID_USERNAME),
        "reserved with suffix": (msg("nul.txt", face_png), Reason.INVALID_USERNAME),
        "leading dot": (msg(".hidden", face_png), Reason.INVALID_USERNAME),
        "the manifest's folder": (msg("_manifest", face_png), Reason.INVALID_USERNAME),
        "the dead letters' folder": (msg("_dlq", face_png), Reason.INVALID_USERNAME),
        "empty": (msg("", face_png), Reason.INVALID_USERNAME),
        "planted symlink": (msg("planted", face_png), Reason.INVALID_USERNAME),
        # images
        "PNG claiming gigapixels": (msg("ada", png_claiming(100_000, 100_000)), Reason.IMAGE_TOO_LARGE),
        "JPEG claiming 65535x65535": (msg("ada", jpeg_claiming(65_535, 65_535)), Reason.IMAGE_TOO_LARGE),
        "PNG claiming 0x0": (msg("ada", png_claiming(0, 0)), Reason.CORRUPT_IMAGE),
        "truncated PNG": (msg("ada", face_png[: len(face_png) // 2]), Reason.CORRUPT_IMAGE),
        "truncated JPEG": (msg("ada", face_jpeg[: len(face_jpeg) // 2]), Reason.CORRUPT_IMAGE),
        "corrupt PNG body": (msg("ada", face_png[:64] + bytes(len(face_png) - 128) + face_png[-64:]), Reason.CORRUPT_IMAGE),
        "PNG header only": (msg("ada", face_png[:20]), Reason.CORRUPT_IMAGE),
        "text": (msg("ada", b"hello, world"), Reason.UNSUPPORTED_FORMAT),
        "GIF": (msg("ada", b"GIF89a" + bytes(100)), Reason.UNSUPPORTED_FORMAT),
        "empty image": (msg("ada", b""), Reason.UNSUPPORTED_FORMAT),
        # base64
        "base64 with junk": (msg("ada", image_data="iVBORw0K!!!!" + base64.b64encode(face_png).decode()), Reason.INVALID_BASE64),
        "base64 with a newline": (msg("ada", image_data=base64.b64encode(face_png[:300]).decode()[:40] + "\n"
                                      + base64.b64encode(face_png[:300]).decode()[40:]), Reason.INVALID_BASE64),
        "base64 unpadded": (msg("ada", image_data="AAA"), Reason.INVALID_BASE64),
        "base64 url-safe": (msg("ada", image_data="-_-_"), Reason.INVALID_BASE64),
        # JSON shapes
        "array": (b'[{"username": "ada"}]', Reason.INVALID_JSON),
        "number": (b"42", Reason.INVALID_JSON),
        "null": (b"null", Reason.INVALID_JSON),
        "string": (b'"ada"', Reason.INVALID_JSON),
        "deep nesting": (b"[" * 100_000 + b"]" * 100_000, Reason.INVALID_JSON),
        "empty line": (b"", Reason.INVALID_JSON),
        "username an object": (b'{"username": {"a": [1, {"b": null}]}, "imageData": "AAAA"}', Reason.MISSING_FIELD),
        "imageData a list": (b'{"username": "ada", "imageData": ["AAAA"]}', Reason.MISSING_FIELD),
        "username null": (b'{"username": null, "imageData": "AAAA"}', Reason.MISSING_FIELD),
        "no fields": (b"{}", Reason.MISSING_FIELD),
        # size
        "over max_message_bytes": (msg("ada", image_data="A" * (MAX_MESSAGE + 4)), Reason.MESSAGE_TOO_LARGE),
    }
    good = {
        "NFKC fullwidth": (msg("\uff44\uff4f\uff52\uff41", face_png), "dora"),  # ｄｏｒａ
        "NFKC ligature": (msg("\ufb01le", face_jpeg), "file"),  # ﬁle
        "64 characters": (msg("b" * 64, face_png), "b" * 64),
        "dots inside": (msg("ada.lovelace-1_x", face_jpeg), "ada.lovelace-1_x"),
    }
    return ([(what, line, reason.value) for what, (line, reason) in bad.items()]
            + [(what, line, f"accepted:{folder}") for what, (line, folder) in good.items()])


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_hostile_lines_each_get_their_reason_and_nothing_escapes(spark, tmp_path):
    lines = cases()
    assert not any(b"\n" in line for _, line, _ in lines)
    source = tmp_path / "hostile.jsonl"
    source.write_bytes(b"\n".join(line for _, line, _ in lines) + b"\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "planted").symlink_to(outside, target_is_directory=True)  # planted by someone else
    before = tree(tmp_path)

    summary = replay(spark, source, Config(output_dir=str(out), max_message_bytes=MAX_MESSAGE))

    rows = {r["offset"]: r for r in manifest_rows(out)}
    assert summary.inputs == len(rows) == len(lines), "one manifest row per line"
    for offset, (what, _line, expected) in enumerate(lines):
        row = rows[offset]
        got = f"accepted:{row['path'].split('/')[0]}" if row["status"] == "accepted" else row["reason"]
        assert got == expected, f"{what}: {got} != {expected}"
    assert not list(outside.iterdir()), "written through the planted symlink"
    new = tree(tmp_path) - before
    mine = ("out" + os.sep, "out-state" + os.sep, "out-state")
    assert all(p.startswith(mine) for p in new), [p for p in new if not p.startswith(mine)]
    folders = {p.name for p in out.iterdir()}  # the training set: user folders only
    assert folders == {"planted", "dora", "file", "b" * 64, "ada.lovelace-1_x"}, folders
    assert not [p for p in tmp_path.rglob("*.tmp")]

    # The dead letters hold every line rejected before detection, unchanged, with its reason and
    # line number.
    dead = {}
    for f in state_of(out).dead_letters.glob("*.jsonl"):
        for text in f.read_text().splitlines():
            d = json.loads(text)
            value = d["value"].encode() if "value" in d else base64.b64decode(d["value_base64"])
            assert dead.setdefault(d["offset"], (d["reason"], value, d["topic"])) == (d["reason"], value, d["topic"])
    # The planted symlink is no fault of the message (it decoded; the folder is refused when the
    # crop is written): it is rejected in the manifest, and not a dead letter.
    want = {offset: (expected, line, source.name) for offset, (what, line, expected) in enumerate(lines)
            if not expected.startswith("accepted:") and Reason(expected).before_detection
            and what != "planted symlink"}
    assert dead.keys() == want.keys()
    for offset, entry in want.items():
        assert dead[offset] == entry, lines[offset][0]


def test_a_line_that_is_not_utf8_is_invalid_json_and_dead_lettered_unchanged(spark, tmp_path):
    line = b'{"username": "\xff\xfe", "imageData": ""}'
    source = tmp_path / "latin.jsonl"
    source.write_bytes(line + b"\n")
    out = tmp_path / "out"
    replay(spark, source, Config(output_dir=str(out)))
    dead = [json.loads(t) for f in state_of(out).dead_letters.glob("*.jsonl") for t in f.read_text().splitlines()]
    assert [r["reason"] for r in manifest_rows(out)] == ["invalid_json"]
    assert [base64.b64decode(d["value_base64"]) for d in dead] == [line]


def test_only_newline_ends_a_line(spark, tmp_path):
    """A bare carriage return inside a line does not split it (as `produce --jsonl` reads files);
    a CRLF line ending is not part of the message."""
    source = tmp_path / "crlf.jsonl"
    source.write_bytes(b'{"a":\r1}\r\n[2]\n')
    out = tmp_path / "out"
    replay(spark, source, Config(output_dir=str(out)))
    rows = sorted(manifest_rows(out), key=lambda r: r["offset"])
    assert [(r["offset"], r["reason"]) for r in rows] == [(0, "missing_field"), (1, "invalid_json")]
    dead = sorted((json.loads(t) for f in state_of(out).dead_letters.glob("*.jsonl") for t in f.read_text().splitlines()),
                  key=lambda d: d["offset"])
    assert [d["value"] for d in dead] == ['{"a":\r1}', "[2]"]
