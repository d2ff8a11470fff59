"""The manifest contract in one place: its schema, its durable write, and the latest-row rule.

One row per input message (records.ManifestRow plus `batch_time`), one Parquet file per batch in
`<state_dir>/manifest/`. A record processed again (retry, restart, replay) gets another row, so
readers keep the latest row per (topic, partition, offset): `latest_rows` does.
"""

from __future__ import annotations

import json
import typing
import uuid
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Optional

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ..records import ManifestRow
from .storage import atomic_writer

KEY = ("topic", "partition", "offset")
_REQUIRED = set(KEY) | {"status"}
_ARROW = {int: pa.int32(), float: pa.float64(), bool: pa.bool_(), str: pa.string()}
_SPARK = {pa.int32(): "integer", pa.int64(): "long", pa.float64(): "double", pa.bool_(): "boolean",
          pa.string(): "string", pa.timestamp("us", tz="UTC"): "timestamp"}


def _arrow_type(name: str, hint: object) -> pa.DataType:
    if name == "offset":
        return pa.int64()
    base = next(a for a in typing.get_args(hint) if a is not type(None)) if typing.get_args(hint) else hint
    return _ARROW[base]


def _schema() -> pa.Schema:
    hints = typing.get_type_hints(ManifestRow)
    columns = [pa.field(f.name, _arrow_type(f.name, hints[f.name]), f.name not in _REQUIRED) for f in fields(ManifestRow)]
    columns.append(pa.field("batch_time", pa.timestamp("us", tz="UTC"), False))
    spark = {"type": "struct", "fields": [{"name": c.name, "type": _SPARK[c.type], "nullable": c.nullable, "metadata": {}}
                                          for c in columns]}
    # Spark's own schema in the footer: Spark reads the files as if it had written them.
    return pa.schema(columns, metadata={"org.apache.spark.sql.parquet.row.metadata": json.dumps(spark)})


SCHEMA = _schema()
COLUMNS = tuple(SCHEMA.names)


def as_tuple(row: ManifestRow) -> tuple:
    """A row as the small tuple that travels from the executors to the driver."""
    return tuple(getattr(row, f.name) for f in fields(ManifestRow))


def write(rows: list[tuple], batch_time: datetime, folder: Path) -> Path:
    """Appends a batch's rows (`as_tuple` tuples) as one durable Parquet file."""
    when = batch_time if batch_time.tzinfo else batch_time.astimezone()  # naive = local time, as Spark reads it
    micros = int(when.timestamp() * 1_000_000)
    columns = [list(c) for c in zip(*rows)] + [[when.astimezone(timezone.utc)] * len(rows)]
    table = pa.Table.from_arrays([pa.array(c, type=f.type) for c, f in zip(columns, SCHEMA)], schema=SCHEMA)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"part-{micros:016d}-{uuid.uuid4().hex}.snappy.parquet"
    with atomic_writer(path) as out:
        pq.write_table(table, out, compression="snappy", use_deprecated_int96_timestamps=True)
    return path


def all_rows(folder: Path) -> list[dict]:
    """Every row as written, duplicates included (files written by older versions lack the newer
    columns: they read as null)."""
    if not folder.is_dir() or not any(p.suffix == ".parquet" for p in folder.iterdir()):
        return []
    return ds.dataset(str(folder), format="parquet", schema=SCHEMA).to_table().to_pylist()


def latest_rows(folder: Path, rows: Optional[Iterable[dict]] = None) -> list[dict]:
    """One row per source record: the one of the latest batch."""
    latest: dict[tuple, dict] = {}
    for row in all_rows(folder) if rows is None else rows:
        key = tuple(row[k] for k in KEY)
        if key not in latest or row["batch_time"] >= latest[key]["batch_time"]:
            latest[key] = row
    return sorted(latest.values(), key=lambda r: tuple(r[k] for k in KEY))
