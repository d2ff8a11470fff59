"""What the two engines' drivers share (dstream.py: DStream, structured.py: Structured Streaming):
the Spark session, a batch run with its retries, the enrollment events, the idle check and the
stop flag. A batch's offsets are committed by the engine, and only after `process` returned.
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

from pyspark.sql import DataFrame, SparkSession

from ..config import Config
from ..kafka import clients as kafka_clients, dead_letters as kafka_dead_letters, settings as kafka_settings
from ..operations import logs, metrics
from ..output.enrollment import Announcements
from ..output.state import StateDir
from ..spark import jvm_bridge
from ..spark.batch import BatchQuery, BatchSummary

log = logging.getLogger("stream_processor")
_MAX_BACKOFF_S = 30.0


class BatchFailed(RuntimeError):
    """A batch failed for good: its offsets must not be committed, and the job stops."""


@dataclass
class DriverState:
    """What the batch thread tells the main thread; module-level (`state`) so that a foreachRDD
    function restored from a DStream checkpoint finds it too."""

    last_record: float = field(default_factory=time.monotonic)
    failure: Optional[BaseException] = None
    stop: threading.Event = field(default_factory=threading.Event)
    announcements: Optional[Announcements] = None  # enrollment events, made on the first batch
    query: Optional[BatchQuery] = None  # the batch's query, built for the first batch
    # Held by a batch from start to end, and by whoever else publishes enrollment events.
    batch_lock: threading.Lock = field(default_factory=threading.Lock)


state = DriverState()


def session(cfg: Config) -> SparkSession:
    """Under spark-submit the master and jars come from it; run directly, this is local[*]."""
    builder = SparkSession.builder.appName("stream-processor").config("spark.ui.showConsoleProgress", "false")
    for key, value in kafka_settings.spark_conf_settings(cfg).items():
        builder = builder.config(key, value)
    if "PYSPARK_GATEWAY_PORT" not in os.environ:  # not launched by spark-submit
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need this venv's OpenCV
        builder = builder.master("local[*]").config("spark.jars", ",".join(jvm_bridge.jar_paths()))
    return builder.getOrCreate()


def stop_on_signals() -> None:
    """SIGTERM and Ctrl-C ask for a graceful stop: the batch in flight finishes and commits."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: state.stop.set())


def with_retries(attempt: Callable[[], BatchSummary], attempts: int, what: str) -> BatchSummary:
    """Tries `attempt` up to `attempts` times with exponential backoff; raises the last error."""
    for n in range(1, attempts + 1):
        try:
            return attempt()
        except Exception as exc:  # noqa: BLE001 - any failure of the output is retried the same way
            if n == attempts or state.stop.is_set():
                raise
            pause = min(_MAX_BACKOFF_S, 2.0 ** (n - 1))
            log.error("%s FAILED (attempt %d of %d), offsets not committed, retrying in %.0f s: %s",
                      what, n, attempts, pause, logs.first_line(exc))
            state.stop.wait(pause)
    raise AssertionError("unreachable")


def process(cfg: Config, spark: SparkSession, source: DataFrame, batch_time: datetime,
            committed: Callable[[], None] = lambda: None) -> BatchSummary:
    """Runs a batch of records (with retries), publishes its enrollment events, calls
    `committed` once its output is durable, then logs its summary and feeds the metrics. Raises
    BatchFailed, after telling the main thread to stop, when it keeps failing."""
    state.last_record = time.monotonic()
    stored = StateDir.of(cfg)

    def attempt() -> BatchSummary:
        if state.query is None:
            state.query = BatchQuery(spark, cfg, partial(kafka_dead_letters.KafkaDeadLetterSink, cfg))
        summary = state.query.run(source, batch_time)
        _announce(cfg, stored, summary.users)  # before the commit: at least once
        return summary

    try:
        summary = with_retries(attempt, cfg.batch_attempts, f"batch {batch_time:%H:%M:%S}")
    except Exception as exc:  # noqa: BLE001
        log.critical("batch %s FAILED for good: stopping the job, offsets from %s on are not committed: %s",
                     batch_time, batch_time, logs.first_line(exc))
        state.failure = exc
        state.stop.set()
        raise BatchFailed(f"batch {batch_time} failed") from exc
    committed()
    state.last_record = time.monotonic()  # idle time counts from the end of the last data batch
    logs.batch(replace(summary, lag=metrics.after_batch(cfg, summary)))  # the summary line, the job's metrics
    return summary


def _announce(cfg: Config, stored: StateDir, users: Optional[list[str]]) -> None:
    """Publishes the enrollment events that are due: the users of this batch (`users`), or every
    known user's stall (None). The first call loads every status, so a restarted job announces
    where each user stands, never a restart from zero."""
    if state.announcements is None:
        state.announcements = Announcements(cfg.enrollment_idle_s)
        users = None
    state.announcements.update(stored.statuses(users))
    due = state.announcements.due(int(time.time() * 1000))
    if due:
        kafka_clients.publish_events(cfg, cfg.status_topic, [(e["username"], e) for e in due])
        state.announcements.published(due)


def announce_stalls(cfg: Config) -> None:
    """While nothing arrives: the stall events that are due (a failure waits for the next try)."""
    try:
        _announce(cfg, StateDir.of(cfg), [])
    except Exception as exc:  # noqa: BLE001 - a stall notice can wait for the next batch
        log.warning("enrollment events not published (retried with the next batch): %s", logs.first_line(exc))


def idle(cfg: Config) -> bool:
    """Nothing arrived for exit_when_idle_s and the group has committed everything (known only
    while the broker answers)."""
    if cfg.exit_when_idle_s <= 0 or time.monotonic() - state.last_record < cfg.exit_when_idle_s:
        return False
    lags = kafka_clients.consumer_lag_or_none(cfg)
    return lags is not None and kafka_clients.total_behind(lags) == 0


def prepare_topics(cfg: Config) -> None:
    kafka_clients.ensure_topic(cfg, cfg.dead_letter_topic)
    kafka_clients.ensure_topic(cfg, cfg.status_topic, cleanup_policy="compact")  # the latest event per user is what counts


def reading(cfg: Config, engine: str) -> None:
    log.info("stream-processor: reading %s from %s into %s every %.1f s (%s)", cfg.topic, cfg.bootstrap_servers,
             cfg.output_dir, cfg.batch_interval_s, engine)


def stopping() -> bool:
    """Logs how the job stops; True when it stops gracefully (no batch failed for good)."""
    graceful = state.failure is None
    log.info("stream-processor: stopping (%s)", "graceful: the batch in flight finishes and commits"
             if graceful else "after a failed batch")
    return graceful
