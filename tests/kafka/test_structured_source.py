"""The structured engine's Kafka side against the real broker: Spark's Kafka source reads with the
job's settings given as kafka.* options (SASL/SCRAM here), its columns are the batch query's
source, a fresh query starts where the consumer group stands, and the group's offsets are
committed from outside the group. The whole engine runs in the cluster and faults layers."""

from __future__ import annotations

import json
import uuid

import pytest

from stream_processor import cli
from stream_processor.config import Config
from stream_processor.engines.structured import _COLUMNS, source_options, starting_offsets
from stream_processor.kafka import clients as kafka_clients
from stream_processor.spark import jvm_bridge
from tests.support.broker import SCRAM_USER, scram_flags

pytestmark = pytest.mark.kafka


def test_the_kafka_source_reads_with_the_jobs_security_settings(kafka_broker, spark, tmp_path):
    topic = f"structured-{uuid.uuid4().hex[:8]}"
    messages = tmp_path / "m.jsonl"
    messages.write_text("".join(f'{{"n": {i}}}\n' for i in range(5)))
    assert cli.main(["produce", "--jsonl", str(messages), "--topic", topic, "--quiet", "--partitions", "2",
                     *scram_flags(kafka_broker.sasl_bootstrap, SCRAM_USER[1])]) == 0
    cfg = Config(bootstrap_servers=kafka_broker.sasl_bootstrap, topic=topic, security_protocol="SASL_PLAINTEXT",
                 sasl_mechanism="SCRAM-SHA-512", sasl_username=SCRAM_USER[0], sasl_password=SCRAM_USER[1],
                 max_rate_per_partition=3, batch_interval_s=2)
    options = source_options(cfg, "earliest", partitions=2, cores=2)
    assert options["kafka.sasl.mechanism"] == "SCRAM-SHA-512" and "kafka.group.id" not in options
    assert options["maxOffsetsPerTrigger"] == "12"  # 3 records/s x 2 partitions x 2 s
    batch_options = {k: v for k, v in options.items() if k != "maxOffsetsPerTrigger"}  # a streaming option
    frame = spark.read.format("kafka").options(**batch_options).load().selectExpr(*_COLUMNS)
    stand_in = jvm_bridge.stand_in(spark)
    assert [(f.name, f.dataType) for f in frame.schema] == [(f.name, f.dataType) for f in stand_in.schema]
    rows = frame.collect()
    assert sorted(r.value for r in rows) == sorted(f'{{"n": {i}}}'.encode() for i in range(5))
    assert {r.partition for r in rows} == {0, 1} and all(r.timestamp > 1.7e12 for r in rows)  # ms


def test_a_fresh_query_starts_where_the_group_stands(kafka_broker):
    topic = f"structured-{uuid.uuid4().hex[:8]}"
    cfg = Config(bootstrap_servers=kafka_broker.bootstrap, topic=topic, group_id=f"{topic}-group")
    assert kafka_clients.ensure_topic(cfg, topic, partitions=2)
    assert starting_offsets(cfg) == "earliest"  # the group never committed
    assert starting_offsets(Config(bootstrap_servers=kafka_broker.bootstrap, topic=topic,
                                   starting_offsets="latest")) == "latest"
    kafka_clients.commit_offsets(cfg, {1: 0})
    assert kafka_clients.committed_offsets(cfg) == {(topic, 1): 0}
    assert json.loads(starting_offsets(cfg)) == {topic: {"0": -2, "1": 0}}  # -2: the partition's earliest
