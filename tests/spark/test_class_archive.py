"""The JVMs' class-data archive that `make setup` builds (scripts/class-archive.sh): the driver's
JVM starts from it (the executors of a cluster: tests/faults/test_worker_kill.py)."""

from __future__ import annotations

import pytest

from tests.support.spark_conf import CLASS_ARCHIVE, maps_class_archive

pytestmark = pytest.mark.spark


def test_the_driver_jvm_starts_from_the_class_archive(spark):
    assert CLASS_ARCHIVE.is_file(), "no class-data archive: run `make setup` (scripts/class-archive.sh)"
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    assert maps_class_archive(pid), f"the driver's JVM ({pid}) does not use {CLASS_ARCHIVE}"
