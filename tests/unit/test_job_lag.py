"""The job's lag queries are best effort: a broker that does not answer for a while must neither
fail a batch (after its output, before its commit) nor stop the job (tests/faults covers the real
outage; this is the rule in isolation)."""

from __future__ import annotations

import time

import pytest

from stream_processor.config import Config
from stream_processor.engines import driver
from stream_processor.kafka import clients as kafka_clients

pytestmark = pytest.mark.unit


def test_an_unanswered_lag_query_gives_none_and_never_idle(monkeypatch):
    from kafka.errors import KafkaTimeoutError

    def no_broker(cfg):  # what the kept admin client raises while the broker is away
        raise KafkaTimeoutError("Unable to bootstrap from ['127.0.0.1:9']")

    monkeypatch.setattr(kafka_clients, "_kept_lag", no_broker)
    monkeypatch.setattr(driver.state, "last_record", time.monotonic() - 3600)
    cfg = Config(exit_when_idle_s=1)
    assert kafka_clients.consumer_lag_or_none(cfg) is None
    assert driver.idle(cfg) is False

    monkeypatch.setattr(kafka_clients, "_kept_lag", lambda cfg: [kafka_clients.PartitionLag(cfg.topic, 0, 5, 5)])
    assert driver.idle(cfg) is True
    assert driver.idle(Config(exit_when_idle_s=0)) is False
