"""Producer side against the real broker: topics, the dead-letter sink, consumer lag."""

from __future__ import annotations

import uuid

import pytest

from stream_processor.config import MIB, Config
from stream_processor.kafka import clients as kafka_clients, dead_letters as kafka_dead_letters, settings as kafka_settings
from stream_processor.records import Message, Reason
from tests.support.streaming import read_topic

pytestmark = pytest.mark.kafka


def test_dead_letters_keep_the_value_and_name_reason_and_source(kafka_broker):
    name = f"t-{uuid.uuid4().hex[:8]}"
    cfg = Config(bootstrap_servers=kafka_broker.bootstrap, topic=name, max_message_bytes=1 * MIB)
    assert cfg.dead_letter_topic == f"{name}.dlq"
    kafka_clients.ensure_topic(cfg, cfg.dead_letter_topic, partitions=1)
    too_large = b"{" + b"x" * MIB
    with kafka_dead_letters.KafkaDeadLetterSink(cfg) as sink:
        sink.add(Message(name, 1, 42, 123, None, None, None, key=b"key", value=b"\xffnot json"), Reason.INVALID_JSON, "Expecting value")
        sink.add(Message(name, 0, 7, None, None, None, None, value=too_large), Reason.MESSAGE_TOO_LARGE, "1048578 bytes")
        assert sink.flush() == 2

    first, second = read_topic(cfg.bootstrap_servers, cfg.dead_letter_topic)
    assert (first.key, first.value) == (b"key", b"\xffnot json")
    assert dict(first.headers) == {"reason": b"invalid_json", "source.topic": name.encode(),
                                   "source.partition": b"1", "source.offset": b"42", "detail": b"Expecting value"}
    assert second.value == b"", "a value over the dead-letter limit is not copied"
    assert dict(second.headers)["value.omitted"] == str(len(too_large)).encode()
    assert dict(second.headers)["reason"] == b"message_too_large"


def test_a_failed_dead_letter_fails_flush(kafka_broker):
    from kafka import KafkaAdminClient

    name = f"t-{uuid.uuid4().hex[:8]}"
    cfg = Config(bootstrap_servers=kafka_broker.bootstrap, topic=name)
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    try:  # a dead-letter topic that refuses anything over 1000 bytes
        admin.create_topics({cfg.dead_letter_topic: {"num_partitions": 1, "configs": {"max.message.bytes": "1000"}}},
                            wait_for_metadata=True)
    finally:
        admin.close()
    sink = kafka_dead_letters.KafkaDeadLetterSink(cfg)
    sink.add(Message(name, 0, 1, None, None, None, None, value=b"y" * 5000), Reason.CORRUPT_IMAGE)
    with pytest.raises(kafka_dead_letters.DeadLetterError, match="1 of 1"):
        sink.flush()
    assert sink.flush() == 0, "a failed batch of dead letters is reported once"


def test_topic_sizing_and_consumer_lag(kafka_broker):
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource, ConfigResourceType

    name = f"t-{uuid.uuid4().hex[:8]}"
    cfg = Config(bootstrap_servers=kafka_broker.bootstrap, topic=name, group_id=f"{name}-group")
    assert kafka_clients.ensure_topic(cfg, name, partitions=2)
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    try:
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
    finally:
        admin.close()
    assert str(cfg.max_message_bytes + kafka_settings.HEADROOM_BYTES) in repr(configs)
    assert [(lag.partition, lag.committed, lag.end, lag.lag) for lag in kafka_clients.consumer_lag(cfg)] == \
        [(0, None, 0, None), (1, None, 0, None)]


def test_closing_the_shared_producers_stops_them_and_the_next_call_makes_a_new_one(kafka_broker):
    cfg = Config(bootstrap_servers=kafka_broker.bootstrap)
    first = kafka_clients.shared_producer(cfg)
    assert kafka_clients.shared_producer(cfg) is first
    kafka_clients.close_shared_producers()
    assert first._closed and not first._sender.is_alive()  # its network thread is gone
    again = kafka_clients.shared_producer(cfg)
    assert again is not first and not again._closed
