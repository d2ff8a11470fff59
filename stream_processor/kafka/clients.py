"""kafka-python clients: producing, topics, committed offsets and consumer lag, enrollment
events. (Reading goes through Spark: the direct stream, spark/jvm_bridge.py, or Structured
Streaming's Kafka source, engines/structured.py.)"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, TypeVar

from stream_processor.config import Config
from stream_processor.kafka import settings as kafka_settings

if TYPE_CHECKING:
    from kafka import KafkaAdminClient, KafkaProducer

T = TypeVar("T")
# What the driver's queries during a stream wait for the broker: an outage must not hold a batch
# for kafka-python's default 30 s.
QUERY_TIMEOUT_MS = 5000


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: Optional[int]  # None: the group never committed this partition
    end: int

    @property
    def lag(self) -> Optional[int]:
        return None if self.committed is None else max(0, self.end - self.committed)

    @property
    def behind(self) -> int:
        """Records not yet committed: the lag, or every record where the group never committed."""
        return self.end if self.lag is None else self.lag


def total_behind(lags: list[PartitionLag]) -> int:
    """Records the group has not committed, over all partitions."""
    return sum(p.behind for p in lags)


def make_producer(cfg: Config, **overrides: Any) -> "KafkaProducer":
    """A producer for frames up to cfg.max_message_bytes, acknowledged by all in-sync replicas."""
    from kafka import KafkaProducer

    settings = kafka_settings.client_settings(cfg)
    settings.update(acks="all", max_request_size=kafka_settings.request_limit(cfg), linger_ms=5)
    settings.update(overrides)
    return KafkaProducer(**settings)


def _connection_key(cfg: Config) -> tuple:
    return (cfg.bootstrap_servers, cfg.security_protocol, cfg.sasl_mechanism, cfg.sasl_username,
            cfg.sasl_password, cfg.ssl_cafile)


_producers: dict[tuple, "KafkaProducer"] = {}
_producers_lock = threading.Lock()


def shared_producer(cfg: Config) -> "KafkaProducer":
    """One producer per process and connection settings. Executors' Python workers live across
    batches; a producer per batch would leak its network thread and sockets each time."""
    key = (*_connection_key(cfg), cfg.max_message_bytes)
    with _producers_lock:
        producer = _producers.get(key)
        if producer is None or getattr(producer, "_closed", False):
            producer = _producers[key] = make_producer(cfg)
        return producer


def close_shared_producers(timeout_s: float = 5.0) -> None:
    """Closes the process's shared producers, so that none is left retrying a broker that has
    gone (its network thread logs until the process ends); the next shared_producer makes a new one."""
    with _producers_lock:
        producers = list(_producers.values())
        _producers.clear()
    for producer in producers:
        producer.close(timeout=timeout_s)


def admin_client(cfg: Config, timeout_ms: Optional[int] = None) -> "KafkaAdminClient":
    """`timeout_ms` caps bootstrapping and each request (kafka-python's default: 30 s each)."""
    from kafka import KafkaAdminClient

    timeouts = {"bootstrap_timeout_ms": timeout_ms, "request_timeout_ms": timeout_ms} if timeout_ms else {}
    return KafkaAdminClient(**kafka_settings.client_settings(cfg), **timeouts)


def _retry(call: Callable[[], T], timeout_s: float = 30.0) -> T:
    """Retries Kafka's retriable errors (e.g. the group coordinator still loading)."""
    from kafka.errors import KafkaError

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except KafkaError as exc:
            if not getattr(exc, "retriable", False) or time.monotonic() > deadline:
                raise
            time.sleep(0.25)


def ensure_topic(cfg: Config, topic: str, partitions: int = 2, **configs: str) -> bool:
    """Creates `topic` if missing, sized for cfg.max_message_bytes (plus `configs`, Kafka topic
    settings with '_' for '.'); True when it created it. An existing topic is left as it is.
    Returns once every new partition's leader answers: a topic used at once
    (NotLeaderForPartition on a loaded machine) is where kafka tests flaked."""
    from kafka import TopicPartition
    from kafka.admin import OffsetSpec
    from kafka.errors import TopicAlreadyExistsError

    admin = admin_client(cfg)
    settings = {"max.message.bytes": str(kafka_settings.request_limit(cfg)), **{k.replace("_", "."): v for k, v in configs.items()}}
    try:
        admin.create_topics(
            {topic: {"num_partitions": partitions, "replication_factor": -1, "configs": settings}},
            wait_for_metadata=True)
        _retry(lambda: admin.list_partition_offsets(
            {TopicPartition(topic, p): OffsetSpec.LATEST for p in range(partitions)}))
        return True
    except TopicAlreadyExistsError:
        return False
    finally:
        admin.close()


def committed_offsets(cfg: Config, group: Optional[str] = None,
                      timeout_ms: Optional[int] = None) -> dict[tuple[str, int], int]:
    """The group's committed offsets: (topic, partition) -> next offset to read."""
    admin = admin_client(cfg, timeout_ms)
    try:
        return _committed(admin, group or cfg.group_id)
    finally:
        admin.close()


def _committed(admin: "KafkaAdminClient", group: str) -> dict[tuple[str, int], int]:
    found = _retry(lambda: admin.list_group_offsets(group))
    return {(tp.topic, tp.partition): om.offset for tp, om in found.get(group, {}).items() if om.offset >= 0}


def commit_offsets(cfg: Config, offsets: dict[int, int], timeout_ms: Optional[int] = None) -> None:
    """Commits `offsets` (partition of cfg.topic -> next offset to read) as the group's, from
    outside the group (the structured engine's driver is no member of it); raises if any failed."""
    from kafka import TopicPartition
    from kafka.structs import OffsetAndMetadata

    admin = admin_client(cfg, timeout_ms)
    try:
        result = _retry(lambda: admin.alter_group_offsets(
            cfg.group_id, {TopicPartition(cfg.topic, p): OffsetAndMetadata(o, "", -1) for p, o in offsets.items()}))
    finally:
        admin.close()
    failed = {tp.partition: error.__name__ for tp, error in result.items() if error.__name__ != "NoError"}
    if failed:
        raise RuntimeError(f"group {cfg.group_id}: offsets of partitions {failed} not committed")


def partitions(cfg: Config, topic: Optional[str] = None) -> list[int]:
    """The partitions of `topic` (default cfg.topic); [] when it does not exist."""
    admin = admin_client(cfg)
    try:
        return sorted(_end_offsets(admin, topic or cfg.topic))
    finally:
        admin.close()


def _end_offsets(admin: "KafkaAdminClient", topic: str) -> dict[int, int]:
    """partition -> the offset the next record will get."""
    from kafka import TopicPartition
    from kafka.admin import OffsetSpec

    meta = _retry(lambda: admin.describe_topics([topic]))
    specs = {TopicPartition(topic, p["partition_index"]): OffsetSpec.LATEST
             for t in meta if t["name"] == topic and t["error_code"] == 0 for p in t["partitions"]}
    if not specs:
        return {}
    found = _retry(lambda: admin.list_partition_offsets(specs))
    return {tp.partition: ot.offset for tp, ot in found.items()}


def _lag(admin: "KafkaAdminClient", topic: str, group: str) -> list[PartitionLag]:
    ends = _end_offsets(admin, topic)
    committed = _committed(admin, group)
    return [PartitionLag(topic, p, committed.get((topic, p)), end) for p, end in sorted(ends.items())]


def consumer_lag(cfg: Config, topic: Optional[str] = None, group: Optional[str] = None,
                 timeout_ms: Optional[int] = None) -> list[PartitionLag]:
    """Committed vs end offset of every partition of `topic` (default cfg.topic), asked once."""
    admin = admin_client(cfg, timeout_ms)
    try:
        return _lag(admin, topic or cfg.topic, group or cfg.group_id)
    finally:
        admin.close()


class _KeptLag:
    """The driver asks for the lag after every batch and every few seconds: one admin client kept
    for that (a new one costs ~45 ms of CPU and ~250 ms of wall time to bootstrap; a query on a
    kept one, a few ms), dropped after a failure so the next query starts afresh."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[tuple, "KafkaAdminClient"] = {}

    def __call__(self, cfg: Config) -> list[PartitionLag]:
        key = _connection_key(cfg)
        with self._lock:
            admin = self._clients.get(key) or admin_client(cfg, QUERY_TIMEOUT_MS)
            self._clients[key] = admin
            try:
                return _lag(admin, cfg.topic, cfg.group_id)
            except Exception:
                self._clients.pop(key, None)
                admin.close()
                raise


_kept_lag = _KeptLag()


def consumer_lag_or_none(cfg: Config, quiet: bool = False) -> Optional[list[PartitionLag]]:
    """The job's lag, or None (logged unless `quiet`) while the broker does not answer: the stream
    rides an outage out, so a lag query must neither fail a batch nor stop the job."""
    import logging

    try:
        return _kept_lag(cfg)
    except Exception as exc:  # noqa: BLE001 - kafka-python raises several unrelated types here
        if not quiet:
            logging.getLogger("stream_processor").warning("consumer lag unknown (the broker does not answer): %s", exc)
        return None


def publish_events(cfg: Config, topic: str, events: list[tuple[str, dict]]) -> None:
    """Sends (key, JSON document) pairs and waits for every acknowledgement; raises if any failed."""
    import json

    producer = shared_producer(cfg)
    futures = [producer.send(topic, key=key.encode(), value=json.dumps(doc, sort_keys=True).encode())
               for key, doc in events]
    producer.flush(timeout=60)
    for future in futures:
        future.get(timeout=60)
