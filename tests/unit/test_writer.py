"""The writer step on real faces: near-duplicates, enrollment status counted once per record,
bounded rejected examples, no empty user folder, resets, and the legacy-layout move."""

import json
from dataclasses import replace

import cv2
import numpy as np
import pytest

from stream_processor.config import Config
from stream_processor.demo.samples import astronaut, encode, make_frame
from stream_processor.output import manifest
from stream_processor.output.analyze import UserWriter, analyze
from stream_processor.output.enrollment import COLLECTING, COMPLETE, STALLED, Announcements, UserStatus, state_of
from stream_processor.output.reset import ResetError, reset_user
from stream_processor.output.state import StateDir, prepare
from stream_processor.records import Message

pytestmark = pytest.mark.unit
T0 = 1_764_400_000_000  # a Kafka timestamp, ms


def config(tmp_path, **changes) -> Config:
    return replace(Config(output_dir=str(tmp_path / "train"), state_dir=str(tmp_path / "state")), **changes)


def shifted(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REFLECT)


def analyses(cfg, user, images, start=0, fmt="png"):
    """Messages as the SQL step leaves them (its own tests: tests/spark/test_messages_sql.py)."""
    return [analyze(Message("t", 0, start + i, T0 + 1000 * (start + i), user, None, encode(img, fmt)), cfg)
            for i, img in enumerate(images)]


def write(cfg, items):
    writer = UserWriter(cfg)
    try:
        return [writer.finish(a) for a in sorted(items, key=lambda a: a.order_key)]
    finally:
        writer.close()


def test_a_near_copy_of_a_kept_crop_is_rejected_and_a_distinct_face_is_kept(tmp_path):
    cfg = config(tmp_path)
    face = astronaut().image
    items = analyses(cfg, "ada", [face, shifted(face, 2, 1), face, make_frame("one", 11).image])
    assert all(a.crop is not None for a in items[:3])
    rows = write(cfg, items)
    assert [r.reason for r in rows[:3]] == [None, "near_duplicate", "near_duplicate"]
    assert rows[0].crop_hash == rows[2].crop_hash and len(rows[0].crop_hash) == 16
    if items[3].crop is not None:  # a different face and background
        assert rows[3].status == "accepted"
    # replayed: the kept crop rewrites its own file, the copies stay rejected
    assert [r.reason for r in write(cfg, items)] == [r.reason for r in rows]


def test_with_the_check_off_the_kept_crops_are_not_read_again(tmp_path, monkeypatch):
    """min_crop_distance 0 (the benchmark's setting): no stat and no decode of every kept crop per batch."""
    cfg = config(tmp_path, min_crop_distance=0)
    face = astronaut().image
    items = analyses(cfg, "ada", [face, face])
    assert [r.status for r in write(cfg, items[:1])] == ["accepted"]

    def no_reading(path):
        raise AssertionError(f"read {path}")
    monkeypatch.setattr("stream_processor.output.storage._file_hash", no_reading)
    assert [r.status for r in write(cfg, items)] == ["accepted", "accepted"]


def test_status_counts_each_record_once_and_writes_the_same_bytes_again(tmp_path):
    cfg = config(tmp_path, max_images_per_user=2)
    frames = [astronaut().image, make_frame("none", 3).image] + [make_frame("one", 20 + i).image for i in range(4)]
    items = analyses(cfg, "ada", frames)
    write(cfg, items)
    path = StateDir(tmp_path / "state").status_file("ada")
    first = path.read_bytes()
    status = UserStatus.from_json(first)
    assert status.frames == len(frames) and status.count == 2 and status.target == 2
    assert status.rejected.get("no_face") == 1 and sum(status.rejected.values()) == len(frames) - 2
    assert status.first_frame_ms == T0 and status.last_frame_ms == T0 + 5000
    write(cfg, items)  # a retried or replayed batch
    write(cfg, items[:3])  # a batch re-read from an earlier offset
    assert path.read_bytes() == first


def test_rejected_examples_are_bounded_and_no_user_folder_without_a_crop(tmp_path):
    cfg = config(tmp_path, rejected_examples=2)
    items = analyses(cfg, "bob", [make_frame("none", 100 + i).image for i in range(4)], fmt="jpeg")
    rows = write(cfg, items)
    assert {r.reason for r in rows} <= {"no_face", "multiple_faces"}
    examples = sorted((tmp_path / "state" / "rejected" / "bob").rglob("*.jpg"))
    assert 1 <= len(examples) <= 2 * len({r.reason for r in rows})
    assert not (tmp_path / "train" / "bob").exists(), "an empty folder would count as a user with 0 images"


def test_reset_removes_crops_examples_and_status_and_starts_a_new_generation(tmp_path):
    cfg = config(tmp_path)
    write(cfg, analyses(cfg, "cyd", [astronaut().image, make_frame("none", 5).image]))
    assert any((tmp_path / "train" / "cyd").iterdir())
    status, removed = reset_user(cfg, "cyd")
    assert removed == 1 and status.generation == 1 and status.count == 0 and status.frames == 0
    assert not (tmp_path / "train" / "cyd").exists() and not (tmp_path / "state" / "rejected" / "cyd").exists()
    assert UserStatus.from_json((tmp_path / "state" / "users" / "cyd.json").read_bytes()) == status
    log = [json.loads(line) for line in (tmp_path / "state" / "resets.jsonl").read_text().splitlines()]
    assert [(r["username"], r["generation"], r["crops_removed"]) for r in log] == [("cyd", 1, 1)]
    with pytest.raises(ResetError):
        reset_user(cfg, "../etc")


def test_states_and_announcements():
    s = UserStatus("ada", target=3, count=1, first_frame_ms=T0, last_accepted_ms=T0)
    assert state_of(s, T0 + 5_000, idle_s=10) == COLLECTING
    assert state_of(s, T0 + 11_000, idle_s=10) == STALLED
    assert state_of(replace(s, count=3), T0 + 99_000, idle_s=10) == COMPLETE
    news = Announcements(idle_s=10)
    news.update([s])
    due = news.due(T0 + 5_000)
    assert [e["state"] for e in due] == [COLLECTING]
    news.published(due)
    assert news.due(T0 + 6_000) == []  # nothing changed: nothing to say
    assert [e["state"] for e in news.due(T0 + 11_000)] == [STALLED]


def test_legacy_folders_move_out_of_the_training_set(tmp_path):
    train = tmp_path / "train"
    (train / "_manifest").mkdir(parents=True)
    (train / "_manifest" / "part-1.parquet").write_bytes(b"x")
    (train / "_dlq").mkdir()
    (train / "ada").mkdir()
    state = prepare(train, tmp_path / "state")
    assert sorted(p.name for p in train.iterdir()) == ["ada"]
    assert (state.manifest / "part-1.parquet").read_bytes() == b"x" and state.dead_letters.is_dir()


def test_manifest_keeps_the_latest_row_per_record(tmp_path):
    from datetime import datetime

    cfg = config(tmp_path)
    rows = [manifest.as_tuple(r) for r in write(cfg, analyses(cfg, "ada", [astronaut().image]))]
    manifest.write(rows, datetime(2026, 11, 27, 10, 0, 0), tmp_path / "m")
    manifest.write(rows, datetime(2026, 11, 27, 10, 0, 5), tmp_path / "m")
    assert len(manifest.all_rows(tmp_path / "m")) == 2
    (latest,) = manifest.latest_rows(tmp_path / "m")
    assert latest["batch_time"].second == 5 and latest["status"] == "accepted" and latest["crop_hash"]


def test_state_dir_must_stay_outside_the_training_set(tmp_path):
    from stream_processor.config import ConfigError

    with pytest.raises(ConfigError, match="state_dir"):
        Config(output_dir=str(tmp_path), state_dir=str(tmp_path / "state"))
    assert Config(output_dir=str(tmp_path / "train")).state_path == str(tmp_path / "train-state")


def test_review_page_shows_each_users_crops_state_reasons_and_examples(tmp_path):
    from stream_processor.output.report import review_page

    cfg = config(tmp_path)
    write(cfg, analyses(cfg, "ada", [astronaut().image, make_frame("none", 3).image], fmt="jpeg"))
    page = review_page(cfg.output_dir, cfg.state_dir, now_ms=T0 + 1000)
    crop = next((tmp_path / "train" / "ada").iterdir())
    assert "<h2>ada <span class='state collecting'>collecting</span> 1 of 60 crops</h2>" in page
    assert f'title="{crop.name}"' in page and page.count("data:image/png;base64,") == 1  # the kept crop, embedded
    (reason,) = UserStatus.from_json((tmp_path / "state" / "users" / "ada.json").read_bytes()).rejected
    assert f"<th>{reason}</th><td>1</td>" in page and "data:image/jpeg;base64," in page  # its example
    assert "src=\"http" not in page and "src=\"/" not in page  # self-contained
