"""`produce`: publish images, folders of images, a video or a JSONL file of messages to Kafka,
in the message format of README.md ("What it does"), with a rate limit and a progress bar."""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator, Optional, Sequence

from ..config import Config

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
TIMESTAMP_FORMAT = "%m/%d/%Y, %H:%M:%S"  # what the video service sends


class ProduceError(ValueError):
    """Bad input for `produce`: the message says which."""


def add_produce_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--images", nargs="+", metavar="PATH",
                      help="image files or folders; in a folder, a sub-folder's name is the username")
    what.add_argument("--video", metavar="FILE", help="a video file: every Nth frame is sent")
    what.add_argument("--jsonl", metavar="FILE", help="a file of ready messages, one JSON object per line, sent as is")
    parser.add_argument("--username", help="the username of images or video frames (required for a video)")
    parser.add_argument("--every", type=int, default=10, metavar="N", help="with --video: send every Nth frame (default 10)")
    parser.add_argument("--rate", type=float, default=0.0, metavar="MSG/S", help="messages per second; 0 = as fast as possible")
    parser.add_argument("--partitions", type=int, default=2, help="partitions of the topic if it has to be created (default 2)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


@dataclass(frozen=True)
class Outgoing:
    value: bytes
    label: str  # for error messages


def message_value(username: str, image: bytes, timestamp: Optional[datetime] = None) -> bytes:
    when = (timestamp or datetime.now()).strftime(TIMESTAMP_FORMAT)
    return json.dumps({"username": username, "imageData": base64.b64encode(image).decode("ascii"),
                       "timestamp": when}).encode("utf-8")


def image_messages(paths: Sequence[str], username: Optional[str]) -> list[Outgoing]:
    files: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for f in sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
                user = username or (f.parent.name if f.parent != path else None)
                if user is None:
                    raise ProduceError(f"{f}: no --username, and the image is not in a user's sub-folder of {path}")
                files.append((f, user))
        elif path.is_file():
            if username is None:
                raise ProduceError(f"{path}: --username is required for single image files")
            files.append((path, username))
        else:
            raise ProduceError(f"{path}: no such file or folder")
    if not files:
        raise ProduceError(f"no .png/.jpg images under {', '.join(paths)}")
    return [Outgoing(message_value(user, f.read_bytes()), str(f)) for f, user in files]


def video_messages(path: str, username: str, every: int) -> Iterator[Outgoing]:
    import cv2

    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise ProduceError(f"{path}: OpenCV cannot open this video")
    index = 0
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % every == 0:
                ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
                if ok:
                    yield Outgoing(message_value(username, jpeg.tobytes()), f"{path}#frame{index}")
            index += 1
    finally:
        capture.release()


def count_lines(path: str) -> int:
    with open(path, "rb") as lines:
        return sum(1 for line in lines if line.strip())


def jsonl_messages(path: str) -> Iterator[Outgoing]:
    with open(path, "rb") as lines:
        for n, line in enumerate(lines):
            line = line.rstrip(b"\r\n")
            if line:
                yield Outgoing(line, f"{path}:{n + 1}")


class Progress:
    """A one-line progress bar on stderr."""

    def __init__(self, total: Optional[int], quiet: bool) -> None:
        self.total, self.quiet, self.sent, self.started = total, quiet, 0, time.monotonic()
        self._shown = 0.0

    def step(self) -> None:
        self.sent += 1
        now = time.monotonic()
        if self.quiet or (now - self._shown < 0.2 and self.sent != self.total):
            return
        self._shown = now
        rate = self.sent / max(time.monotonic() - self.started, 1e-9)
        if self.total:
            done = int(30 * self.sent / self.total)
            bar = f"[{'#' * done}{'.' * (30 - done)}] {self.sent}/{self.total}"
        else:
            bar = f"{self.sent} sent"
        print(f"\r{bar} {rate:6.1f} msg/s", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if not self.quiet:
            print(file=sys.stderr)


def send_all(messages: Iterator[Outgoing] | list[Outgoing], cfg: Config, rate: float, partitions: int,
             quiet: bool = False, total: Optional[int] = None) -> int:
    from . import clients as kafka_clients

    kafka_clients.ensure_topic(cfg, cfg.topic, partitions=partitions)
    # Message i goes to partition i % n: the same input gives the same offsets on any fresh topic.
    spread = max(1, len(kafka_clients.partitions(cfg)))
    producer = kafka_clients.make_producer(cfg)
    progress = Progress(len(messages) if isinstance(messages, list) else total, quiet)
    interval = 1.0 / rate if rate > 0 else 0.0
    next_at = time.monotonic()
    try:
        for item in messages:
            if len(item.value) > cfg.max_message_bytes:
                print(f"\nwarning: {item.label} is {len(item.value)} bytes, over max_message_bytes; "
                      "the job will reject it as message_too_large", file=sys.stderr)
            if interval:
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))
            producer.send(cfg.topic, value=item.value, partition=progress.sent % spread)
            progress.step()
        producer.flush()
    finally:
        progress.close()
        producer.close()
    return progress.sent


def produce(args: argparse.Namespace, cfg: Config) -> int:
    try:
        if args.images:
            messages: Iterator[Outgoing] | list[Outgoing] = image_messages(args.images, args.username)
        elif args.video:
            if not args.username:
                raise ProduceError("--video needs --username")
            if args.every < 1:
                raise ProduceError("--every must be at least 1")
            messages = video_messages(args.video, args.username, args.every)
        else:
            if not Path(args.jsonl).is_file():
                raise ProduceError(f"{args.jsonl}: no such file")
            messages = jsonl_messages(args.jsonl)
        started = time.monotonic()
        total = count_lines(args.jsonl) if args.jsonl else None
        sent = send_all(messages, cfg, args.rate, args.partitions, args.quiet, total)
    except ProduceError as exc:
        print(f"produce: {exc}", file=sys.stderr)
        return 2
    print(f"produce: sent {sent} messages to {cfg.topic} at {cfg.bootstrap_servers} "
          f"in {time.monotonic() - started:.1f} s")
    return 0
