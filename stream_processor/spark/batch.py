"""The batch function: the one piece of Spark glue that the stream and `replay` share.

One SQL execution per batch, on the batch's DataFrame (built in the JVM: jvm_bridge.py), by a
query that is built once per job (BatchQuery):
1. Spark SQL parses and checks every message (messages_sql.py);
2. Python workers (mapInArrow) analyze each message: username, decode, detect, gates, crop (analyze.analyze);
3. shuffle by user, sort into source order; Python workers write each user's crops in that
   order (analyze.UserWriter) and return the small manifest rows;
4. the driver writes the rows as one Parquet file and keeps the batch's summary.
Frames stay on the executors and cross from the JVM to Python once (see "Performance" in
benchmarks/README.md); rows cross as the fields of records.Message, analyze.Analysis and
records.ManifestRow (arrow_rows.py). The face model travels with the job (ship_model): every
executor decides with the bytes the driver checked.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from functools import partial
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, Optional

from pyspark import SparkFiles
from pyspark.accumulators import Accumulator
from pyspark.sql import DataFrame, SparkSession

from ..config import Config
from ..frames import face_model
from ..frames.usernames import normalize_username
from ..output import manifest
from ..output.analyze import Analysis, DeadLetterSink, UserWriter, analyze_all
from ..output.state import StateDir, prepare
from ..output.storage import atomic_write
from ..records import ACCEPTED, ManifestRow, Message
from . import arrow_rows, jvm_bridge
from .messages_sql import parse_messages

log = logging.getLogger("stream_processor")

# Records per Arrow batch between the JVM and a Python worker: frames are MBs each, so a worker
# holds a few at a time (bounded memory), while batches stay large enough to amortise a crossing.
ARROW_BATCH_RECORDS = 4
# The writer's input order: Analysis.order_key (a null folder sorts first, as "" does).
_USER_ORDER = ("folder", "topic", "partition", "offset")
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


class BatchQuery:
    """The batch's query for one job (or `replay`), built once on an empty stand-in source
    (jvm_bridge.BatchPlan: building it per batch cost the driver 0.3-0.5 s while the cores waited),
    run on each batch's records."""

    def __init__(self, spark: SparkSession, cfg: Config, dead_letters: DeadLetterFactory) -> None:
        self.cfg = cfg
        ship_model(spark, cfg)
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(ARROW_BATCH_RECORDS))
        self._input_bytes = _input_bytes(spark)
        stand_in = jvm_bridge.stand_in(spark)
        messages = parse_messages(spark, stand_in, cfg.max_message_bytes)
        analyses = messages.mapInArrow(partial(_analyze_batches, cfg, dead_letters, self._input_bytes),
                                       arrow_rows.spark_schema(Analysis))
        by_user = analyses.repartition(spark.sparkContext.defaultParallelism, "folder").sortWithinPartitions(*_USER_ORDER)
        written = by_user.mapInArrow(partial(_write_batches, cfg), arrow_rows.spark_schema(ManifestRow))
        self._plan = jvm_bridge.BatchPlan(written, stand_in)

    def run(self, source: DataFrame, batch_time: datetime) -> BatchSummary:
        """`source`: the batch's records (topic, partition, offset, timestamp, key, value), spread
        over the cores, e.g. jvm_bridge.source_dataframe or text_lines. Raises when any output
        fails (disk, dead-letter topic): the caller must not commit then."""
        started = time.monotonic()
        state = prepare(self.cfg.output_dir, self.cfg.state_path)
        self._input_bytes.value = 0
        # One job: the small manifest rows come back to the driver, which writes them as one file.
        rows = [tuple(r) for r in self._plan.on(source).collect()]  # ManifestRow field order
        if rows:
            manifest.write(rows, batch_time, state.manifest)
        counts = Counter((row[_STATUS], row[_REASON]) for row in rows)
        accepted = counts.get((ACCEPTED, None), 0)
        rejected = {reason: n for (status, reason), n in counts.items() if status != ACCEPTED}
        users = sorted({name for row in rows if (name := _folder_of(row[_USERNAME])) is not None})
        summary = BatchSummary(batch_time, len(rows), accepted, rejected, time.monotonic() - started, users,
                               input_bytes=self._input_bytes.value)
        summary.save(state)
        return summary


def process_batch(spark: SparkSession, source: DataFrame, batch_time: datetime, cfg: Config,
                  dead_letters: DeadLetterFactory) -> BatchSummary:
    """One batch with a query of its own (`replay`, tests); a stream keeps one BatchQuery."""
    return BatchQuery(spark, cfg, dead_letters).run(source, batch_time)


_shipped_models: dict[str, set[str]] = {}


def ship_model(spark: SparkSession, cfg: Config) -> None:
    """Adds the face model (checked: ModelError otherwise) to the SparkContext, so that executors
    read the driver's checked bytes through SparkFiles (_on_executor), wherever their code runs
    from. Once per SparkContext and file name: on a cluster Spark's file server refuses a name
    added again from another path, and every file shipped here is the pinned model, so a name
    already shipped has these bytes."""
    path = face_model.checked(face_model.model_path(cfg.face_model))
    sc = spark.sparkContext
    shipped = _shipped_models.setdefault(sc.applicationId, set())
    if path.name not in shipped:
        sc.addFile(str(path))
        shipped.add(path.name)


def _on_executor(cfg: Config) -> Config:
    """`cfg` naming the executor's copy of the model that ship_model added, when it has one."""
    copy = SparkFiles.get(face_model.model_path(cfg.face_model).name)
    return replace(cfg, face_model=copy) if os.path.isfile(copy) else cfg


def _folder_of(username: Optional[str]) -> Optional[str]:
    return normalize_username(username) if username is not None else None


_input_bytes_accumulators: dict[str, Accumulator] = {}


def _input_bytes(spark: SparkSession) -> Accumulator:
    """One accumulator per SparkContext, reset for each batch (a new one per query would stay
    registered forever). Counted where the values are read anyway, on the executors."""
    sc = spark.sparkContext
    if sc.applicationId not in _input_bytes_accumulators:
        _input_bytes_accumulators[sc.applicationId] = sc.accumulator(0)
    return _input_bytes_accumulators[sc.applicationId]


def _in_batches(cls: type, items: Iterator) -> Iterator:
    while chunk := list(islice(items, ARROW_BATCH_RECORDS)):
        yield arrow_rows.to_batch(cls, chunk)


def _analyze_batches(cfg: Config, dead_letters: DeadLetterFactory, input_bytes: Accumulator,
                     batches: Iterable) -> Iterator:
    cfg = _on_executor(cfg)

    def messages() -> Iterator[Message]:
        for batch in batches:
            for message in arrow_rows.from_batch(Message, batch):
                input_bytes.add(message.value_bytes or 0)
                yield message
    return _in_batches(Analysis, analyze_all(messages(), cfg, dead_letters()))


def _write_batches(cfg: Config, batches: Iterable) -> Iterator:
    writer = UserWriter(cfg)
    try:
        for batch in batches:
            rows = [writer.finish(a) for a in arrow_rows.from_batch(Analysis, batch)]
            yield arrow_rows.to_batch(ManifestRow, rows)
    finally:
        writer.close()
