"""A batch's summary counts the bytes it read (the `input.bytes` metric, `input_bytes` of the JSON
summary): the values of its own records only, counted where the Python workers read them."""

from datetime import datetime
from pathlib import Path

import pytest

from stream_processor.config import Config
from stream_processor.demo.samples import encode, make_frame, message
from stream_processor.output.dead_letters import FileDeadLetterSink
from stream_processor.spark.batch import process_batch
from tests.support.batches import source_frame

pytestmark = pytest.mark.spark


def test_each_batch_counts_the_bytes_of_its_own_values(spark, tmp_path):
    cfg = Config(output_dir=str(tmp_path / "train"))
    first = [message("erin", encode(make_frame("one", 900).image)), b"{broken", b"", None]
    second = [b"x" * 1000, message("erin", encode(make_frame("none", 901).image, "jpeg"))]
    sc = spark.sparkContext

    def run(values, offset):
        rdd = sc.parallelize([("t", 0, offset + i, None, None, v) for i, v in enumerate(values)], 2)
        return process_batch(spark, source_frame(spark, rdd), datetime.now(), cfg,
                             lambda: FileDeadLetterSink(Path(cfg.state_path) / "dead-letters"))

    summaries = [run(first, 0), run(second, 10)]
    assert [s.inputs for s in summaries] == [4, 2]
    assert [s.input_bytes for s in summaries] == [sum(len(v or b"") for v in first), sum(len(v) for v in second)]
