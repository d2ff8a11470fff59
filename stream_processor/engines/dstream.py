"""`run`: the DStream job. Kafka direct stream -> batch function -> commit, one batch at a time.

A batch's offsets are committed only after its crops and manifest are durable. A batch that
fails is tried again in place; if it keeps failing the job stops without committing it (nor
anything after it), so a restart resumes from the last good batch.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Callable, Optional

from pyspark import RDD
from pyspark.sql import SparkSession
from pyspark.streaming import StreamingContext

from ..config import Config
from ..kafka import clients as kafka_clients, dead_letters as kafka_dead_letters, settings as kafka_settings
from ..operations import logs, metrics
from ..output.enrollment import Announcements
from ..output.state import StateDir
from ..spark import jvm_bridge
from ..spark.batch import BatchQuery, BatchSummary, ship_model

log = logging.getLogger("stream_processor")
_MAX_BACKOFF_S = 30.0


@dataclass
class _DriverState:
    """What the batch thread tells the main thread; module-level so that a foreachRDD function
    restored from a checkpoint finds it too."""

    last_record: float = field(default_factory=time.monotonic)
    failure: Optional[BaseException] = None
    stop: threading.Event = field(default_factory=threading.Event)
    announcements: Optional[Announcements] = None  # enrollment events, made on the first batch
    query: Optional[BatchQuery] = None  # the batch's query, built for the first batch


_state = _DriverState()


def with_retries(attempt: Callable[[], BatchSummary], attempts: int, what: str) -> BatchSummary:
    """Tries `attempt` up to `attempts` times with exponential backoff; raises the last error."""
    for n in range(1, attempts + 1):
        try:
            return attempt()
        except Exception as exc:  # noqa: BLE001 - any failure of the output is retried the same way
            if n == attempts or _state.stop.is_set():
                raise
            pause = min(_MAX_BACKOFF_S, 2.0 ** (n - 1))
            log.error("%s FAILED (attempt %d of %d), offsets not committed, retrying in %.0f s: %s",
                      what, n, attempts, pause, logs.first_line(exc))
            _state.stop.wait(pause)
    raise AssertionError("unreachable")


def handle_batch(cfg: Config, stream_id: int, batch_time: datetime, rdd: RDD) -> None:
    """The foreachRDD function: process, then commit. Returns None, captures no DStream."""
    if _state.failure is not None:
        return  # never commit past a failed batch: the job is stopping
    ranges = jvm_bridge.offset_ranges(rdd)
    inputs = sum(r.count for r in ranges)
    state = StateDir.of(cfg)
    if inputs:
        _state.last_record = time.monotonic()
        spark = SparkSession.builder.getOrCreate()

        def attempt() -> BatchSummary:
            if _state.query is None:
                _state.query = BatchQuery(spark, cfg, partial(kafka_dead_letters.KafkaDeadLetterSink, cfg))
            summary = _state.query.run(jvm_bridge.source_dataframe(spark, rdd), batch_time)
            _announce(cfg, state, summary.users)  # before the commit: at least once
            return summary

        try:
            summary = with_retries(attempt, cfg.batch_attempts, f"batch {batch_time:%H:%M:%S}")
        except Exception as exc:  # noqa: BLE001
            log.critical("batch %s FAILED for good: stopping the job, offsets from %s on are not committed: %s",
                         batch_time, batch_time, logs.first_line(exc))
            _state.failure = exc
            _state.stop.set()
            return
        _state.last_record = time.monotonic()  # idle time counts from the end of the last data batch
        logs.batch(replace(summary, lag=metrics.after_batch(cfg, summary)))  # the summary line, the job's metrics
    else:
        _announce_quietly(cfg, state)  # users stall while nothing arrives
    jvm_bridge.commit_offsets(stream_id, rdd, ranges)


def _announce(cfg: Config, state: StateDir, users: Optional[list[str]]) -> None:
    """Publishes the enrollment events that are due: the users of this batch (`users`), or every
    known user's stall (None). The first call loads every status, so a restarted job announces
    where each user stands, never a restart from zero."""
    if _state.announcements is None:
        _state.announcements = Announcements(cfg.enrollment_idle_s)
        users = None
    _state.announcements.update(state.statuses(users))
    due = _state.announcements.due(int(time.time() * 1000))
    if due:
        kafka_clients.publish_events(cfg, cfg.status_topic, [(e["username"], e) for e in due])
        _state.announcements.published(due)


def _announce_quietly(cfg: Config, state: StateDir) -> None:
    try:
        _announce(cfg, state, [])
    except Exception as exc:  # noqa: BLE001 - a stall notice can wait for the next batch
        log.warning("enrollment events not published (retried with the next batch): %s", logs.first_line(exc))


def _create_context(spark: SparkSession, cfg: Config) -> StreamingContext:
    ssc = StreamingContext(spark.sparkContext, cfg.batch_interval_s)
    stream = jvm_bridge.create_direct_stream(ssc, cfg)
    stream_id = stream.stream_id  # foreachRDD wants a plain function (it reads its arity)
    stream.dstream.foreachRDD(lambda batch_time, rdd: handle_batch(cfg, stream_id, batch_time, rdd))
    if cfg.checkpoint_dir:
        ssc.checkpoint(cfg.checkpoint_dir)
    return ssc


def _session(cfg: Config) -> SparkSession:
    """Under spark-submit the master and jars come from it; run directly, this is local[*]."""
    builder = SparkSession.builder.appName("stream-processor").config("spark.ui.showConsoleProgress", "false")
    for key, value in kafka_settings.spark_conf_settings(cfg).items():
        builder = builder.config(key, value)
    if "PYSPARK_GATEWAY_PORT" not in os.environ:  # not launched by spark-submit
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need this venv's OpenCV
        builder = builder.master("local[*]").config("spark.jars", ",".join(jvm_bridge.jar_paths()))
    return builder.getOrCreate()


def _idle(cfg: Config) -> bool:
    """Nothing arrived for exit_when_idle_s and the group has committed everything (known only
    while the broker answers)."""
    if cfg.exit_when_idle_s <= 0 or time.monotonic() - _state.last_record < cfg.exit_when_idle_s:
        return False
    lags = kafka_clients.consumer_lag_or_none(cfg)
    return lags is not None and kafka_clients.total_behind(lags) == 0


def run_job(cfg: Config) -> int:
    spark = _session(cfg)
    ship_model(spark, cfg)  # before the stream starts (BatchQuery, built on the first batch, finds it shipped)
    jvm_bridge.bind_type_util(spark._jvm)
    kafka_clients.ensure_topic(cfg, cfg.dead_letter_topic)
    kafka_clients.ensure_topic(cfg, cfg.status_topic, cleanup_policy="compact")  # the latest event per user is what counts
    if cfg.checkpoint_dir:
        ssc = StreamingContext.getOrCreate(cfg.checkpoint_dir, lambda: _create_context(spark, cfg))
    else:
        ssc = _create_context(spark, cfg)
    metrics.start(ssc, cfg)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: _state.stop.set())
    log.info("stream-processor: reading %s from %s into %s every %.1f s", cfg.topic, cfg.bootstrap_servers,
             cfg.output_dir, cfg.batch_interval_s)
    ssc.start()
    while not _state.stop.wait(1.0):
        if ssc.awaitTerminationOrTimeout(0.001) or _idle(cfg):
            break
    graceful = _state.failure is None
    log.info("stream-processor: stopping (%s)", "graceful: the batch in flight finishes and commits"
             if graceful else "after a failed batch")
    ssc.stop(stopSparkContext=True, stopGraceFully=graceful)
    return 0 if graceful else 1
