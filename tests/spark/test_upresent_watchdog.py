"""uPresent's training watchdog, unchanged in logic, on the training set this job writes.

Its gate (training-watchdog/src/training_dataset_watchdog.py): every sub-folder of the dataset
is a user; it trains only when each holds exactly USER_TRAINING_IMAGE_COUNT (60) `.png` files
and the number of users grew. The frames come as uPresent's video processor sends them: JPEG,
Kafka key b"frame", timestamp "%m/%d/%Y, %H:%M:%S".

uPresent's count is 60. The sharp real photos this repository can fetch give about 20 crops per
person that are not near-duplicates of each other, so the test sets the count, and the job's
target with it, to 10; the logic is the watchdog's."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from stream_processor.config import Config
from stream_processor.demo.samples import encode, person_frames
from stream_processor.engines.replay import replay

pytestmark = pytest.mark.spark
USER_TRAINING_IMAGE_COUNT = 10  # uPresent: 60 (see the docstring)


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
    people = ("obama", "sample3-1", "sample6-2")  # one person per student, several photos or poses each
    frames = {s: list(person_frames(people[k], 60, seed=k)) for k, s in enumerate(students)}
    lines = [video_processor_message(s, encode(frames[s][i].image, "jpeg"), i) for i in range(60) for s in students]
    source = tmp_path / "registration.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    dataset = tmp_path / "dataset"
    cfg = Config(output_dir=str(dataset), max_images_per_user=USER_TRAINING_IMAGE_COUNT)

    so_far = tmp_path / "so-far" / source.name  # the stream so far: the same records, fewer of them
    so_far.parent.mkdir()
    so_far.write_bytes(b"\n".join(lines[: 8 * len(students)]) + b"\n")
    replay(spark, so_far, cfg)
    assert not watchdog_would_train(dataset, users_trained=0), "8 frames each: below the count, no training"

    replay(spark, source, cfg)
    assert sorted(p.name for p in dataset.iterdir()) == sorted(students)  # nothing but user folders
    assert watchdog_would_train(dataset, users_trained=0)
