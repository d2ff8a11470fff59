"""Log lines for people (`text`) or for log pipelines (`json`: one JSON object per line), and the
per-batch summary, which in JSON carries every BatchSummary field (docs/operating.md)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from ..spark.batch import BatchSummary

log = logging.getLogger("stream_processor")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """`{"time", "level", "logger", "message"}`, plus the fields a record carries in `extra={"fields": {...}}`
    and `exception` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def setup(log_format: str) -> None:
    """Logging to stderr in `log_format` ("text" or "json"); quiets the Kafka and Py4J clients."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    for chatty in ("kafka", "py4j"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


BATCH_EVENT = "batch"


def first_line(exc: BaseException) -> str:
    """An exception in one line for people: its type and the first line of its message (once,
    where kafka-python's messages already start with the type)."""
    lines = str(exc).strip().splitlines()
    if not lines:
        return type(exc).__name__
    return lines[0] if lines[0].startswith(type(exc).__name__) else f"{type(exc).__name__}: {lines[0]}"


def batch(summary: "BatchSummary") -> None:
    """The per-batch summary line; in JSON, an object with every BatchSummary field."""
    log.info(summary.line(), extra={"fields": {"event": BATCH_EVENT, **summary.to_dict()}})


def parse_line(line: str) -> Optional[dict[str, Any]]:
    """A line of `--log-format json` output as its object; None for anything else in the same
    stream (Spark's and the JVM's own lines)."""
    if not line.startswith("{"):
        return None
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    return entry if isinstance(entry, dict) and "message" in entry else None


def logged_at(entry: dict[str, Any]) -> datetime:
    """When the entry was logged, in this machine's local time (as Spark's batch times are)."""
    return datetime.fromisoformat(entry["time"]).astimezone().replace(tzinfo=None)


def batch_summary(entry: dict[str, Any]) -> Optional["BatchSummary"]:
    """The batch summary that an entry of `batch()` carries, or None for other entries."""
    from ..spark.batch import BatchSummary

    return BatchSummary.from_dict(entry) if entry.get("event") == BATCH_EVENT else None
