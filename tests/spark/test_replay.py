"""`replay` end to end on a local SparkContext: crops, manifest, dead letters, idempotence, cap."""

import json
import os
from pathlib import Path

import cv2
import pytest

from types import SimpleNamespace

from stream_processor.config import Config
from stream_processor.demo.samples import encode, make_frame, message
from stream_processor.engines.replay import replay
from stream_processor.output import manifest
from stream_processor.output.storage import crop_name
from stream_processor.records import Reason

pytestmark = pytest.mark.spark

USERS = ("alice", "bob", "carol")
POST_DETECTION = {r.value for r in Reason if not r.before_detection}
INVALID = [  # (line, reason)
    (b"this is not json", "invalid_json"),
    (b"[1, 2, 3]", "invalid_json"),
    (json.dumps({"imageData": "AAAA"}).encode(), "missing_field"),
    (json.dumps({"username": "../etc", "imageData": "AAAA"}).encode(), "invalid_username"),
    (json.dumps({"username": "alice", "imageData": "@@notbase64@@"}).encode(), "invalid_base64"),
    (message("alice", b"GIF89a-not-a-png-or-jpeg"), "unsupported_format"),
]


def frames(n, seed):
    kinds = ["one"] * 6 + ["two", "none"]
    return [make_frame(kinds[i % len(kinds)], seed + i) for i in range(n)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """24 frames of three users (PNG and JPEG), then the invalid lines."""
    sample = frames(24, seed=500)
    lines = [message(USERS[i % 3], encode(f.image, "png" if i % 2 else "jpeg")) for i, f in enumerate(sample)]
    truncated = encode(sample[0].image)[:5000]
    lines += [line for line, _ in INVALID] + [message("bob", truncated)]
    path = tmp_path_factory.mktemp("in") / "frames.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path, sample


def crops(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*.png")}


def manifest_rows(cfg: Config) -> list[SimpleNamespace]:
    """The latest row per record, as objects (row.offset)."""
    return [SimpleNamespace(**r) for r in manifest.latest_rows(Path(cfg.state_path) / "manifest")]


def files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_replay_writes_crops_manifest_and_dead_letters(spark, dataset, tmp_path):
    path, sample = dataset
    train = tmp_path / "train"
    cfg = Config(output_dir=str(train))
    summary = replay(spark, path, cfg)

    rows = {r.offset: r for r in manifest_rows(cfg)}
    assert summary.inputs == len(rows) == len(sample) + len(INVALID) + 1
    assert summary.accepted + sum(summary.rejected.values()) == summary.inputs
    for i, frame in enumerate(sample):
        row = rows[i]
        assert (row.topic, row.partition, row.username) == ("frames.jsonl", 0, USERS[i % 3])
        assert row.timestamp == "11/27/2026, 10:00:00"
        if row.status == "accepted":
            assert frame.kind == "one" and row.faces == 1 and row.reason is None
            assert row.path == f"{USERS[i % 3]}/{crop_name('frames.jsonl', 0, i)}"
            crop = cv2.imread(str(train / row.path))
            assert crop.shape == (160, 160, 3)
            truth = frame.faces[0]  # the kept box is on the face
            cx, cy = row.x + row.w / 2, row.y + row.h / 2
            assert truth.x <= cx <= truth.x + truth.w and truth.y <= cy <= truth.y + truth.h
        elif frame.kind == "one":  # a one-face frame that the checks after detection refused
            assert row.reason in POST_DETECTION and row.path is None
        else:
            assert row.reason in ("no_face", "multiple_faces") and row.path is None
    kept = sum(rows[i].status == "accepted" for i, f in enumerate(sample) if f.kind == "one")
    assert kept >= 0.8 * sum(f.kind == "one" for f in sample)
    assert all(rows[i].status == "rejected" for i, f in enumerate(sample) if f.kind != "one")

    bad = {len(sample) + k: reason for k, (_, reason) in enumerate(INVALID)}
    bad[len(sample) + len(INVALID)] = "corrupt_image"
    for offset, reason in bad.items():
        assert (rows[offset].status, rows[offset].reason, rows[offset].faces) == ("rejected", reason, None)
    assert rows[len(sample) + 2].username is None and rows[len(sample) + 3].username == "../etc"

    dead = [json.loads(line) for f in (tmp_path / "train-state" / "dead-letters").glob("*.jsonl")
            for line in f.read_text().splitlines()]
    assert sorted((d["offset"], d["reason"]) for d in dead) == sorted(bad.items())
    assert dead[0]["topic"] == "frames.jsonl"
    original = path.read_bytes().split(b"\n")
    assert all(d["value"].encode() == original[d["offset"]] for d in dead)

    accepted = {r.path for r in rows.values() if r.status == "accepted"}
    assert set(files(train)) == accepted  # the training set holds the crops and nothing else
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train", "train-state"]


def test_replay_twice_is_byte_identical(spark, dataset, tmp_path):
    path, _ = dataset
    cfg = Config(output_dir=str(tmp_path / "train"))
    state = tmp_path / "train-state"
    replay(spark, path, cfg)
    first, kept = files(tmp_path / "train"), {k: v for k, v in files(state).items() if not k.startswith(("manifest/", "last-batch"))}
    replay(spark, path, cfg)
    # crops, dead letters, enrollment status and rejected examples: the same bytes
    assert files(tmp_path / "train") == first
    assert {k: v for k, v in files(state).items() if not k.startswith(("manifest/", "last-batch"))} == kept
    assert any(k.startswith("users/") for k in kept) and any(k.startswith("dead-letters/") for k in kept)
    assert not [p for p in tmp_path.rglob("*.tmp")]
    assert len(manifest.all_rows(state / "manifest")) == 2 * len(path.read_bytes().splitlines())


def test_per_user_cap_keeps_the_first_frames_in_source_order(spark, tmp_path):
    sample = [make_frame("one", 900 + i) for i in range(10)]
    path = tmp_path / "one-user.jsonl"
    path.write_bytes(b"\n".join(message("dora", encode(f.image)) for f in sample))
    out = tmp_path / "out"
    cfg = Config(output_dir=str(out), max_images_per_user=4)
    replay(spark, path, cfg)
    rows = manifest_rows(cfg)
    found = [r for r in rows if r.status == "accepted" or r.reason == "user_cap_reached"]  # frames that passed every check
    assert len(found) >= 6
    assert [r.status for r in found] == ["accepted"] * 4 + ["rejected"] * (len(found) - 4)
    assert {r.reason for r in found[4:]} == {"user_cap_reached"}
    assert sorted(os.listdir(out / "dora")) == sorted(r.path.split("/")[1] for r in found[:4])
    replay(spark, path, cfg)  # the cap holds across replays: same four files
    assert sorted(os.listdir(out / "dora")) == sorted(r.path.split("/")[1] for r in found[:4])
