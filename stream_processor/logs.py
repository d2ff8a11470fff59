"""Log lines for people (`text`) or for log pipelines (`json`: one JSON object per line), and the
per-batch summary, which in JSON carries every BatchSummary field (README, "Operating it")."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .batch import BatchSummary

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


def batch(summary: "BatchSummary") -> None:
    """The per-batch summary line; in JSON, an object with every BatchSummary field."""
    log.info(summary.line(), extra={"fields": summary.to_dict()})
