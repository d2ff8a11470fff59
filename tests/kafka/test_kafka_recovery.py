"""StreamingContext.getOrCreate from a checkpoint keeps reading and committing: the foreachRDD
function captures only the stream's id, and commits find the recovered stream by that id."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest

from stream_processor.config import Config
from stream_processor.kafka import clients as kafka_clients
from stream_processor.spark import jvm_bridge
from tests.support.streaming import produce, wait_for_commit

pytestmark = pytest.mark.kafka


def batch_writer(out_dir: str, stream_id: int):
    """What a job does: write the batch's output durably, then commit. Only str and int are
    captured: checkpointing pickles this function, and recovery runs the unpickled copy."""

    def write(batch_time, rdd):
        from pyspark.sql import SparkSession

        ranges = jvm_bridge.offset_ranges(rdd)
        rows = jvm_bridge.source_dataframe(SparkSession.builder.getOrCreate(), rdd).select("topic", "partition", "offset")
        coordinates = [list(r) for r in rows.collect()]
        path = os.path.join(out_dir, f"batch-{int(batch_time.timestamp() * 1000)}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(coordinates, f)
        os.replace(path + ".tmp", path)
        jvm_bridge.commit_offsets(stream_id, rdd, ranges)

    return write


def written(out_dir) -> set[tuple[str, int, int]]:
    found = set()
    for name in os.listdir(out_dir):
        if name.endswith(".json"):
            with open(os.path.join(out_dir, name)) as f:
                found.update(tuple(c) for c in json.load(f))
    return found


def wait_until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_recovery_from_checkpoint_keeps_reading_and_committing(kafka_broker, spark, tmp_path):
    from pyspark.streaming import StreamingContext

    jvm_bridge.jar_paths()
    name = f"t-{uuid.uuid4().hex[:8]}"
    cfg = Config(bootstrap_servers=kafka_broker.bootstrap, topic=name, group_id=f"{name}-group")
    kafka_clients.ensure_topic(cfg, cfg.topic, partitions=2)
    out_dir, checkpoint = tmp_path / "out", str(tmp_path / "checkpoint")
    out_dir.mkdir()
    setups = []

    def setup():
        setups.append(1)
        ssc = StreamingContext(spark.sparkContext, 0.5)
        stream = jvm_bridge.create_direct_stream(ssc, cfg)
        stream.dstream.foreachRDD(batch_writer(str(out_dir), stream.stream_id))
        return ssc

    produce(cfg, cfg.topic, [(i % 2, None, b"first") for i in range(10)])
    ssc = StreamingContext.getOrCreate(checkpoint, setup)
    ssc.start()
    try:
        wait_until(lambda: len(written(out_dir)) == 10, 60, "the first 10 records")
        wait_for_commit(cfg, {(cfg.topic, 0): 5, (cfg.topic, 1): 5})
    finally:
        ssc.stop(stopSparkContext=False, stopGraceFully=False)
    assert setups == [1]

    produce(cfg, cfg.topic, [(i % 2, None, b"second") for i in range(10)])
    recovered = StreamingContext.getOrCreate(checkpoint, setup)
    assert setups == [1], "recovered from the checkpoint, not set up anew"
    recovered.start()
    try:
        expected = {(cfg.topic, p, o) for p in (0, 1) for o in range(10)}
        wait_until(lambda: written(out_dir) == expected, 60, "all 20 records after recovery")
        wait_for_commit(cfg, {(cfg.topic, 0): 10, (cfg.topic, 1): 10})
    finally:
        recovered.stop(stopSparkContext=False, stopGraceFully=False)
