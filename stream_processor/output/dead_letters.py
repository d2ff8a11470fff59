"""The file dead-letter sink of `replay`: JSON lines under `<state_dir>/dead-letters/`.
(The stream's sink is the dead-letter topic: kafka/dead_letters.py.)"""

from __future__ import annotations

import base64
import contextlib
import json
from pathlib import Path
from typing import IO, Optional

from ..records import Message, Reason
from .storage import atomic_writer, source_name


def dead_letter_entry(record: Message, reason: Reason, detail: str) -> dict:
    """The unchanged message with its reason and source coordinates."""
    entry = {"reason": reason.value, "detail": detail, "topic": record.topic,
             "partition": record.partition, "offset": record.offset}
    value = record.raw_value or b""
    try:
        entry["value"] = value.decode("utf-8")
    except UnicodeDecodeError:
        entry["value_base64"] = base64.b64encode(value).decode("ascii")
    return entry


class FileDeadLetterSink:
    """One file per task, named after its first dead letter's source coordinates so that a
    replay overwrites its own file; written durably (storage.atomic_writer) on flush."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._writer: Optional[contextlib.AbstractContextManager[IO[str]]] = None
        self._out: Optional[IO[str]] = None

    def add(self, record: Message, reason: Reason, detail: str) -> None:
        if self._out is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._writer = atomic_writer(self.folder / (source_name(*record.coordinates) + ".jsonl"), "w")
            self._out = self._writer.__enter__()
        self._out.write(json.dumps(dead_letter_entry(record, reason, detail)) + "\n")

    def flush(self) -> None:
        if self._writer is not None:
            writer, self._writer, self._out = self._writer, None, None
            writer.__exit__(None, None, None)
