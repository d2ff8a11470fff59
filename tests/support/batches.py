"""Batches built in tests: source records as the bridge's DataFrame shape, and the messages the
SQL step makes of them (what analyze.analyze takes)."""

from __future__ import annotations

from typing import Any

from stream_processor.records import Message
from stream_processor.spark import arrow_rows
from stream_processor.spark.messages_sql import parse_messages

SOURCE_DDL = "topic string, partition int, offset long, timestamp long, key binary, value binary"


def source_frame(spark: Any, records: Any) -> Any:
    """(topic, partition, offset, timestamp, key, value) tuples (a list or an RDD) as the source
    DataFrame, the shape jvm_bridge.source_dataframe gives a Kafka batch."""
    return spark.createDataFrame(records, SOURCE_DDL)


def parsed(spark: Any, records: list[tuple], max_message_bytes: int = 8 << 20) -> list[Message]:
    """The records as Messages, through the SQL step, in the order given."""
    table = parse_messages(spark, source_frame(spark, records), max_message_bytes).orderBy("partition", "offset").toArrow()
    by_coordinates = {m.coordinates: m for batch in table.to_batches() for m in arrow_rows.from_batch(Message, batch)}
    return [by_coordinates[r[:3]] for r in records]
