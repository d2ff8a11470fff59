"""Helpers for tests that run the Kafka direct stream on the session's SparkContext."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Optional, Sequence

from stream_processor.config import Config
from stream_processor.kafka import clients as kafka_clients
from stream_processor.spark import jvm_bridge


BACKLOG_S = 240  # at most this long for the batches formed before a wait to be processed


@dataclass
class Batch:
    time: datetime  # the batch time: when Spark read the offsets it covers
    ranges: list[jvm_bridge.OffsetRange]
    records: list[Any]


@dataclass
class StreamRun:
    """`with StreamRun(spark, cfg) as run: run.wait_for(...)`: a StreamingContext with one
    Kafka stream whose batches are recorded in the driver (no checkpointing: the foreachRDD
    function captures this object). Stops the StreamingContext, never the SparkContext."""

    spark: Any
    cfg: Config
    commit: bool = False
    batch_s: float = 0.5
    collect: Optional[Callable[[Any], list[Any]]] = None  # default: the batch DataFrame's rows as tuples
    batches: list[Batch] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __enter__(self) -> "StreamRun":
        from pyspark.streaming import StreamingContext

        self.ssc = StreamingContext(self.spark.sparkContext, self.batch_s)
        stream = jvm_bridge.create_direct_stream(self.ssc, self.cfg)
        self.stream_id = stream.stream_id

        def on_batch(batch_time: datetime, rdd: Any) -> None:
            try:
                ranges = jvm_bridge.offset_ranges(rdd)
                if self.collect is None:
                    records = [tuple(r) for r in jvm_bridge.source_dataframe(self.spark, rdd).collect()]
                else:
                    records = self.collect(rdd)
                if self.commit:
                    jvm_bridge.commit_offsets(self.stream_id, rdd, ranges)
                self.batches.append(Batch(batch_time, ranges, records))
            except Exception:  # noqa: BLE001 - reported by wait_for, in the test's thread
                self.errors.append(traceback.format_exc())

        stream.dstream.foreachRDD(on_batch)
        self.ssc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.ssc.stop(stopSparkContext=False, stopGraceFully=False)

    @property
    def records(self) -> list[Any]:
        return [r for b in list(self.batches) for r in b.records]

    def wait_for(self, done: Callable[[], bool], timeout_s: float = 60, what: str = "the stream") -> None:
        """Waits up to `timeout_s` from the first batch Spark formed after this call. On a loaded
        machine a slow batch leaves a queue of batches formed before it, whose offsets were read
        then: records sent now only show up once that queue is drained (the kafka tests' flake)."""
        called, backlog_deadline = datetime.now(), time.monotonic() + timeout_s + BACKLOG_S
        deadline = None
        while True:
            if self.errors:
                raise AssertionError("a batch failed:\n" + self.errors[0])
            if done():
                return
            if deadline is None and any(b.time >= called for b in list(self.batches)):
                deadline = time.monotonic() + timeout_s
            if time.monotonic() > (deadline or backlog_deadline):
                raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; "
                                     f"{len(self.batches)} batches, {len(self.records)} records so far")
            time.sleep(0.1)

    def wait_for_records(self, count: int, timeout_s: float = 60) -> None:
        self.wait_for(lambda: len(self.records) >= count, timeout_s, f"{count} records")


def produce(cfg: Config, topic: str, messages: Sequence[tuple[Optional[int], Optional[bytes], Optional[bytes]]],
            timestamps_ms: Optional[Sequence[int]] = None) -> list[Any]:
    """Sends (partition, key, value) messages (with these record timestamps, else now) and
    returns their RecordMetadata, in order."""
    producer = kafka_clients.make_producer(cfg)
    stamps = list(timestamps_ms) if timestamps_ms is not None else [None] * len(messages)
    try:
        futures = [producer.send(topic, value=value, key=key, partition=partition, timestamp_ms=stamp)
                   for (partition, key, value), stamp in zip(messages, stamps)]
        producer.flush(timeout=60)
        return [f.get(timeout=60) for f in futures]
    finally:
        producer.close()


def wait_for_commit(cfg: Config, expected: dict[tuple[str, int], int], timeout_s: float = 60) -> None:
    """Waits until the group's committed offsets equal `expected` (commitAsync sends them with
    the stream's next batch)."""
    deadline = time.monotonic() + timeout_s
    while True:
        committed = kafka_clients.committed_offsets(cfg)
        if all(committed.get(tp) == offset for tp, offset in expected.items()):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"group {cfg.group_id} committed {committed}, expected {expected}")
        time.sleep(0.25)


def read_topic(bootstrap: str, topic: str, timeout_s: float = 60) -> list[Any]:
    """Every record of `topic` now, read to its end offsets (not "until nothing came for a few
    seconds", which ends early on a loaded machine); in partition, then offset order."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                             max_partition_fetch_bytes=16 * 1024 * 1024)
    try:
        deadline = time.monotonic() + timeout_s
        partitions = None
        while not partitions:
            partitions = consumer.partitions_for_topic(topic)
            if time.monotonic() > deadline:
                raise AssertionError(f"topic {topic} has no partitions after {timeout_s}s")
            if not partitions:
                time.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        records: list[Any] = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            if time.monotonic() > deadline:
                raise AssertionError(f"read {len(records)} records of {topic} in {timeout_s}s, not all of {ends}")
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return sorted(records, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close()
