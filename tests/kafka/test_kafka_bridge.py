"""The Kafka 0-10 direct stream through our JVM bridge, against a real local broker."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections import Counter

import pytest

from stream_processor.config import MIB, Config
from stream_processor.kafka import clients as kafka_clients
from stream_processor.spark import jvm_bridge
from tests.support.streaming import StreamRun, produce, wait_for_commit

pytestmark = pytest.mark.kafka


def fresh_cfg(broker, **changes) -> Config:
    name = f"t-{uuid.uuid4().hex[:8]}"
    return Config(bootstrap_servers=broker.bootstrap, topic=name, group_id=f"{name}-group", **changes)


@pytest.fixture(scope="module")
def kafka_spark(spark):
    jvm_bridge.jar_paths()  # a clear "run make setup" when jars/ is empty
    return spark


def test_every_record_arrives_once_with_its_coordinates(kafka_broker, kafka_spark):
    cfg = fresh_cfg(kafka_broker)
    assert kafka_clients.ensure_topic(cfg, cfg.topic, partitions=3)
    assert not kafka_clients.ensure_topic(cfg, cfg.topic, partitions=3)

    def wave(start: int, n: int):
        return [(i % 3, None if i % 4 == 0 else f"key-{i}".encode(),
                 bytes(range(256)) + os.urandom(i) + str(i).encode()) for i in range(start, start + n)]

    sent = wave(0, 18) + [(0, b"", b""), (1, b"tombstone", None)]  # empty is not null
    metas = produce(cfg, cfg.topic, sent)
    with StreamRun(kafka_spark, cfg) as run:  # the rows of the batch DataFrame built in the JVM
        run.wait_for_records(20)
        more = wave(20, 20)
        metas += produce(cfg, cfg.topic, more)
        sent += more
        run.wait_for_records(40)

    expected = {(m.topic, m.partition, m.offset): (m.timestamp, key, value)
                for m, (_, key, value) in zip(metas, sent)}
    got = Counter((r[0], r[1], r[2]) for r in run.records)
    assert set(got) == set(expected) and set(got.values()) == {1}, "each record exactly once"
    for topic, partition, offset, timestamp, key, value in run.records:
        assert (timestamp, key, value) == expected[(topic, partition, offset)]
    assert {r[1] for r in run.records} == {0, 1, 2}

    seen_next: dict[int, int] = {}
    for batch in run.batches:
        covered = {(r.topic, r.partition, o) for r in batch.ranges for o in range(r.from_offset, r.until_offset)}
        assert covered == {(r[0], r[1], r[2]) for r in batch.records}, "ranges cover exactly the batch"
        for r in batch.ranges:  # consecutive batches continue where the last one ended
            assert r.from_offset == seen_next.get(r.partition, 0)
            seen_next[r.partition] = r.until_offset
    assert len([b for b in run.batches if b.records]) >= 2


def test_commits_resume_and_uncommitted_batches_are_read_again(kafka_broker, kafka_spark):
    cfg = fresh_cfg(kafka_broker)
    kafka_clients.ensure_topic(cfg, cfg.topic, partitions=2)
    produce(cfg, cfg.topic, [(i % 2, None, f"a{i}".encode()) for i in range(10)])

    with StreamRun(kafka_spark, cfg, commit=True) as first:
        first.wait_for_records(10)
        wait_for_commit(cfg, {(cfg.topic, 0): 5, (cfg.topic, 1): 5})
    assert sorted(r[5] for r in first.records) == sorted(f"a{i}".encode() for i in range(10))
    assert [lag.lag for lag in kafka_clients.consumer_lag(cfg)] == [0, 0]

    produce(cfg, cfg.topic, [(i % 2, None, f"b{i}".encode()) for i in range(6)])
    assert [lag.lag for lag in kafka_clients.consumer_lag(cfg)] == [3, 3]
    with StreamRun(kafka_spark, cfg, commit=False) as failing:  # output "fails": never commits
        failing.wait_for_records(6)
    assert sorted((r[1], r[2]) for r in failing.records) == [(p, o) for p in (0, 1) for o in (5, 6, 7)]
    assert kafka_clients.committed_offsets(cfg) == {(cfg.topic, 0): 5, (cfg.topic, 1): 5}

    with StreamRun(kafka_spark, cfg, commit=True) as retry:
        retry.wait_for_records(6)
        wait_for_commit(cfg, {(cfg.topic, 0): 8, (cfg.topic, 1): 8})
    assert sorted(r[5] for r in retry.records) == sorted(f"b{i}".encode() for i in range(6))

    # earliest and latest ignore the group's committed offsets
    with StreamRun(kafka_spark, with_starting_offsets(cfg, "earliest")) as earliest:
        earliest.wait_for_records(16)
    assert sorted((r[1], r[2]) for r in earliest.records) == [(p, o) for p in (0, 1) for o in range(8)]
    with StreamRun(kafka_spark, with_starting_offsets(cfg, "latest")) as latest:
        produce(cfg, cfg.topic, [(0, None, b"late")])
        latest.wait_for_records(1)
        assert [(r[1], r[2], r[5]) for r in latest.records] == [(0, 8, b"late")]


def with_starting_offsets(cfg: Config, starting_offsets: str) -> Config:
    from dataclasses import replace

    return replace(cfg, starting_offsets=starting_offsets)


def test_a_5_mib_message_round_trips(kafka_broker, kafka_spark):
    cfg = fresh_cfg(kafka_broker)
    kafka_clients.ensure_topic(cfg, cfg.topic, partitions=1)
    big = os.urandom(5 * MIB)
    produce(cfg, cfg.topic, [(0, b"big", big), (0, b"small", b"x")])

    def digest(rdd):
        rows = jvm_bridge.source_dataframe(kafka_spark, rdd).collect()
        return [(r[2], bytes(r[4]), len(r[5]), hashlib.sha256(r[5]).hexdigest()) for r in rows]

    with StreamRun(kafka_spark, cfg, collect=digest) as run:
        run.wait_for_records(2)
    assert sorted(run.records) == [(0, b"big", len(big), hashlib.sha256(big).hexdigest()),
                                   (1, b"small", 1, hashlib.sha256(b"x").hexdigest())]


def test_max_rate_per_partition_bounds_each_batch(kafka_broker, kafka_spark):
    cfg = fresh_cfg(kafka_broker, max_rate_per_partition=20, backpressure=False)
    kafka_clients.ensure_topic(cfg, cfg.topic, partitions=2)
    produce(cfg, cfg.topic, [(i % 2, None, b"%d" % i) for i in range(60)])
    with StreamRun(kafka_spark, cfg, batch_s=0.5) as run:
        run.wait_for_records(60)
    per_batch = [max(r.count for r in b.ranges) for b in run.batches if b.records]
    assert max(per_batch) <= 10, per_batch  # 20 records/s x 0.5 s
    assert len(per_batch) >= 3
