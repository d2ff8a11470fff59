"""The batch DataFrame the job hands the batch function, built in the JVM from the Kafka RDD: every
record once, unchanged, read in consecutive slices of each partition's offsets, about one per
core (KafkaBridge.sourceDataFrame): a topic with fewer partitions than cores still uses every
core, with no shuffle of the frames."""

from __future__ import annotations

import os
import uuid

import pytest

from stream_processor.config import Config
from stream_processor.kafka import clients as kafka_clients
from stream_processor.spark import jvm_bridge
from tests.support.streaming import StreamRun, produce

pytestmark = pytest.mark.kafka


def fresh_cfg(broker) -> Config:
    name = f"t-{uuid.uuid4().hex[:8]}"
    return Config(bootstrap_servers=broker.bootstrap, topic=name, group_id=f"{name}-group")


@pytest.mark.parametrize("partitions", [1, 3])
def test_the_batch_dataframe_is_read_in_slices_over_the_cores_unchanged(kafka_broker, spark, partitions):
    jvm_bridge.jar_paths()
    cfg = fresh_cfg(kafka_broker)
    kafka_clients.ensure_topic(cfg, cfg.topic, partitions=partitions)
    sent = [(i % partitions, None if i % 3 == 0 else f"k{i}".encode(),
             None if i % 3 and i % 5 == 0 else os.urandom(1000 + i)) for i in range(40)]
    metas = produce(cfg, cfg.topic, sent)
    cores = spark.sparkContext.defaultParallelism

    def sliced(rdd):
        records = jvm_bridge.source_dataframe(spark, rdd)
        slices = [s for s in records.select("partition", "offset").rdd.glom().collect() if s]
        if sum(r.count for r in jvm_bridge.offset_ranges(rdd)) >= cores:
            assert len(slices) >= cores, "every core gets a slice"
        for s in slices:  # each slice: consecutive offsets of one partition
            assert len({p for p, _ in s}) == 1
            offsets = sorted(o for _, o in s)
            assert offsets == list(range(offsets[0], offsets[0] + len(s)))
        return [tuple(r) for r in records.collect()]

    with StreamRun(spark, cfg, collect=sliced) as run:
        run.wait_for_records(len(sent))
    expected = {(m.topic, m.partition, m.offset): (m.timestamp, key, value) for m, (_, key, value) in zip(metas, sent)}
    got = {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in run.records}
    assert len(run.records) == len(sent) and got == expected


def test_offset_ranges_are_cut_into_slices_by_size_and_only_the_first_waits_for_its_executor(spark):
    jvm = spark._jvm
    bridge = jvm_bridge.bridge_class(jvm)
    OffsetRange = jvm.org.apache.spark.streaming.kafka010.OffsetRange
    ranges = [OffsetRange.create("t", 0, 0, 100), OffsetRange.create("t", 1, 100, 110),
              OffsetRange.create("t", 2, 7, 7), OffsetRange.create("t", 3, 50, 52)]
    array = spark.sparkContext._gateway.new_array(OffsetRange, len(ranges))
    for i, r in enumerate(ranges):
        array[i] = r
    slices = bridge.slices(array, 16)
    got = [(s.partition(), s.fromOffset(), s.untilOffset()) for s in slices]

    by_partition: dict[int, list[tuple[int, int]]] = {}
    for partition, start, until in got:
        by_partition.setdefault(partition, []).append((start, until))
    assert by_partition[2] == [(7, 7)]  # an empty range stays, as one empty slice
    for partition, start, until in ((0, 0, 100), (1, 100, 110), (3, 50, 52)):
        cuts = by_partition[partition]
        assert cuts[0][0] == start and cuts[-1][1] == until
        assert all(a[1] == b[0] for a, b in zip(cuts, cuts[1:])), "consecutive, no gap, no overlap"
        sizes = [u - s for s, u in cuts]
        assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1
    # 16 tasks shared by size: 100 of 112 records -> 14 slices, 10 -> 1, 2 -> 1 (at least one each)
    assert [len(by_partition[p]) for p in (0, 1, 3)] == [14, 1, 1]
    # Only a partition's first slice waits for the executor that the partition prefers.
    free = list(bridge.notFirst(slices))
    assert [(slices[i].partition(), slices[i].fromOffset()) for i in free] == [(0, start) for start, _ in by_partition[0][1:]]
