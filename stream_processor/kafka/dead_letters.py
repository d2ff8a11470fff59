"""The stream's dead-letter sink: the dead-letter topic. (replay's sink writes files: output/dead_letters.py.)"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from stream_processor.config import Config
from stream_processor.kafka.clients import shared_producer
from stream_processor.records import Message, Reason

if TYPE_CHECKING:
    from kafka import KafkaProducer


class DeadLetterError(RuntimeError):
    """Some dead letters were not acknowledged; the batch must fail and be retried."""


class KafkaDeadLetterSink:
    """Sends rejected messages, value unchanged, to cfg.dead_letter_topic with headers `reason`,
    `source.topic`, `source.partition`, `source.offset` and `detail`. `flush()` raises if any
    send failed. A value over cfg.max_message_bytes is replaced by b"" plus a `value.omitted`
    header holding its size: it could never be sent, and must not stall the job.

    Cheap to create (one per partition and batch is fine): the producer is made on the first
    `add` and shared by the process (see `shared_producer`)."""

    def __init__(self, cfg: Config, producer: Optional["KafkaProducer"] = None, topic: Optional[str] = None):
        self.topic = topic or cfg.dead_letter_topic
        self._cfg = cfg
        self._producer = producer
        self._pending: list[Any] = []

    def add(self, record: Message, reason: Reason | str, detail: str = "") -> None:
        reason_text = reason.value if isinstance(reason, Reason) else str(reason)
        headers = [
            ("reason", reason_text.encode()),
            ("source.topic", record.topic.encode()),
            ("source.partition", str(record.partition).encode()),
            ("source.offset", str(record.offset).encode()),
            ("detail", detail.encode("utf-8", "replace")),
        ]
        value = record.raw_value
        if value is not None and len(value) > self._cfg.max_message_bytes:
            headers.append(("value.omitted", str(len(value)).encode()))
            value = b""
        if value is None and record.key is None:
            value = b""  # Kafka clients refuse a record with neither key nor value
        if self._producer is None:
            self._producer = shared_producer(self._cfg)
        self._pending.append(self._producer.send(self.topic, value=value, key=record.key, headers=headers))

    def flush(self, timeout_s: float = 60.0) -> int:
        """Waits for every send; returns how many were acknowledged."""
        pending, self._pending = self._pending, []
        if not pending:
            return 0
        self._producer.flush(timeout=timeout_s)
        errors = []
        for future in pending:
            try:
                future.get(timeout=0.1 if future.is_done else timeout_s)
            except Exception as exc:  # noqa: BLE001 - any failure fails the batch
                errors.append(exc)
        if errors:
            raise DeadLetterError(f"{len(errors)} of {len(pending)} dead letters to {self.topic} failed: {errors[0]!r}")
        return len(pending)

    def close(self) -> None:
        """Flushes; the shared producer stays open for the next batch."""
        self.flush()

    def __enter__(self) -> "KafkaDeadLetterSink":
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is None:
            self.close()
