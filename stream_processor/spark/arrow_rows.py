"""Frozen dataclasses <-> Arrow record batches, by their fields: the rows that cross between the
JVM and the Python workers (mapInArrow). The schema follows the dataclass, so a field added to
`analyze.Analysis` or `records.ManifestRow` crosses with no other change.

Field types: str, int (64-bit), float, bool, bytes, a str Enum (as its value), a nested frozen
dataclass (a struct), list[T], dict[str, T] (a map), each optionally Optional[...].
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from typing import Any, Iterable, Iterator, TypeVar

import pyarrow as pa

T = TypeVar("T")
_SCALARS = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_(), bytes: pa.binary()}


def _unwrap(hint: Any) -> Any:
    """Optional[X] / X | None -> X."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return {name: _unwrap(hint) for name, hint in typing.get_type_hints(cls).items()}


def _arrow_type(hint: Any) -> pa.DataType:
    if hint in _SCALARS:
        return _SCALARS[hint]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return pa.string()
    if dataclasses.is_dataclass(hint):
        return pa.struct([pa.field(f.name, _arrow_type(_hints(hint)[f.name])) for f in dataclasses.fields(hint)])
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        return pa.list_(_arrow_type(_unwrap(args[0])))
    if origin is dict and args[0] is str:
        return pa.map_(pa.string(), _arrow_type(_unwrap(args[1])))
    raise TypeError(f"no Arrow type for {hint!r}")


@functools.cache
def arrow_schema(cls: type) -> pa.Schema:
    hints = _hints(cls)
    return pa.schema([pa.field(f.name, _arrow_type(hints[f.name])) for f in dataclasses.fields(cls)])


@functools.cache
def spark_schema(cls: type) -> Any:
    """The Spark StructType of `cls`'s rows (for mapInArrow's output)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(arrow_schema(cls))


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return [(k, _plain(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def to_batch(cls: type[T], items: Iterable[T]) -> pa.RecordBatch:
    names = [f.name for f in dataclasses.fields(cls)]
    rows = [{name: _plain(getattr(item, name)) for name in names} for item in items]
    return pa.RecordBatch.from_pylist(rows, schema=arrow_schema(cls))


def _typed(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is list:
        return [_typed(_unwrap(args[0]), v) for v in value]
    if origin is dict:
        return {k: _typed(_unwrap(args[1]), v) for k, v in value}
    return value


def _build(cls: type[T], row: dict[str, Any]) -> T:
    """`row` may hold more columns than `cls` has fields, and lack fields that have a default."""
    hints = _hints(cls)
    return cls(**{f.name: _typed(hints[f.name], row[f.name]) for f in dataclasses.fields(cls) if f.name in row})


def from_batch(cls: type[T], batch: pa.RecordBatch) -> Iterator[T]:
    for row in batch.to_pylist():
        yield _build(cls, row)
