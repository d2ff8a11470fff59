"""The batch function driven by a DStream (queueStream), as the job drives it: one query for
every batch (BatchQuery), one summary per micro-batch, manifest rows stamped with their batch,
the per-user cap held across batches, and one Spark SQL execution per batch that parses the
messages and runs the Python frame work."""

import threading
from pathlib import Path

import pytest
from pyspark.streaming import StreamingContext

from stream_processor.config import Config
from stream_processor.demo.samples import encode, make_frame, message
from stream_processor.output import manifest
from stream_processor.output.dead_letters import FileDeadLetterSink
from stream_processor.spark.batch import BatchQuery
from tests.support.batches import source_frame

pytestmark = pytest.mark.spark


def records(topic, start, values):
    return [(topic, 0, start + i, 1_700_000_000_000, None, v) for i, v in enumerate(values)]


def sql_executions(spark) -> list[tuple[int, str]]:
    """(id, physical plan) of every SQL execution so far, from Spark's SQL status store (what the
    UI's SQL tab and the event log show)."""
    found = spark._jsparkSession.sharedState().statusStore().executionsList()
    return [(found.apply(i).executionId(), found.apply(i).physicalPlanDescription()) for i in range(found.size())]


def test_queue_stream_batches_share_the_cap_and_stamp_their_batch(spark, tmp_path):
    before = {execution_id for execution_id, _ in sql_executions(spark)}
    faces = [message("erin", encode(make_frame("one", 700 + i).image)) for i in range(6)]
    batches = [records("t", 0, faces[:3] + [b"{broken"]), records("t", 4, faces[3:])]
    cfg = Config(output_dir=str(tmp_path / "train"), max_images_per_user=4)
    summaries, done = [], threading.Event()
    query = BatchQuery(spark, cfg, lambda: FileDeadLetterSink(tmp_path / "dead-letters"))

    def on_batch(batch_time, rdd):
        if not rdd.isEmpty():
            summaries.append(query.run(source_frame(spark, rdd), batch_time))
        if len(summaries) == len(batches):
            done.set()

    ssc = StreamingContext(spark.sparkContext, 0.5)
    ssc.queueStream([spark.sparkContext.parallelize(b, 2) for b in batches]).foreachRDD(on_batch)
    ssc.start()
    try:
        assert done.wait(120), "the two batches were not processed"
    finally:
        ssc.stop(stopSparkContext=False, stopGraceFully=False)

    assert [s.inputs for s in summaries] == [4, 3]
    assert summaries[0].rejected.get("invalid_json") == 1
    rows = manifest.latest_rows(Path(cfg.state_path) / "manifest")
    assert len(rows) == 7 and len({r["batch_time"] for r in rows}) == 2
    found = [r for r in rows if r["faces"] == 1]
    assert len(found) >= 5
    assert [r["status"] for r in found] == ["accepted"] * 4 + ["rejected"] * (len(found) - 4)
    assert len(list((tmp_path / "train" / "erin").iterdir())) == 4

    spark.sparkContext._jsc.sc().listenerBus().waitUntilEmpty()  # the status store is fed asynchronously
    new = [plan for execution_id, plan in sql_executions(spark) if execution_id not in before]
    batch_work = [plan for plan in new if "read_message" in plan and "MapInArrow" in plan]
    assert len(new) == len(batch_work) == len(batches), ("one SQL execution per batch: parse, analyze, write",
                                                         [p[:3000] for p in new])
