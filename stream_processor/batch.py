"""The batch function: the one piece of Spark glue that the stream and `replay` share.

Source records (a DataFrame with an explicit schema, or an RDD of record tuples) -> executors:
analyze (parse, decode, detect, crop) -> per-user, source-ordered writes -> manifest rows -> the
driver writes them as one Parquet file + one summary line. Frames stay on the executors; only the
small manifest rows come back. One Spark job per batch (see "Performance" in benchmarks/README.md).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, fields
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from pyspark import RDD
from pyspark.accumulators import Accumulator
from pyspark.rdd import portable_hash
from pyspark.sql import DataFrame, SparkSession
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
    input_bytes: int = 0  # the messages' values, as read

    def to_dict(self) -> dict:
        """A JSON object of every field (`<state_dir>/last-batch.json`, `--log-format json`)."""
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "batch_time": self.batch_time.isoformat()}

    @classmethod
    def from_dict(cls, data: dict) -> "BatchSummary":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        return cls(**{**values, "batch_time": datetime.fromisoformat(data["batch_time"])})

    def line(self, lag: Optional[int] = None) -> str:
        reasons = ", ".join(f"{k}={v}" for k, v in sorted(self.rejected.items()))
        text = (f"batch {self.batch_time:%Y-%m-%d %H:%M:%S}: inputs={self.inputs} accepted={self.accepted} "
                f"rejected={sum(self.rejected.values())}" + (f" ({reasons})" if reasons else "")
                + f" seconds={self.seconds:.2f}")
        return text + (f" lag={lag}" if lag is not None else "")


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
    rows = by_user.mapPartitions(partial(_write_partition, cfg.output_dir, cfg.max_images_per_user)).collect()
    if rows:
        write_manifest(rows, batch_time, cfg.output_dir)
    counts = Counter((row[_STATUS], row[_REASON]) for row in rows)
    inputs = len(rows)
    accepted = counts.get((ACCEPTED, None), 0)
    rejected = {reason: n for (status, reason), n in counts.items() if status != ACCEPTED}
    return BatchSummary(batch_time, inputs, accepted, rejected, time.monotonic() - started, input_bytes.value)


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


def _write_partition(output_dir: str, cap: int, items: Iterable[tuple[tuple, Analysis]]) -> Iterator[tuple]:
    writer = UserWriter(output_dir, cap)
    for _, analysis in items:
        row = writer.finish(analysis)
        yield tuple(getattr(row, f.name) for f in fields(ManifestRow))


def _arrow_schema():
    import pyarrow as pa

    types = {StringType(): pa.string(), IntegerType(): pa.int32(), LongType(): pa.int64(),
             TimestampType(): pa.timestamp("us", tz="UTC")}
    return pa.schema([pa.field(f.name, types[f.dataType], f.nullable) for f in MANIFEST_SCHEMA.fields],
                     metadata={"org.apache.spark.sql.parquet.row.metadata": MANIFEST_SCHEMA.json()})


def write_manifest(rows: list[tuple], batch_time: datetime, output_dir: str) -> Path:
    """Appends this batch's rows (ManifestRow field tuples) to the manifest as one Parquet file,
    durably: temp file, fsync, rename, fsync of the folder. The file reads as Spark's own
    (same column types, INT96 batch_time, Spark's schema in the footer)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _arrow_schema()
    micros = TimestampType().toInternal(batch_time)  # as Spark converts it: naive = local time
    columns = [list(c) for c in zip(*rows)] + [[micros] * len(rows)]
    table = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, schema)], schema=schema)
    folder = Path(output_dir) / MANIFEST_DIR
    folder.mkdir(parents=True, exist_ok=True)
    name = f"part-{micros:016d}-{uuid.uuid4().hex}.snappy.parquet"
    tmp = folder / f".{name}.tmp"  # readers skip names starting with '.' or '_'
    try:
        with open(tmp, "wb") as out:
            pq.write_table(table, out, compression="snappy", use_deprecated_int96_timestamps=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, folder / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(folder)
    return folder / name


def read_manifest(spark: SparkSession, output_dir: str) -> DataFrame:
    """The manifest with re-processed records (retries, replays) kept once: the latest row wins."""
    from pyspark.sql import Window, functions as F

    df = spark.read.schema(MANIFEST_SCHEMA).parquet(str(Path(output_dir) / MANIFEST_DIR))
    latest = Window.partitionBy("topic", "partition", "offset").orderBy(F.col("batch_time").desc())
    return df.withColumn("_n", F.row_number().over(latest)).filter("_n = 1").drop("_n")
