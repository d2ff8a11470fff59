"""`replay`: the batch function over a JSONL file of messages, on a local SparkContext.

Executors read the file in splits (the bridge's TextLines, in the JVM), so a multi-GB file never
passes through the driver; each line keeps its 0-based number as its offset and the file's name
as its topic. Lines end at "\n" alone (as `produce --jsonl` reads them) and reach Spark SQL as
raw bytes: a line that is not UTF-8 is rejected there as invalid_json, like a Kafka message.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from functools import partial
from pathlib import Path

from pyspark.sql import SparkSession

from ..config import Config
from ..operations import logs
from ..output.dead_letters import FileDeadLetterSink
from ..output.state import StateDir
from ..spark import jvm_bridge
from ..spark.batch import BatchSummary, process_batch


def local_session(app_name: str = "stream-processor-replay") -> SparkSession:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need this venv's OpenCV
    return (SparkSession.builder.master("local[*]").appName(app_name)
            .config("spark.jars", ",".join(jvm_bridge.jar_paths()))
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate())


def replay(spark: SparkSession, input_path: str | Path, cfg: Config) -> BatchSummary:
    path = Path(input_path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"replay: input file {input_path} does not exist")
    summary = process_batch(spark, jvm_bridge.text_lines(spark, str(path), path.name), datetime.now(), cfg,
                            partial(FileDeadLetterSink, StateDir.of(cfg).dead_letters))
    logs.batch(summary)
    return summary
