"""The face model travels with the job (batch.ship_model): the executors decide with the bytes the
driver checked, found through SparkFiles, and shipping it again on a reused session is harmless."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from stream_processor.config import Config
from stream_processor.frames import face_model
from stream_processor.spark import batch

pytestmark = pytest.mark.spark


def executor_models(spark, cfg: Config) -> set[tuple[str, str]]:
    """(face_model as the executors resolve it, its SHA-256), from every task."""
    def resolve(_rows):
        path = batch._on_executor(cfg).face_model
        yield path, hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return set(spark.sparkContext.parallelize(range(4), 4).mapPartitions(resolve).collect())


def test_executors_read_the_shipped_copy(spark, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = elsewhere / face_model.MODEL_FILE  # the same name from another path: already shipped
    shutil.copyfile(face_model.DEFAULT_MODEL_PATH, copy)
    for cfg in (Config(), Config(), Config(face_model=str(copy))):
        batch.ship_model(spark, cfg)  # idempotent: Spark would refuse the name again
    resolved = executor_models(spark, Config(face_model=str(tmp_path / "not-on-the-executors" / face_model.MODEL_FILE)))
    assert {sha for _, sha in resolved} == {face_model.MODEL_SHA256}
    assert all(Path(path).name == face_model.MODEL_FILE for path, _ in resolved)


def test_a_model_never_shipped_keeps_its_setting(spark, tmp_path):
    unshipped = str(tmp_path / "never-shipped.onnx")
    found = spark.sparkContext.parallelize([0], 1).map(
        lambda _: batch._on_executor(Config(face_model=unshipped)).face_model).collect()
    assert found == [unshipped]


def test_a_wrong_model_is_never_shipped(spark, tmp_path):
    wrong = tmp_path / "wrong.onnx"
    wrong.write_bytes(b"not a model")
    with pytest.raises(face_model.ModelError, match="not the pinned"):
        batch.ship_model(spark, Config(face_model=str(wrong)))
