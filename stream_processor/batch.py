"""The batch function: the one piece of Spark glue that the stream and `replay` share.

Source records (a DataFrame with an explicit schema, or an RDD of record tuples) -> executors:
analyze (parse, decode, detect, crop) -> per-user, source-ordered writes (crops, status) ->
manifest rows -> the driver writes them as one Parquet file and keeps the batch's summary. Frames stay on the executors; only the
small manifest rows come back. One Spark job per batch (see "Performance" in benchmarks/README.md).
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Callable, Iterable, Iterator, Optional

from pyspark import RDD
from pyspark.accumulators import Accumulator
from pyspark.rdd import portable_hash
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import BinaryType, IntegerType, LongType, StringType, StructField, StructType

from . import manifest
from .config import Config
from .core import Analysis, DeadLetterSink, UserWriter, analyze_all
from .parse import normalize_username
from .records import ACCEPTED, SourceRecord
from .state import StateDir, prepare
from .storage import atomic_write

log = logging.getLogger("stream_processor")

SOURCE_SCHEMA = StructType([
    StructField("topic", StringType(), False),
    StructField("partition", IntegerType(), False),
    StructField("offset", LongType(), False),
    StructField("timestamp", LongType(), True),  # Kafka record time, ms since the epoch
    StructField("key", BinaryType(), True),
    StructField("value", BinaryType(), True),
])

DeadLetterFactory = Callable[[], DeadLetterSink]
_USERNAME, _STATUS, _REASON = (manifest.COLUMNS.index(name) for name in ("username", "status", "reason"))


@dataclass(frozen=True)
class BatchSummary:
    """What one batch did: logged, kept as `<state_dir>/last-batch.json`, read back by tools."""

    batch_time: datetime
    inputs: int
    accepted: int
    rejected: dict[str, int]
    seconds: float
    users: list[str] = field(default_factory=list)  # the users (folder names) the batch touched
    lag: Optional[int] = None
    input_bytes: int = 0  # the messages' values, as read

    def line(self) -> str:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.rejected.items()))
        text = (f"batch {self.batch_time:%Y-%m-%d %H:%M:%S}: inputs={self.inputs} accepted={self.accepted} "
                f"rejected={sum(self.rejected.values())}" + (f" ({reasons})" if reasons else "")
                + f" seconds={self.seconds:.2f}")
        return text + (f" lag={self.lag}" if self.lag is not None else "")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "batch_time": self.batch_time.isoformat()}

    @staticmethod
    def from_dict(doc: dict[str, Any]) -> "BatchSummary":
        known = {k: v for k, v in doc.items() if k in BatchSummary.__dataclass_fields__}
        return BatchSummary(**{**known, "batch_time": datetime.fromisoformat(doc["batch_time"])})

    def save(self, state: StateDir) -> None:
        atomic_write(state.last_batch, json.dumps(self.to_dict(), sort_keys=True).encode() + b"\n")


def source_frame(spark: SparkSession, records: RDD) -> DataFrame:
    """An RDD of (topic, partition, offset, timestamp, key, value) tuples as the source DataFrame."""
    return spark.createDataFrame(records, SOURCE_SCHEMA, verifySchema=False)


def process_batch(spark: SparkSession, source: DataFrame | RDD, batch_time: datetime, cfg: Config,
                  dead_letters: DeadLetterFactory) -> BatchSummary:
    """`source`: the batch's records, a DataFrame of SOURCE_SCHEMA or an RDD of tuples in its
    column order (the Kafka bridge's records, which then cross from the JVM to Python once, as
    they are). Raises when any output fails (disk, dead-letter topic): the caller must not commit
    then."""
    started = time.monotonic()
    state = prepare(cfg.output_dir, cfg.state_path)
    slots = spark.sparkContext.defaultParallelism
    if isinstance(source, DataFrame):
        if source.rdd.getNumPartitions() < slots:  # spread the frame work over every core, in the JVM
            source = source.repartition(slots)
        records = source.rdd
    else:
        records = source if source.getNumPartitions() >= slots else source.repartition(slots)
    input_bytes = _input_bytes(spark)
    analyses = records.mapPartitions(partial(_analyze_partition, cfg, dead_letters, input_bytes))
    by_user = analyses.map(lambda a: (a.order_key, a)).repartitionAndSortWithinPartitions(
        slots, partitionFunc=_user_partition)
    # One job: the small manifest rows come back to the driver, which writes them as one file.
    rows = by_user.mapPartitions(partial(_write_partition, cfg)).collect()
    if rows:
        manifest.write(rows, batch_time, state.manifest)
    counts = Counter((row[_STATUS], row[_REASON]) for row in rows)
    accepted = counts.get((ACCEPTED, None), 0)
    rejected = {reason: n for (status, reason), n in counts.items() if status != ACCEPTED}
    users = sorted({name for row in rows if (name := _folder_of(row[_USERNAME])) is not None})
    summary = BatchSummary(batch_time, len(rows), accepted, rejected, time.monotonic() - started, users,
                           input_bytes=input_bytes.value)
    summary.save(state)
    return summary


def _folder_of(username: Optional[str]) -> Optional[str]:
    return normalize_username(username) if username is not None else None


_input_bytes_accumulators: dict[str, Accumulator] = {}


def _input_bytes(spark: SparkSession) -> Accumulator:
    """One accumulator per SparkContext, reset for each batch (a new one per batch would stay
    registered forever). Counted where the values are read anyway, on the executors."""
    sc = spark.sparkContext
    if sc.applicationId not in _input_bytes_accumulators:
        _input_bytes_accumulators[sc.applicationId] = sc.accumulator(0)
    acc = _input_bytes_accumulators[sc.applicationId]
    acc.value = 0
    return acc


def _user_partition(key: tuple) -> int:
    return portable_hash(key[0])


def _source_record(r: tuple) -> SourceRecord:
    """A record tuple (topic, partition, offset, timestamp, key, value): a DataFrame Row (binary
    columns come as bytearray) or a tuple of the Kafka bridge (bytes)."""
    topic, partition, offset, timestamp, key, value = r
    if key is not None and type(key) is not bytes:
        key = bytes(key)
    if value is not None and type(value) is not bytes:
        value = bytes(value)
    return SourceRecord(topic, partition, offset, timestamp, key, value)


def _analyze_partition(cfg: Config, dead_letters: DeadLetterFactory, input_bytes: Accumulator,
                       rows: Iterable[tuple]) -> Iterator[Analysis]:
    def counted(records: Iterable[SourceRecord]) -> Iterator[SourceRecord]:
        for record in records:
            input_bytes.add(len(record.value or b""))
            yield record
    return analyze_all(counted(_source_record(r) for r in rows), cfg, dead_letters())


def _write_partition(cfg: Config, items: Iterable[tuple[tuple, Analysis]]) -> Iterator[tuple]:
    writer = UserWriter(cfg)
    try:
        for _, analysis in items:
            yield manifest.as_tuple(writer.finish(analysis))
    finally:
        writer.close()
