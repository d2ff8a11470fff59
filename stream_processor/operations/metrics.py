"""The job's own metrics in Spark's metrics system: the driver's source `StreamProcessor`
(jars/src/.../JobMetrics.java), fed here after each batch, published by Spark's sinks
(conf/metrics.properties: Prometheus at the driver's /metrics/prometheus). Names and the
dashboard: docs/operating.md.

Counters count what the driver processed since it started; in a run that reads every record once
they equal the manifest's counts (the latest row per record).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any, Optional

from ..config import Config
from ..kafka import clients as kafka_clients
from ..output.enrollment import STATES, state_of
from ..output.state import StateDir
from ..records import Reason
from ..spark import jvm_bridge

if TYPE_CHECKING:
    from pyspark import SparkContext
    from pyspark.streaming import StreamingContext

    from ..spark.batch import BatchSummary

log = logging.getLogger("stream_processor")

SOURCE_CLASS = "streamprocessor.bridge.JobMetrics"
SOURCE_NAME = "StreamProcessor"
NAMESPACE = "stream_processor"  # spark.metrics.namespace (conf/spark-defaults.conf)
MIN_REFRESH_S = 5.0

COUNTERS = ("batches", "messages.accepted", "messages.rejected", "crops.written", "deadLetters.sent",
            "input.bytes", *(f"rejected.{r.value}" for r in Reason))
GAUGES = ("lag.total", "lastBatch.processingMs", "lastBatch.schedulingDelayMs", *(f"users.{s}" for s in STATES))
PARTITION_LAG = "lag.partition.{}"  # one gauge per partition of the topic


def prometheus_name(metric: str, kind: str) -> str:
    """The name PrometheusServlet gives a metric of our source on the driver: counters end in
    `_Count`, gauges in `_Value` (and `_Number`)."""
    key = f"{NAMESPACE}.driver.{SOURCE_NAME}.{metric}"
    suffix = {"counter": "Count", "gauge": "Value"}[kind]
    return "metrics_" + "".join(c if c.isalnum() else "_" for c in key) + "_" + suffix


def batch_counts(summary: "BatchSummary") -> dict[str, int]:
    """What one batch adds to the counters."""
    rejected = sum(summary.rejected.values())
    dead = sum(n for reason, n in summary.rejected.items()
               if reason in Reason._value2member_map_ and Reason(reason).before_detection)
    counts = {"batches": 1, "messages.accepted": summary.accepted, "messages.rejected": rejected,
              "crops.written": summary.accepted, "deadLetters.sent": dead, "input.bytes": summary.input_bytes}
    counts.update({f"rejected.{reason}": n for reason, n in summary.rejected.items()})
    return counts


def users_by_state(cfg: Config, now_s: Optional[float] = None) -> dict[str, int]:
    """Users per enrollment state, from the status files of the state location (`stalled` is
    derived when read: enrollment.state_of)."""
    now_ms = int((time.time() if now_s is None else now_s) * 1000)
    counts = Counter({state: 0 for state in STATES})
    for status in StateDir.of(cfg).statuses():
        counts[state_of(status, now_ms, cfg.enrollment_idle_s)] += 1
    return dict(counts)


# --- feeding the source ----------------------------------------------------------------------

_listening = False  # a DStream listener sets the last batch's delays (start)

def _source(jvm: Any) -> Any:
    return jvm_bridge.bridge_class(jvm, SOURCE_CLASS).get()


def start(sc: "SparkContext", cfg: Config, ssc: "Optional[StreamingContext]" = None) -> None:
    """Registers the source on the driver with every counter and gauge (0 until known), a thread
    that keeps the lag and users gauges fresh while no data arrives, and, for a DStream (`ssc`),
    the listener that sets the last batch's delays (without one, after_batch sets the processing
    time)."""
    source = _source(sc._jvm)
    for name in COUNTERS:
        source.add(name, 0)
    global _listening
    _listening = ssc is not None
    if _listening:
        source.listen(ssc._jssc)
    else:
        for name in ("lastBatch.processingMs", "lastBatch.schedulingDelayMs"):
            source.set(name, 0)
    _set_users(source, cfg)
    period = max(cfg.batch_interval_s, MIN_REFRESH_S)
    threading.Thread(target=_keep_fresh, args=(source, cfg, period), name="metrics-refresh", daemon=True).start()


def _keep_fresh(source: Any, cfg: Config, period_s: float) -> None:
    """Batches without data leave the gauges alone: refresh them every `period_s` until the JVM
    is gone."""
    from py4j.protocol import Py4JError

    while True:
        time.sleep(period_s)
        try:
            _set_users(source, cfg)
            _set_lag(source, cfg, quiet=True)
        except Py4JError:  # the driver's JVM has stopped
            return
        except Exception as exc:  # noqa: BLE001 - a status file being replaced: next time
            log.debug("metrics not refreshed: %s", exc)


def after_batch(cfg: Config, summary: "BatchSummary") -> Optional[int]:
    """Adds a processed batch to the counters and refreshes the lag and users gauges (and the last
    batch's processing time where no listener sets it). Returns the group's total lag, or None
    while the broker does not answer (never fails the batch)."""
    from pyspark import SparkContext

    source = _source(SparkContext._active_spark_context._jvm)
    for name, n in batch_counts(summary).items():
        source.add(name, n)
    if not _listening:
        source.set("lastBatch.processingMs", round(summary.seconds * 1000))
    _set_users(source, cfg)
    return _set_lag(source, cfg)


def batch_started(waited_ms: int) -> None:
    """Where no listener does it: the last batch's scheduling delay, from its trigger to its start."""
    from pyspark import SparkContext

    _source(SparkContext._active_spark_context._jvm).set("lastBatch.schedulingDelayMs", max(0, waited_ms))


def _set_lag(source: Any, cfg: Config, quiet: bool = False) -> Optional[int]:
    """The lag gauges from the broker; they keep their last value while it does not answer."""
    lags = kafka_clients.consumer_lag_or_none(cfg, quiet)
    if lags is None:
        return None
    for p in lags:
        source.set(PARTITION_LAG.format(p.partition), p.behind)
    total = kafka_clients.total_behind(lags)
    source.set("lag.total", total)
    return total


def _set_users(source: Any, cfg: Config) -> None:
    for state, n in users_by_state(cfg).items():
        source.set(f"users.{state}", n)
