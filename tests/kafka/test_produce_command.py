"""`python -m stream_processor produce` against the real broker: folders of images, a video, a
JSONL file; the topic is created sized for large frames; bad input is a clear error."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time

import cv2
import pytest
from stream_processor.demo.samples import encode, make_frame, message
from tests.support.streaming import read_topic

pytestmark = pytest.mark.kafka


def produce(broker, topic, *args):
    return subprocess.run([sys.executable, "-m", "stream_processor", "produce", "--bootstrap-servers",
                           broker.bootstrap, "--topic", topic, "--quiet", *args],
                          capture_output=True, text=True, timeout=120)


def consume(broker, topic):
    return [json.loads(r.value) for r in read_topic(broker.bootstrap, topic)]


def test_folder_of_user_folders(kafka_broker, tmp_path):
    for user in ("ann", "bob"):
        (tmp_path / user).mkdir()
        for i in range(2):
            (tmp_path / user / f"{i}.jpg").write_bytes(encode(make_frame("one", i).image, "jpeg"))
    done = produce(kafka_broker, "produce-folders", "--images", str(tmp_path))
    assert done.returncode == 0, done.stderr
    values = consume(kafka_broker, "produce-folders")
    assert sorted(v["username"] for v in values) == ["ann", "ann", "bob", "bob"]
    assert all(base64.b64decode(v["imageData"]).startswith(b"\xff\xd8\xff") for v in values)
    assert all(time.strptime(v["timestamp"], "%m/%d/%Y, %H:%M:%S") for v in values)


def test_video_every_nth_frame_at_a_rate(kafka_broker, tmp_path):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (320, 240))
    for i in range(12):
        writer.write(cv2.resize(make_frame("one", 50 + i % 3).image, (320, 240)))
    writer.release()
    started = time.monotonic()
    done = produce(kafka_broker, "produce-video", "--video", str(video), "--username", "vid", "--every", "4",
                   "--rate", "4")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started >= 0.7  # 3 messages at 4/s
    values = consume(kafka_broker, "produce-video")
    assert len(values) == 3 and {v["username"] for v in values} == {"vid"}
    assert cv2.imdecode(__import__("numpy").frombuffer(base64.b64decode(values[0]["imageData"]), "uint8"),
                        cv2.IMREAD_COLOR).shape == (240, 320, 3)


def test_jsonl_is_sent_as_is_message_i_to_partition_i_mod_n(kafka_broker, tmp_path):
    lines = [message("cy", b"\x89PNG fake"), b'{"not": "a frame"}', b"not json", message("cy", b"GIF89a")]
    (tmp_path / "m.jsonl").write_bytes(b"\n".join(lines) + b"\n\n")
    assert produce(kafka_broker, "produce-jsonl", "--jsonl", str(tmp_path / "m.jsonl")).returncode == 0
    # The same input gives the same coordinates on any fresh topic (the demo relies on it).
    placed = {(r.partition, r.offset): r.value for r in read_topic(kafka_broker.bootstrap, "produce-jsonl")}
    assert placed == {(i % 2, i // 2): line for i, line in enumerate(lines)}


@pytest.mark.parametrize("args, error", [
    (["--images", "/nonexistent"], "no such file or folder"),
    (["--video", "/nonexistent.avi", "--username", "x"], "cannot open"),
    (["--video", "/nonexistent.avi"], "--video needs --username"),
    (["--jsonl", "/nonexistent.jsonl"], "no such file"),
])
def test_bad_input_is_a_clear_error(kafka_broker, args, error):
    done = produce(kafka_broker, "produce-errors", *args)
    assert done.returncode == 2 and error in done.stderr
