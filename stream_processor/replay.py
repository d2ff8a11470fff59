"""`replay`: the batch function over a JSONL file of messages, on a local SparkContext.

Executors read the file in splits (`textFile`), so a multi-GB file never passes through the
driver; each line keeps its 0-based number as its offset and the file's name as its topic.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial
from pathlib import Path

from pyspark.sql import SparkSession

from .batch import BatchSummary, process_batch, source_frame
from .config import Config
from .dead_letters import FileDeadLetterSink

log = logging.getLogger("stream_processor")


def local_session(app_name: str = "stream-processor-replay") -> SparkSession:
    return (SparkSession.builder.master("local[*]").appName(app_name)
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate())


def replay(spark: SparkSession, input_path: str | Path, cfg: Config) -> BatchSummary:
    path = Path(input_path).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"replay: input file {input_path} does not exist")
    topic = path.name
    lines = spark.sparkContext.textFile(str(path), use_unicode=False).zipWithIndex()
    records = lines.map(lambda line_number: (topic, 0, line_number[1], None, None, bytes(line_number[0])))
    summary = process_batch(spark, source_frame(spark, records), datetime.now(), cfg,
                            partial(FileDeadLetterSink, cfg.output_dir))
    log.info(summary.line())
    return summary
