"""The driver's JVM options from conf/spark-defaults.conf: C1 only and the parallel collector (the
reasons are there), what spark-submit.sh gives every run it starts. The tests' own SparkContext and
the fault harness's local runs (`python -m stream_processor run`, which reads no spark-defaults)
take the same, so their JVMs start and run as a deployed driver's do (C2 and G1, the defaults,
spend seconds of CPU compiling and marking in a JVM that lives a minute)."""

from __future__ import annotations

from pathlib import Path

DEFAULTS = Path(__file__).resolve().parents[2] / "conf" / "spark-defaults.conf"
KEY = "spark.driver.defaultJavaOptions"


def driver_java_options() -> str:
    for line in DEFAULTS.read_text().splitlines():
        key, _, value = line.strip().partition(" ")
        if key == KEY:
            return value.strip()
    raise AssertionError(f"{DEFAULTS} has no {KEY}")
