"""The batch DataFrame the job hands the batch function, built in the JVM from the Kafka RDD: every
record once, unchanged. A batch with fewer Kafka partitions than cores is spread over the cores
in the JVM (KafkaBridge.sourceDataFrame); one with a partition per core is left as it is."""

from __future__ import annotations

import os
import uuid

import pytest

from stream_processor import jvm_bridge, kafka_clients
from stream_processor.config import Config
from tests.support.streaming import StreamRun, produce

pytestmark = pytest.mark.kafka


def fresh_cfg(broker) -> Config:
    name = f"t-{uuid.uuid4().hex[:8]}"
    return Config(bootstrap_servers=broker.bootstrap, topic=name, group_id=f"{name}-group")


@pytest.mark.parametrize("partitions", [1, 3])
def test_the_batch_dataframe_spreads_over_the_cores_unchanged(kafka_broker, spark, partitions):
    jvm_bridge.jar_paths()
    cfg = fresh_cfg(kafka_broker)
    kafka_clients.ensure_topic(cfg, cfg.topic, partitions=partitions)
    sent = [(i % partitions, None if i % 3 == 0 else f"k{i}".encode(),
             None if i % 3 and i % 5 == 0 else os.urandom(1000 + i)) for i in range(40)]
    metas = produce(cfg, cfg.topic, sent)
    slots = spark.sparkContext.defaultParallelism

    def spread(rdd):
        records = jvm_bridge.source_dataframe(spark, rdd)
        sizes = records.rdd.glom().map(len).collect()
        assert len(sizes) == max(slots, rdd.getNumPartitions())
        if rdd.getNumPartitions() < slots:
            assert len([n for n in sizes if n]) > 1, "spread over more than one core"
        return [tuple(r) for r in records.collect()]

    with StreamRun(spark, cfg, collect=spread) as run:
        run.wait_for_records(len(sent))
    expected = {(m.topic, m.partition, m.offset): (m.timestamp, key, value) for m, (_, key, value) in zip(metas, sent)}
    got = {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in run.records}
    assert len(run.records) == len(sent) and got == expected
