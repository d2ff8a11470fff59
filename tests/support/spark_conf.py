"""The driver's JVM options from conf/spark-defaults.conf: C1 only and the parallel collector (the
reasons are there), and the class-data archive: what spark-submit.sh gives every run it starts.
The tests' own SparkContext and the fault harness's local runs (`python -m stream_processor run`,
which reads no spark-defaults) take the same, so their JVMs start and run as a deployed driver's
do (C2 and G1, the defaults, spend seconds of CPU compiling and marking in a JVM that lives a
minute)."""

from __future__ import annotations

from pathlib import Path

DEFAULTS = Path(__file__).resolve().parents[2] / "conf" / "spark-defaults.conf"
KEY = "spark.driver.defaultJavaOptions"


CLASS_ARCHIVE = DEFAULTS.parents[1] / ".local" / "cds" / "spark.jsa"  # scripts/class-archive.sh


def class_archive_option() -> str:
    """ -XX:SharedArchiveFile=... when setup built the class archive (as spark-submit.sh), else ""."""
    return f" -XX:SharedArchiveFile={CLASS_ARCHIVE}" if CLASS_ARCHIVE.is_file() else ""


def driver_java_options() -> str:
    """spark-defaults.conf's, and the class archive's."""
    for line in DEFAULTS.read_text().splitlines():
        key, _, value = line.strip().partition(" ")
        if key == KEY:
            return value.strip() + class_archive_option()
    raise AssertionError(f"{DEFAULTS} has no {KEY}")


def maps_class_archive(pid: int) -> bool:
    """Whether the JVM `pid` uses the class archive: one that rejects it (built by another JDK, or
    for other jars) prints a warning and does not keep it mapped."""
    return str(CLASS_ARCHIVE.resolve()) in Path(f"/proc/{pid}/maps").read_text()
