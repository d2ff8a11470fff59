"""The message contract as Spark SQL: the batch's raw records -> typed columns, or the reason why not.

Input: the batch DataFrame (topic, partition, offset, timestamp, key, value). Output: the
columns of `records.Message`: `username` as received, `timestamp` as given, `image` (the
decoded base64), or `reason`/`detail` for a message rejected here (invalid_json,
message_too_large, missing_field, invalid_base64), plus the raw `key` and `value` (or what
rebuilds the value: `rest`, `image_at`) for the dead letters. Username normalisation and the
image checks follow in Python (analyze.analyze).

Spark's JSON reader is lenient where the contract is strict (duplicate keys, a number where a
string is required, bytes that are not UTF-8, data after the value), so the value is read by our
SQL function `read_message` (jars/src/.../MessageReader.java: one strict pass with Jackson's
streaming parser, base64 decoded as Python's `b64decode(validate=True)` takes it); the rules
(size, types, presence, which reason wins) are the CASE below. Expressions on the batch's
DataFrame rather than `spark.sql(text, batch=df)`, which would run a command per batch to name it.
"""

from __future__ import annotations

import weakref

from pyspark.sql import DataFrame, SparkSession

from .jvm_bridge import bridge_class

READER_CLASS = "streamprocessor.bridge.MessageReader"
READ_MESSAGE = "read_message"  # its name in SQL (MessageReader.NAME)

# Three projections, each a list of SQL expressions ({max_bytes}: max_message_bytes). The
# reasons' order is the contract's: size, then JSON, then presence and type, then base64.
READ = [
    "topic", "partition", "offset", "timestamp AS time_ms", "key", "value", "octet_length(value) AS value_bytes",
    "CASE WHEN octet_length(value) <= {max_bytes} THEN read_message(value) END AS m",
]
CHECK = ["*", """
CASE
  WHEN value IS NULL THEN named_struct('reason', 'invalid_json', 'detail', 'empty (tombstone) message')
  WHEN value_bytes > {max_bytes} THEN named_struct(
    'reason', 'message_too_large', 'detail', concat(value_bytes, ' bytes > ', {max_bytes}))
  WHEN m.error IS NOT NULL THEN named_struct('reason', 'invalid_json', 'detail', m.error)
  WHEN m.type <> 'object' THEN named_struct('reason', 'invalid_json', 'detail', concat('a JSON ', m.type, ', not an object'))
  WHEN coalesce(m.username_type, '') <> 'string' THEN named_struct(
    'reason', 'missing_field', 'detail', concat('username is ', coalesce('a JSON ' || m.username_type, 'absent')))
  WHEN coalesce(m.image_type, '') <> 'string' THEN named_struct(
    'reason', 'missing_field', 'detail', concat('imageData is ', coalesce('a JSON ' || m.image_type, 'absent')))
  WHEN m.image_error IS NOT NULL THEN named_struct('reason', 'invalid_base64', 'detail', m.image_error)
END AS rejection"""]
MESSAGE = [  # the fields of records.Message
    "topic", "partition", "offset", "time_ms", "m.username AS username", "m.timestamp AS timestamp",
    "CASE WHEN rejection IS NULL THEN m.image END AS image",
    "rejection.reason AS reason", "coalesce(rejection.detail, '') AS detail", "key",
    # The frame's bytes cross once: a value that read_message took apart travels as the image and
    # the rest (records.Message.raw_value puts it back together for a dead letter).
    "CASE WHEN rejection IS NULL AND m.rest IS NOT NULL THEN NULL ELSE value END AS value",
    "CASE WHEN rejection IS NULL THEN m.rest END AS rest", "CASE WHEN rejection IS NULL THEN m.image_at END AS image_at",
    "value_bytes",
]


_REGISTERED: "weakref.WeakSet[SparkSession]" = weakref.WeakSet()


def parse_messages(spark: SparkSession, batch: DataFrame, max_message_bytes: int) -> DataFrame:
    """`batch`: the batch's records (topic, partition, offset, timestamp, key, value)."""
    if spark not in _REGISTERED:  # functions live in the session; asking its catalog would create ./spark-warehouse
        bridge_class(spark._jvm, READER_CLASS).register(spark._jsparkSession)
        _REGISTERED.add(spark)
    limit = int(max_message_bytes)
    return (batch.selectExpr(*(e.format(max_bytes=limit) for e in READ))
            .selectExpr(*(e.format(max_bytes=limit) for e in CHECK))
            .selectExpr(*MESSAGE))
