"""`run --engine structured`: Structured Streaming's Kafka source, each micro-batch handed by
foreachBatch to the same BatchQuery as the DStream's (docs/engines.md).

Progress is a checkpoint in the state location. Spark writes a batch's offsets there before the
batch runs and marks the batch done when foreachBatch returns: a batch cut short by a crash runs
again after a restart with the same offsets, and writes the same bytes. Once a batch's output
is durable its end offsets are committed to the consumer group too, so that `status`, the lag
metric and --exit-when-idle read the same group as with the DStream.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

from pyspark.sql import DataFrame

from ..config import Config
from ..kafka import clients as kafka_clients, settings as kafka_settings
from ..operations import logs, metrics
from ..output.state import StateDir
from ..spark import jvm_bridge
from ..spark.batch import ship_model
from . import driver
from .driver import state

log = logging.getLogger("stream_processor")

# Consumer settings Spark's Kafka source sets itself and refuses as `kafka.*` options.
_SOURCE_OWNS = ("group.id", "auto.offset.reset", "key.deserializer", "value.deserializer", "enable.auto.commit")
# The source's columns as the batch query reads them (jvm_bridge.stand_in): the timestamp in ms.
_COLUMNS = ("topic", "partition", "offset", "unix_millis(timestamp) AS timestamp", "key", "value")


class _Stopping(RuntimeError):
    """Raised by a batch that starts once a stop was asked for: it must not run, and returning
    would mark it done; it runs after the restart."""


def starting_offsets(cfg: Config) -> str:
    """startingOffsets of a query without a checkpoint: `committed` starts where the group
    stands (a DStream job's group carries over), each partition it never committed at the start."""
    if cfg.starting_offsets != "committed":
        return cfg.starting_offsets
    committed = {p: o for (t, p), o in kafka_clients.committed_offsets(cfg).items() if t == cfg.topic}
    if not committed:
        return "earliest"
    found = kafka_clients.partitions(cfg)
    return json.dumps({cfg.topic: {str(p): committed.get(p, -2) for p in found}})  # -2: earliest


def source_options(cfg: Config, starting: str, partitions: int, cores: int) -> dict[str, str]:
    """Spark's Kafka source options: the job's consumer settings (security included) as kafka.*,
    the rate limit over the topic's `partitions` as maxOffsetsPerTrigger, a batch split over
    `cores` tasks as the DStream's is."""
    options = {f"kafka.{k}": v for k, v in kafka_settings.consumer_params(cfg).items() if k not in _SOURCE_OWNS}
    options.update({"subscribe": cfg.topic, "startingOffsets": starting, "minPartitions": str(cores),
                    "includeHeaders": "false"})
    if cfg.max_rate_per_partition > 0:
        per_trigger = cfg.max_rate_per_partition * cfg.batch_interval_s * max(1, partitions)
        options["maxOffsetsPerTrigger"] = str(max(1, int(per_trigger)))
    return options


def batch_offsets(checkpoint: Path, batch_id: int, topic: str) -> tuple[Optional[datetime], dict[int, int]]:
    """The batch's trigger time and end offsets (partition -> next offset), as Spark wrote them
    to the checkpoint's offset log before running the batch: the same when the batch runs again."""
    lines = (checkpoint / "offsets" / str(batch_id)).read_text().splitlines()[1:]
    docs = [json.loads(line) for line in lines if line.startswith("{")]
    trigger_ms = next((d["batchTimestampMs"] for d in docs if "batchTimestampMs" in d), None)
    ends = next(({int(p): int(o) for p, o in d[topic].items()} for d in docs if isinstance(d.get(topic), dict)), {})
    return (datetime.fromtimestamp(trigger_ms / 1000) if trigger_ms is not None else None), ends


class _GroupCommits:
    """The group's offsets, committed after each batch; one that fails (the broker away) is
    tried again by the main loop, so the lag reaches 0 once the broker answers."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._pending: dict[int, int] = {}
        self._lock = threading.Lock()

    def add(self, ends: dict[int, int]) -> None:
        with self._lock:
            self._pending.update(ends)
        self.flush()

    def flush(self) -> None:
        with self._lock:
            if not self._pending:
                return
            try:
                kafka_clients.commit_offsets(self.cfg, self._pending, kafka_clients.QUERY_TIMEOUT_MS)
            except Exception as exc:  # noqa: BLE001 - the checkpoint holds the progress: commit later
                log.warning("offsets not committed to group %s yet (tried again): %s", self.cfg.group_id,
                            logs.first_line(exc))
                return
            self._pending.clear()


def _handle_batch(cfg: Config, checkpoint: Path, commits: _GroupCommits, frame: DataFrame, batch_id: int) -> None:
    """The foreachBatch function. Returning marks the batch done in the checkpoint: it returns
    only once the batch's output is durable."""
    with state.batch_lock:
        if state.stop.is_set():
            raise _Stopping("the job is stopping: this batch runs after the restart")
        trigger_time, ends = batch_offsets(checkpoint, batch_id, cfg.topic)
        if trigger_time is not None:
            metrics.batch_started(round((datetime.now() - trigger_time).total_seconds() * 1000))
        # BatchFailed goes up: the query stops with the batch undone in the checkpoint.
        driver.process(cfg, frame.sparkSession, frame.selectExpr(*_COLUMNS), trigger_time or datetime.now(),
                       committed=lambda: commits.add(ends))


def run_structured(cfg: Config, available_now: bool = False) -> int:
    """Runs the query until idle (--exit-when-idle), stopped (SIGTERM), or, with `available_now`,
    once everything the topic holds at the start is processed."""
    spark = driver.session(cfg)
    ship_model(spark, cfg)
    jvm_bridge.bind_type_util(spark._jvm)
    driver.prepare_topics(cfg)
    metrics.start(spark.sparkContext, cfg)
    checkpoint = StateDir.of(cfg).structured_checkpoint
    commits = _GroupCommits(cfg)
    options = source_options(cfg, starting_offsets(cfg), len(kafka_clients.partitions(cfg)),
                             spark.sparkContext.defaultParallelism)
    records = spark.readStream.format("kafka").options(**options).load()
    writer = (records.writeStream.queryName("stream-processor").option("checkpointLocation", str(checkpoint))
              .foreachBatch(lambda frame, batch_id: _handle_batch(cfg, checkpoint, commits, frame, batch_id)))
    writer = writer.trigger(availableNow=True) if available_now else writer.trigger(
        processingTime=f"{cfg.batch_interval_s} seconds")
    driver.stop_on_signals()
    driver.reading(cfg, "structured" + (", available now" if available_now else ""))
    query = writer.start()
    error = _wait(cfg, query, commits)
    if error is not None:
        log.critical("stream-processor: the query failed, its batch is not done: %s", error)
        state.failure = RuntimeError(error)
    with state.batch_lock:  # the batch in flight finishes; a later one raises _Stopping
        state.stop.set()
    graceful = driver.stopping()
    query.stop()
    commits.flush()
    spark.stop()
    return 0 if graceful else 1


def _wait(cfg: Config, query: Any, commits: _GroupCommits) -> Optional[str]:
    """Until the query ends, a stop is asked for, or the job is idle; the query's error, if any."""
    from pyspark.errors import StreamingQueryException

    quiet_since = time.monotonic()
    while not state.stop.is_set():
        try:
            if query.awaitTermination(1.0):
                return None
        except StreamingQueryException as exc:  # a batch that failed for good says so itself
            return None if state.failure is not None else logs.first_line(exc)
        commits.flush()
        if driver.idle(cfg):
            return None
        if time.monotonic() - max(quiet_since, state.last_record) >= cfg.batch_interval_s:
            quiet_since = time.monotonic()
            if state.batch_lock.acquire(blocking=False):  # no batch runs: users stall while nothing arrives
                try:
                    driver.announce_stalls(cfg)
                finally:
                    state.batch_lock.release()
    return None
