"""uPresent's training watchdog, unchanged in logic, on the training set this job writes.

Its gate (training-watchdog/src/training_dataset_watchdog.py): every sub-folder of the dataset
is a user; it trains only when each holds exactly USER_TRAINING_IMAGE_COUNT (60) `.png` files
and the number of users grew. The frames come as uPresent's video processor sends them: JPEG,
Kafka key b"frame", timestamp "%m/%d/%Y, %H:%M:%S"."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from stream_processor.config import Config
from stream_processor.replay import replay
from stream_processor.samples import encode, make_frame

pytestmark = pytest.mark.spark
USER_TRAINING_IMAGE_COUNT = 60


def watchdog_would_train(dataset: Path, users_trained: int) -> bool:
    """The watchdog's decision, restated: all sub-folders are users; each needs exactly the count."""
    users = [d for d in dataset.iterdir() if d.is_dir()]
    counts = [sum(1 for f in d.iterdir() if f.name.endswith(".png")) for d in users]
    return bool(users) and all(c == USER_TRAINING_IMAGE_COUNT for c in counts) and len(users) > users_trained


def video_processor_message(student: str, jpeg: bytes, second: int) -> bytes:
    return json.dumps({"username": student, "imageData": base64.b64encode(jpeg).decode(),
                       "timestamp": f"11/27/2026, 10:{second // 60:02d}:{second % 60:02d}"}).encode()


def test_the_watchdog_trains_on_the_training_set_once_each_student_has_enough_good_frames(spark, tmp_path):
    students = ("s1001", "s1002", "s1003")
    lines = [video_processor_message(s, encode(make_frame("one", 40_000 + 100 * k + i).image, "jpeg"), i)
             for i in range(72) for k, s in enumerate(students)]
    source = tmp_path / "registration.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    dataset = tmp_path / "dataset"
    cfg = Config(output_dir=str(dataset), max_images_per_user=USER_TRAINING_IMAGE_COUNT)

    half = tmp_path / "so-far" / source.name  # the stream so far: the same records, fewer of them
    half.parent.mkdir()
    half.write_bytes(b"\n".join(lines[: len(lines) // 2]) + b"\n")
    replay(spark, half, cfg)
    assert not watchdog_would_train(dataset, users_trained=0), "half the frames: below the count, no training"

    replay(spark, source, cfg)
    assert sorted(p.name for p in dataset.iterdir()) == sorted(students)  # nothing but user folders
    assert watchdog_would_train(dataset, users_trained=0)
