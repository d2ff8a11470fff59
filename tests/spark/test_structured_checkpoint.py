"""The structured engine reads a batch's trigger time and end offsets from the offset log that
Spark writes to the checkpoint before the batch runs: here from a real query's checkpoint (the
rate source stands in for Kafka; the Kafka source's entry is read from a file of Spark's format)."""

from __future__ import annotations

import json
import time

import pytest

from stream_processor.engines.structured import batch_offsets

pytestmark = pytest.mark.spark


def test_batch_offsets_from_a_real_checkpoint_and_the_kafka_sources_entry(spark, tmp_path):
    seen = []
    query = (spark.readStream.format("rate").option("rowsPerSecond", 5).load().writeStream
             .option("checkpointLocation", str(tmp_path / "ckpt"))
             .foreachBatch(lambda frame, batch_id: seen.append(batch_id)).trigger(availableNow=True).start())
    query.awaitTermination(60)
    assert seen
    trigger_time, ends = batch_offsets(tmp_path / "ckpt", seen[0], "videoCollector")
    assert trigger_time is not None and abs(trigger_time.timestamp() - time.time()) < 120 and ends == {}

    log = tmp_path / "kafka" / "offsets"
    log.mkdir(parents=True)
    first = (tmp_path / "ckpt" / "offsets" / str(seen[0])).read_text().splitlines()[:2]  # version, metadata
    (log / "7").write_text("\n".join(first + [json.dumps({"videoCollector": {"0": 10, "1": 9}})]))
    assert batch_offsets(tmp_path / "kafka", 7, "videoCollector") == (trigger_time, {0: 10, 1: 9})
