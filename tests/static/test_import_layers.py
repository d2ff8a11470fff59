"""The package keeps the import contracts of .importlinter (docs/code-layout.md), and `lint-imports`
really catches a break: each break below is made in a copy of the package, never in the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ".importlinter"
LAYERS = "Sub-packages in layers: a lower layer never imports a higher one"
PURE_CORE = "frames and output never import Spark, Kafka, nor the sub-packages above them"
KAFKA = "kafka never imports Spark"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over the package under `root`, with `root`'s contracts: run there, with
    `root` alone on the path, so that it analyses that copy of the package."""
    exe = Path(sys.executable).with_name("lint-imports")
    tool = str(exe) if exe.exists() else shutil.which("lint-imports")
    assert tool, "lint-imports is missing: import-linter is pinned in requirements-dev.txt"
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([tool, "--no-cache", "--config", str(root / CONFIG)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_package_keeps_its_import_contracts():
    result = lint_imports(ROOT)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    for name in (LAYERS, PURE_CORE, KAFKA):
        assert f"{name} KEPT" in out, out


@pytest.mark.parametrize(("module", "line", "broken", "named"), [
    ("frames/detect.py", "import pyspark", {PURE_CORE}, "stream_processor.frames.detect -> pyspark"),
    ("output/state.py", "from kafka import KafkaProducer", {PURE_CORE}, "stream_processor.output.state -> kafka"),
    ("kafka/produce.py", "from pyspark.sql import SparkSession", {KAFKA}, "stream_processor.kafka.produce -> pyspark"),
    ("spark/batch.py", "from ..operations import logs", {LAYERS},
     "stream_processor.spark.batch -> stream_processor.operations.logs"),
    ("output/storage.py", "from ..engines import dstream", {LAYERS, PURE_CORE},
     "stream_processor.output.storage -> stream_processor.engines.dstream"),
    ("extras.py", "", {LAYERS}, "stream_processor.extras"),  # a new module with no layer
], ids=["frames-pyspark", "output-kafka", "kafka-pyspark", "spark-over-operations", "output-over-engines",
        "module-without-layer"])
def test_a_broken_contract_fails_the_check(tmp_path, module, line, broken, named):
    shutil.copytree(ROOT / "stream_processor", tmp_path / "stream_processor",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(ROOT / CONFIG, tmp_path / CONFIG)
    target = tmp_path / "stream_processor" / module
    with open(target, "a", encoding="utf-8") as f:
        f.write(f"\n{line}  # a deliberate break\n" if line else '"""A module nobody placed."""\n')
    result = lint_imports(tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    for name in (LAYERS, PURE_CORE, KAFKA):
        assert f"{name} {'BROKEN' if name in broken else 'KEPT'}" in out, out
    assert named in out, out
