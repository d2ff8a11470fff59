"""`run`: the DStream job. Kafka direct stream -> batch function -> commit, one batch at a time.

A batch's offsets are committed only after its crops and manifest are durable. A batch that
fails is tried again in place; if it keeps failing the job stops without committing it (nor
anything after it), so a restart resumes from the last good batch.
"""

from __future__ import annotations

from datetime import datetime

from pyspark import RDD
from pyspark.sql import SparkSession
from pyspark.streaming import StreamingContext

from ..config import Config
from ..operations import metrics
from ..spark import jvm_bridge
from ..spark.batch import ship_model
from . import driver
from .driver import state


def handle_batch(cfg: Config, stream_id: int, batch_time: datetime, rdd: RDD) -> None:
    """The foreachRDD function: process, then commit. Returns None, captures no DStream."""
    if state.failure is not None:
        return  # never commit past a failed batch: the job is stopping
    ranges = jvm_bridge.offset_ranges(rdd)
    if sum(r.count for r in ranges):
        spark = SparkSession.builder.getOrCreate()
        try:
            driver.process(cfg, spark, jvm_bridge.source_dataframe(spark, rdd), batch_time)
        except driver.BatchFailed:
            return
    else:
        driver.announce_stalls(cfg)  # users stall while nothing arrives
    jvm_bridge.commit_offsets(stream_id, rdd, ranges)


def _create_context(spark: SparkSession, cfg: Config) -> StreamingContext:
    ssc = StreamingContext(spark.sparkContext, cfg.batch_interval_s)
    stream = jvm_bridge.create_direct_stream(ssc, cfg)
    stream_id = stream.stream_id  # foreachRDD wants a plain function (it reads its arity)
    stream.dstream.foreachRDD(lambda batch_time, rdd: handle_batch(cfg, stream_id, batch_time, rdd))
    if cfg.checkpoint_dir:
        ssc.checkpoint(cfg.checkpoint_dir)
    return ssc


def run_job(cfg: Config) -> int:
    spark = driver.session(cfg)
    ship_model(spark, cfg)  # before the stream starts (BatchQuery, built on the first batch, finds it shipped)
    jvm_bridge.bind_type_util(spark._jvm)
    driver.prepare_topics(cfg)
    if cfg.checkpoint_dir:
        ssc = StreamingContext.getOrCreate(cfg.checkpoint_dir, lambda: _create_context(spark, cfg))
    else:
        ssc = _create_context(spark, cfg)
    metrics.start(ssc.sparkContext, cfg, ssc)
    driver.stop_on_signals()
    driver.reading(cfg, "dstream")
    ssc.start()
    while not state.stop.wait(1.0):
        if ssc.awaitTerminationOrTimeout(0.001) or driver.idle(cfg):
            break
    graceful = driver.stopping()
    ssc.stop(stopSparkContext=True, stopGraceFully=graceful)
    return 0 if graceful else 1
