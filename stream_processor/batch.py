"""The batch function: the one piece of Spark glue that the stream and `replay` share.

Source records -> DataFrame (explicit schema) -> executors: analyze (parse, decode, detect, crop)
-> per-user, source-ordered writes -> manifest rows (Parquet) + one summary line. Frames stay on
the executors; only small manifest rows are aggregated, and only counts reach the driver.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, fields
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from pyspark import RDD
from pyspark.rdd import portable_hash
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql.types import (BinaryType, IntegerType, LongType, StringType, StructField, StructType,
                               TimestampType)

from .config import Config
from .core import Analysis, DeadLetterSink, UserWriter, analyze_all
from .records import ACCEPTED, ManifestRow, SourceRecord
from .storage import MANIFEST_DIR, fsync_dir

log = logging.getLogger("stream_processor")

SOURCE_SCHEMA = StructType([
    StructField("topic", StringType(), False),
    StructField("partition", IntegerType(), False),
    StructField("offset", LongType(), False),
    StructField("timestamp", LongType(), True),  # Kafka record time, ms since the epoch
    StructField("key", BinaryType(), True),
    StructField("value", BinaryType(), True),
])

_ROW_TYPES = {"topic": StringType(), "partition": IntegerType(), "offset": LongType(), "faces": IntegerType(),
              "x": IntegerType(), "y": IntegerType(), "w": IntegerType(), "h": IntegerType()}
MANIFEST_SCHEMA = StructType(
    [StructField(f.name, _ROW_TYPES.get(f.name, StringType()), f.name not in ("topic", "partition", "offset", "status"))
     for f in fields(ManifestRow)]
    + [StructField("batch_time", TimestampType(), False)]
)

DeadLetterFactory = Callable[[], DeadLetterSink]
_STATUS, _REASON = (MANIFEST_SCHEMA.names.index(name) for name in ("status", "reason"))


@dataclass(frozen=True)
class BatchSummary:
    batch_time: datetime
    inputs: int
    accepted: int
    rejected: dict[str, int]
    seconds: float

    def line(self, lag: Optional[int] = None) -> str:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.rejected.items()))
        text = (f"batch {self.batch_time:%Y-%m-%d %H:%M:%S}: inputs={self.inputs} accepted={self.accepted} "
                f"rejected={sum(self.rejected.values())}" + (f" ({reasons})" if reasons else "")
                + f" seconds={self.seconds:.2f}")
        return text + (f" lag={lag}" if lag is not None else "")


def source_frame(spark: SparkSession, records: RDD) -> DataFrame:
    """An RDD of (topic, partition, offset, timestamp, key, value) tuples as the source DataFrame."""
    return spark.createDataFrame(records, SOURCE_SCHEMA, verifySchema=False)


def process_batch(spark: SparkSession, source: DataFrame, batch_time: datetime, cfg: Config,
                  dead_letters: DeadLetterFactory) -> BatchSummary:
    """Raises when any output fails (disk, dead-letter topic): the caller must not commit then."""
    started = time.monotonic()
    slots = spark.sparkContext.defaultParallelism
    if source.rdd.getNumPartitions() < slots:  # spread the frame work over every core, in the JVM
        source = source.repartition(slots)
    analyses = source.rdd.mapPartitions(partial(_analyze_partition, cfg, dead_letters))
    by_user = analyses.map(lambda a: (a.order_key, a)).repartitionAndSortWithinPartitions(
        slots, partitionFunc=_user_partition)
    rows = by_user.mapPartitions(partial(_write_partition, cfg.output_dir, cfg.max_images_per_user, batch_time))
    rows.persist()
    try:
        counts = rows.map(lambda row: (row[_STATUS], row[_REASON])).countByValue()
        inputs = sum(counts.values())
        if inputs:
            _write_manifest(spark, rows, cfg.output_dir)
    finally:
        rows.unpersist()
    accepted = counts.get((ACCEPTED, None), 0)
    rejected = {reason: n for (status, reason), n in counts.items() if status != ACCEPTED}
    return BatchSummary(batch_time, inputs, accepted, rejected, time.monotonic() - started)


def _user_partition(key: tuple) -> int:
    return portable_hash(key[0])


def _analyze_partition(cfg: Config, dead_letters: DeadLetterFactory, rows: Iterable[Row]) -> Iterator[Analysis]:
    records = (SourceRecord(r.topic, r.partition, r.offset, r.timestamp,
                            None if r.key is None else bytes(r.key), None if r.value is None else bytes(r.value))
               for r in rows)
    return analyze_all(records, cfg, dead_letters())


def _write_partition(output_dir: str, cap: int, batch_time: datetime,
                     items: Iterable[tuple[tuple, Analysis]]) -> Iterator[tuple]:
    writer = UserWriter(output_dir, cap)
    for _, analysis in items:
        row = writer.finish(analysis)
        yield tuple(getattr(row, f.name) for f in fields(ManifestRow)) + (batch_time,)


def _write_manifest(spark: SparkSession, rows: RDD, output_dir: str) -> None:
    """Append this batch's rows as one Parquet file, then make the new files durable."""
    path = Path(output_dir) / MANIFEST_DIR
    before = set(os.listdir(path)) if path.exists() else set()
    spark.createDataFrame(rows, MANIFEST_SCHEMA, verifySchema=False).coalesce(1) \
        .write.mode("append").parquet(str(path))
    for name in set(os.listdir(path)) - before:
        fd = os.open(path / name, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    fsync_dir(path)


def read_manifest(spark: SparkSession, output_dir: str) -> DataFrame:
    """The manifest with re-processed records (retries, replays) kept once: the latest row wins."""
    from pyspark.sql import Window, functions as F

    df = spark.read.schema(MANIFEST_SCHEMA).parquet(str(Path(output_dir) / MANIFEST_DIR))
    latest = Window.partitionBy("topic", "partition", "offset").orderBy(F.col("batch_time").desc())
    return df.withColumn("_n", F.row_number().over(latest)).filter("_n = 1").drop("_n")
