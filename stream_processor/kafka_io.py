"""Everything that knows about Kafka: client settings, the JVM bridge in jars/, producing,
the dead-letter sink and consumer lag.

Reading goes through Spark's kafka-0-10 direct stream (JVM) and our bridge class
(README.md, "The bridge (`jars/`)"); producing and admin go through kafka-python.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, TypeVar

from stream_processor.config import MIB, Config
from stream_processor.records import Reason, SourceRecord

if TYPE_CHECKING:
    from kafka import KafkaAdminClient, KafkaProducer
    from pyspark import RDD
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.streaming import DStream, StreamingContext

JARS_DIR = Path(__file__).resolve().parent.parent / "jars"
BRIDGE_JAR = "stream-processor-bridge.jar"
BRIDGE_CLASS = "streamprocessor.bridge.KafkaBridge"
# Room for the record batch framing, key and headers around a value of max_message_bytes.
HEADROOM_BYTES = 1 * MIB
# What the bridge's tuples hold, in order; the same order as SourceRecord's fields.
SOURCE_FIELDS = ("topic", "partition", "offset", "timestamp", "key", "value")

T = TypeVar("T")


@dataclass(frozen=True)
class OffsetRange:
    topic: str
    partition: int
    from_offset: int
    until_offset: int

    @property
    def count(self) -> int:
        return self.until_offset - self.from_offset


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


# --- settings ---------------------------------------------------------------------------------

def _limit(cfg: Config) -> int:
    """Bytes one Kafka request/fetch must carry: the largest message plus framing."""
    return cfg.max_message_bytes + HEADROOM_BYTES


def _jaas_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sasl_mechanism(cfg: Config) -> str:
    return (cfg.sasl_mechanism or "PLAIN").upper()


def consumer_params(cfg: Config) -> dict[str, str]:
    """Java consumer settings for the direct stream (the bridge forces byte-array deserializers
    and enable.auto.commit=false; offsets are committed by the job after durable output)."""
    params = {
        "bootstrap.servers": cfg.bootstrap_servers,
        "group.id": cfg.group_id,
        "key.deserializer": "org.apache.kafka.common.serialization.ByteArrayDeserializer",
        "value.deserializer": "org.apache.kafka.common.serialization.ByteArrayDeserializer",
        # committed: the group's offsets where it has some, else the beginning.
        "auto.offset.reset": "latest" if cfg.starting_offsets == "latest" else "earliest",
        "enable.auto.commit": "false",
        "max.partition.fetch.bytes": str(_limit(cfg)),
        "fetch.max.bytes": str(max(50 * MIB, _limit(cfg))),
        "security.protocol": cfg.security_protocol,
    }
    if cfg.security_protocol.startswith("SASL_"):
        mechanism = _sasl_mechanism(cfg)
        module = ("org.apache.kafka.common.security.plain.PlainLoginModule" if mechanism == "PLAIN"
                  else "org.apache.kafka.common.security.scram.ScramLoginModule")
        params["sasl.mechanism"] = mechanism
        params["sasl.jaas.config"] = (f"{module} required username={_jaas_quote(cfg.sasl_username)}"
                                      f" password={_jaas_quote(cfg.sasl_password)};")
    if cfg.security_protocol.endswith("SSL") and cfg.ssl_cafile:
        params["ssl.truststore.type"] = "PEM"
        params["ssl.truststore.location"] = str(Path(cfg.ssl_cafile).resolve())
    return params


def _client_settings(cfg: Config) -> dict[str, Any]:
    """kafka-python settings shared by the producer and the admin client."""
    settings: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in cfg.bootstrap_servers.split(",") if s.strip()],
        "security_protocol": cfg.security_protocol,
    }
    if cfg.security_protocol.startswith("SASL_"):
        settings.update(sasl_mechanism=_sasl_mechanism(cfg), sasl_plain_username=cfg.sasl_username,
                        sasl_plain_password=cfg.sasl_password)
    if cfg.security_protocol.endswith("SSL") and cfg.ssl_cafile:
        settings["ssl_cafile"] = cfg.ssl_cafile
    return settings


def spark_conf_settings(cfg: Config) -> dict[str, str]:
    """Spark settings the Kafka stream reads (set them before the SparkContext starts)."""
    settings = {"spark.streaming.backpressure.enabled": "true" if cfg.backpressure else "false"}
    if cfg.max_rate_per_partition > 0:
        settings["spark.streaming.kafka.maxRatePerPartition"] = str(cfg.max_rate_per_partition)
    return settings


def jar_paths() -> list[str]:
    """The bridge, the connector and its runtime jars, for spark.jars / --jars."""
    jars = sorted(str(p) for p in JARS_DIR.glob("*.jar"))
    if not any(Path(j).name == BRIDGE_JAR for j in jars) or len(jars) < 2:
        raise FileNotFoundError(f"the Kafka bridge jars are missing in {JARS_DIR}: run `make setup` (or scripts/build-jars.sh)")
    return jars


# --- the direct stream (JVM bridge) -----------------------------------------------------------

@dataclass(frozen=True)
class KafkaStream:
    """The direct stream: `dstream` yields tuples (topic, partition, offset, timestamp, key,
    value), i.e. `SourceRecord(*t)`. A foreachRDD function must capture `stream_id` (an int),
    never this object or the DStream: checkpointing pickles the function."""

    dstream: "DStream[tuple]"
    stream_id: int


def bridge_class(jvm: Any, name: str = BRIDGE_CLASS) -> Any:
    """A class of our bridge jar (KafkaBridge, or JobMetrics for stream_processor/metrics.py)."""
    from py4j.java_gateway import JavaClass

    bridge = jvm
    for part in name.split("."):
        bridge = getattr(bridge, part)
    if not isinstance(bridge, JavaClass):
        raise RuntimeError(
            f"{name} is not on the JVM's classpath: the jars must be given when the JVM "
            "starts (spark.jars in the SparkConf before the first SparkContext, or spark-submit --jars); "
            "run `make setup` if jars/ is empty")
    return bridge


def create_direct_stream(ssc: "StreamingContext", cfg: Config, topics: Optional[Sequence[str]] = None,
                         location: str = "consistent") -> KafkaStream:
    """Subscribes to `topics` (default: cfg.topic) as group cfg.group_id, from
    cfg.starting_offsets, at most cfg.max_rate_per_partition records/s per partition (if > 0).
    `location`: "consistent" or "brokers" (LocationStrategies)."""
    from pyspark.serializers import BatchedSerializer, PickleSerializer
    from pyspark.streaming import DStream

    stream = bridge_class(ssc._jvm).createDirectStream(
        ssc._jssc, consumer_params(cfg), list(topics or [cfg.topic]), cfg.starting_offsets, location,
        cfg.max_rate_per_partition)
    dstream = DStream(stream.pickled(), ssc, BatchedSerializer(PickleSerializer()))
    return KafkaStream(dstream=dstream, stream_id=int(stream.id()))


def _java_rdd(rdd: "RDD[Any]") -> Any:
    return rdd._jrdd


def offset_ranges(rdd: "RDD[Any]") -> list[OffsetRange]:
    """The Kafka offsets of the batch `rdd` comes from (also after narrow transformations)."""
    text = bridge_class(rdd.ctx._jvm).offsetRanges(_java_rdd(rdd))
    ranges = []
    for line in text.splitlines():
        topic, partition, start, until = line.split("\t")
        ranges.append(OffsetRange(topic, int(partition), int(start), int(until)))
    return ranges


def commit_offsets(stream_id: int, rdd: "RDD[Any]") -> list[OffsetRange]:
    """Queues the batch's offsets for commit to the group; call it in foreachRDD once the
    batch's output is durable. The stream sends the commit with its next batch, so the last
    batch before a stop is read again after a restart. Works after checkpoint recovery: the
    stream is found by id in the active StreamingContext."""
    ranges = offset_ranges(rdd)
    bridge_class(rdd.ctx._jvm).commit(int(stream_id), _java_rdd(rdd))
    return ranges


def source_records(spark: "SparkSession", rdd: "RDD[Any]") -> "RDD[Any]":
    """The batch for `batch.process_batch`: the bridge's record tuples, which cross from the JVM
    to Python once, already pickled. A batch with fewer Kafka partitions than cores is first
    spread over the cores in the JVM (the bridge shuffles the pickled records)."""
    from pyspark import RDD
    from pyspark.serializers import BatchedSerializer, PickleSerializer

    slots = spark.sparkContext.defaultParallelism
    if rdd.getNumPartitions() >= slots:
        return rdd
    spread = bridge_class(rdd.ctx._jvm).pickledRepartition(_java_rdd(rdd), slots)
    return RDD(spread, rdd.ctx, BatchedSerializer(PickleSerializer()))


def source_dataframe(spark: "SparkSession", rdd: "RDD[Any]") -> "DataFrame":
    """The batch as a DataFrame built inside the JVM from the Kafka RDD, no Python round trip:
    topic string, partition int, offset long, timestamp long (ms), key binary, value binary."""
    from pyspark.sql import DataFrame

    return DataFrame(bridge_class(rdd.ctx._jvm).sourceDataFrame(spark._jsparkSession, _java_rdd(rdd)), spark)


# --- producing, topics, lag (kafka-python) ----------------------------------------------------

def make_producer(cfg: Config, **overrides: Any) -> "KafkaProducer":
    """A producer for frames up to cfg.max_message_bytes, acknowledged by all in-sync replicas."""
    from kafka import KafkaProducer

    settings = _client_settings(cfg)
    settings.update(acks="all", max_request_size=_limit(cfg), linger_ms=5)
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


def _admin(cfg: Config, timeout_ms: Optional[int] = None) -> "KafkaAdminClient":
    """`timeout_ms` caps bootstrapping and each request (kafka-python's default: 30 s each)."""
    from kafka import KafkaAdminClient

    timeouts = {"bootstrap_timeout_ms": timeout_ms, "request_timeout_ms": timeout_ms} if timeout_ms else {}
    return KafkaAdminClient(**_client_settings(cfg), **timeouts)


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

    admin = _admin(cfg)
    settings = {"max.message.bytes": str(_limit(cfg)), **{k.replace("_", "."): v for k, v in configs.items()}}
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
    admin = _admin(cfg, timeout_ms)
    try:
        return _committed(admin, group or cfg.group_id)
    finally:
        admin.close()


def _committed(admin: "KafkaAdminClient", group: str) -> dict[tuple[str, int], int]:
    found = _retry(lambda: admin.list_group_offsets(group))
    return {(tp.topic, tp.partition): om.offset for tp, om in found.get(group, {}).items() if om.offset >= 0}


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
    admin = _admin(cfg, timeout_ms)
    try:
        return _lag(admin, topic or cfg.topic, group or cfg.group_id)
    finally:
        admin.close()


class _KeptLag:
    """The driver asks for the lag after every batch and every few seconds: one admin client kept
    for that (a new one costs ~45 ms of CPU and ~250 ms of wall time to bootstrap; a query on a
    kept one, a few ms), dropped after a failure so the next query starts afresh."""

    TIMEOUT_MS = 5000  # an outage must not hold a batch for kafka-python's default 30 s

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[tuple, "KafkaAdminClient"] = {}

    def __call__(self, cfg: Config) -> list[PartitionLag]:
        key = _connection_key(cfg)
        with self._lock:
            admin = self._clients.get(key) or _admin(cfg, self.TIMEOUT_MS)
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


class DeadLetterError(RuntimeError):
    """Some dead letters were not acknowledged; the batch must fail and be retried."""


class KafkaDeadLetterSink:
    """Sends rejected messages, value unchanged, to cfg.dead_letter_topic with headers `reason`,
    `source.topic`, `source.partition`, `source.offset` and `detail`. `flush()` raises if any
    send failed. A value over cfg.max_message_bytes is replaced by b"" plus a `value.omitted`
    header holding its size: it could never be sent, and must not stall the job.

    Cheap to create (one per partition and batch is fine): the producer is made on the first
    `add` and shared by the process (see `shared_producer`)."""

    def __init__(self, cfg: Config, producer: Optional["KafkaProducer"] = None, topic: Optional[str] = None):
        self.topic = topic or cfg.dead_letter_topic
        self._cfg = cfg
        self._producer = producer
        self._pending: list[Any] = []

    def add(self, record: SourceRecord, reason: Reason | str, detail: str = "") -> None:
        reason_text = reason.value if isinstance(reason, Reason) else str(reason)
        headers = [
            ("reason", reason_text.encode()),
            ("source.topic", record.topic.encode()),
            ("source.partition", str(record.partition).encode()),
            ("source.offset", str(record.offset).encode()),
            ("detail", detail.encode("utf-8", "replace")),
        ]
        value = record.value
        if value is not None and len(value) > self._cfg.max_message_bytes:
            headers.append(("value.omitted", str(len(value)).encode()))
            value = b""
        if value is None and record.key is None:
            value = b""  # Kafka clients refuse a record with neither key nor value
        if self._producer is None:
            self._producer = shared_producer(self._cfg)
        self._pending.append(self._producer.send(self.topic, value=value, key=record.key, headers=headers))

    def flush(self, timeout_s: float = 60.0) -> int:
        """Waits for every send; returns how many were acknowledged."""
        pending, self._pending = self._pending, []
        if not pending:
            return 0
        self._producer.flush(timeout=timeout_s)
        errors = []
        for future in pending:
            try:
                future.get(timeout=0.1 if future.is_done else timeout_s)
            except Exception as exc:  # noqa: BLE001 - any failure fails the batch
                errors.append(exc)
        if errors:
            raise DeadLetterError(f"{len(errors)} of {len(pending)} dead letters to {self.topic} failed: {errors[0]!r}")
        return len(pending)

    def close(self) -> None:
        """Flushes; the shared producer stays open for the next batch."""
        self.flush()

    def __enter__(self) -> "KafkaDeadLetterSink":
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
