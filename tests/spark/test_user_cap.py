"""The per-user cap is exact under parallel tasks, failed and retried batches and replays: the
user's folder ends with exactly `max_images_per_user` crops, always the same ones (the first
frames with one face in source order: partition, then offset), with the same bytes."""

from __future__ import annotations

import os
from datetime import datetime
from functools import partial
from pathlib import Path

import pytest

from stream_processor.config import Config
from stream_processor.demo.samples import encode, make_frame, message
from stream_processor.output.analyze import analyze
from stream_processor.output.dead_letters import FileDeadLetterSink
from stream_processor.output.storage import crop_name
from stream_processor.records import Reason
from stream_processor.spark.batch import process_batch
from tests.support.batches import parsed, source_frame
from tests.support.output import manifest_rows, state_of

pytestmark = pytest.mark.spark
TOPIC = "capped"
CAP = 4
KAFKA_PARTITIONS = 3


def flaky_dead_letters(marker: str, folder: Path):
    """A dead-letter sink factory whose first flush, in whichever task comes first, fails."""

    def make():
        sink = FileDeadLetterSink(folder)
        flush = sink.flush

        def flush_or_fail_once():
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return flush()
            raise RuntimeError("injected: the dead letters of this task could not be written")

        sink.flush = flush_or_fail_once
        return sink

    return make


@pytest.fixture(scope="module")
def records() -> list[tuple]:
    """Frames of "dora" in every Kafka partition (more than the cap), a few of "eve", and an
    undecodable message per partition; as (topic, partition, offset, timestamp, key, value)."""
    values: dict[int, list[bytes]] = {p: [] for p in range(KAFKA_PARTITIONS)}
    for i in range(9):
        values[i % KAFKA_PARTITIONS].append(message("dora", encode(make_frame("one", 3300 + i).image, "jpeg")))
    for i in range(3):
        values[i].append(message("eve", encode(make_frame("one", 3400 + i).image, "jpeg")))
        values[i].append(b"not json")
    return [(TOPIC, p, o, None, None, v) for p, vs in values.items() for o, v in enumerate(vs)]


def expected_crops(spark, records: list[tuple], cfg: Config, user: str) -> list[str]:
    """The first CAP frames of `user` with exactly one face, in source order."""
    ordered = sorted((r for r in records if b'"%s"' % user.encode() in r[5]), key=lambda r: (r[1], r[2]))
    found = [crop_name(*m.coordinates) for m in parsed(spark, ordered) if analyze(m, cfg).crop is not None]
    assert len(found) > CAP, "the test needs more detectable frames than the cap"
    return found[:CAP]


def crops(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix == ".png"} if folder.is_dir() else {}


def test_cap_is_exact_across_parallel_tasks_failures_retries_and_replays(spark, records, tmp_path):
    out = tmp_path / "out"
    cfg = Config(output_dir=str(out), max_images_per_user=CAP)
    want = expected_crops(spark, records, cfg, "dora")
    sc = spark.sparkContext
    dead_letters = partial(FileDeadLetterSink, state_of(out).dead_letters)

    def batch(slices: int, order=lambda rs: rs, sink=dead_letters):
        source = source_frame(spark, sc.parallelize(order(list(records)), slices))
        return process_batch(spark, source, datetime(2026, 11, 27, 10, 0, 0), cfg, sink)

    # 1. A task fails (its dead letters could not be written): the batch fails as a whole.
    with pytest.raises(Exception, match="injected"):
        batch(3, sink=flaky_dead_letters(str(tmp_path / "failed-once"), state_of(out).dead_letters))
    assert len(crops(out / "dora")) <= CAP

    # 2. Eve's folder cannot be written: that task fails after other users' crops were written.
    (out / "eve").parent.mkdir(parents=True, exist_ok=True)
    (out / "eve").write_bytes(b"not a folder")
    with pytest.raises(Exception, match="eve"):  # Spark wraps the OSError naming the path
        batch(3)
    assert len(crops(out / "dora")) <= CAP
    (out / "eve").unlink()

    # 3. The retry succeeds: exactly CAP crops, the first ones in source order.
    summary = batch(3)
    first = crops(out / "dora")
    assert sorted(first) == sorted(want), "the cap keeps the first frames in source order"
    assert summary.rejected.get("user_cap_reached", 0) >= 1
    assert len(crops(out / "eve")) == 3

    # 4. Replays with other Spark partitionings and record orders, tasks running side by side:
    #    the same files, byte for byte; no temp files left in the users' folders.
    batch(6, order=lambda rs: rs[::-1])
    batch(1)
    assert crops(out / "dora") == first
    assert not list(out.glob("*/*.tmp"))

    rows = [r for r in manifest_rows(out) if r["username"] == "dora"]
    accepted = sorted(r["path"] for r in rows if r["status"] == "accepted")
    assert accepted == sorted(f"dora/{name}" for name in want)
    assert all(not Reason(r["reason"]).before_detection for r in rows if r["status"] == "rejected")
    assert sum(r["reason"] == "user_cap_reached" for r in rows) >= 1


def test_an_earlier_batch_of_one_partition_then_all_keeps_the_same_crops(spark, records, tmp_path):
    """A stream reads partition 0 first (an earlier batch), then everything again from the start
    (the records re-delivered after a restart): the cap keeps the same frames as one batch."""
    out = tmp_path / "out"
    cfg = Config(output_dir=str(out), max_images_per_user=CAP)
    want = expected_crops(spark, records, cfg, "dora")
    sc = spark.sparkContext
    for part in ([r for r in records if r[1] == 0], records):
        process_batch(spark, source_frame(spark, sc.parallelize(part, 3)), datetime(2026, 11, 27, 10, 0, 0), cfg,
                      partial(FileDeadLetterSink, state_of(out).dead_letters))
        assert len(crops(out / "dora")) <= CAP
    assert sorted(crops(out / "dora")) == sorted(want)
