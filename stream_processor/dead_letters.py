"""The file dead-letter sink of `replay`: JSON lines under `<output_dir>/_dlq/`.
(The stream's sink is the dead-letter topic, in kafka_io.)"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Optional

from .records import Reason, SourceRecord
from .storage import fsync_dir, source_name

DLQ_DIR = "_dlq"


def dead_letter_entry(record: SourceRecord, reason: Reason, detail: str) -> dict:
    """The unchanged message with its reason and source coordinates."""
    entry = {"reason": reason.value, "detail": detail, "topic": record.topic,
             "partition": record.partition, "offset": record.offset}
    value = record.value or b""
    try:
        entry["value"] = value.decode("utf-8")
    except UnicodeDecodeError:
        entry["value_base64"] = base64.b64encode(value).decode("ascii")
    return entry


class FileDeadLetterSink:
    """One file per task, named after its first dead letter's source coordinates so that a
    replay overwrites its own file; written to a temp file and moved into place on flush."""

    def __init__(self, output_dir: str | Path) -> None:
        self.folder = Path(output_dir) / DLQ_DIR
        self.name = ""
        self._out: Optional[IO[str]] = None
        self._tmp = ""

    def add(self, record: SourceRecord, reason: Reason, detail: str) -> None:
        if self._out is None:
            self.name = source_name(*record.coordinates) + ".jsonl"
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(prefix=f".{self.name}.", suffix=".tmp", dir=self.folder)
            self._out = os.fdopen(fd, "w", encoding="utf-8")
        self._out.write(json.dumps(dead_letter_entry(record, reason, detail)) + "\n")

    def flush(self) -> None:
        if self._out is None:
            return
        self._out.flush()
        os.fsync(self._out.fileno())
        self._out.close()
        self._out = None
        os.replace(self._tmp, self.folder / self.name)
        fsync_dir(self.folder)
