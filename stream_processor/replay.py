"""`replay`: the batch function over a JSONL file of messages, on a local SparkContext.

Executors read the file in splits, so a multi-GB file never passes through the driver; each
line keeps its 0-based number as its offset and the file's name as its topic. Lines end at "\n"
alone (as `produce --jsonl` reads them) and reach Python as raw bytes, through the bridge's
converter: `textFile` would replace bytes that are not UTF-8.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from functools import partial
from pathlib import Path

from pyspark import RDD
from pyspark.sql import SparkSession

from . import logs
from .batch import BatchSummary, process_batch, source_frame
from .config import Config
from .dead_letters import FileDeadLetterSink
from .kafka_io import jar_paths
from .state import StateDir

_TEXT_INPUT = "org.apache.hadoop.mapreduce.lib.input.TextInputFormat"
_LINE_BYTES = "streamprocessor.bridge.TextBytesConverter"


def local_session(app_name: str = "stream-processor-replay") -> SparkSession:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need this venv's OpenCV
    return (SparkSession.builder.master("local[*]").appName(app_name)
            .config("spark.jars", ",".join(jar_paths()))
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate())


def read_lines(spark: SparkSession, path: Path) -> RDD:
    """(line bytes without its "\n" or "\r\n", 0-based line number)."""
    lines = spark.sparkContext.newAPIHadoopFile(
        str(path), _TEXT_INPUT, "org.apache.hadoop.io.LongWritable", "org.apache.hadoop.io.Text",
        valueConverter=_LINE_BYTES, conf={"textinputformat.record.delimiter": "\n"})
    return lines.map(lambda pair: _strip_cr(pair[1])).zipWithIndex()


def _strip_cr(line: bytes) -> bytes:
    return line[:-1] if line.endswith(b"\r") else line


def replay(spark: SparkSession, input_path: str | Path, cfg: Config) -> BatchSummary:
    path = Path(input_path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"replay: input file {input_path} does not exist")
    topic = path.name
    records = read_lines(spark, path).map(lambda line: (topic, 0, line[1], None, None, bytes(line[0])))
    summary = process_batch(spark, source_frame(spark, records), datetime.now(), cfg,
                            partial(FileDeadLetterSink, StateDir(Path(cfg.state_path)).dead_letters))
    logs.batch(summary)
    return summary
