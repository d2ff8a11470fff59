"""Python's side of our JVM bridge in jars/ (docs/kafka.md, "The bridge (`jars/`)"): the jars, the Kafka
direct stream, a batch as a DataFrame built in the JVM, offsets and commits, replay's file of
messages as the same kind of DataFrame, and the batch's query kept from one batch to the next
(BatchPlan).

Spark's kafka-0-10 integration has a Java API only; its records stay in the JVM, where the
batch DataFrame is built, and reach Python only through Spark SQL and mapInArrow (batch.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

from stream_processor.config import Config
from stream_processor.kafka import settings as kafka_settings

if TYPE_CHECKING:
    from pyspark import RDD
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.streaming import DStream, StreamingContext

JARS_DIR = Path(__file__).resolve().parents[2] / "jars"
BRIDGE_JAR = "stream-processor-bridge.jar"
BRIDGE_CLASS = "streamprocessor.bridge.KafkaBridge"
LINES_CLASS = "streamprocessor.bridge.TextLines"
PLAN_CLASS = "streamprocessor.bridge.BatchPlan"


@dataclass(frozen=True)
class OffsetRange:
    topic: str
    partition: int
    from_offset: int
    until_offset: int

    @property
    def count(self) -> int:
        return self.until_offset - self.from_offset


def jar_paths() -> list[str]:
    """The bridge, the connector and its runtime jars, for spark.jars / --jars."""
    jars = sorted(str(p) for p in JARS_DIR.glob("*.jar"))
    if not any(Path(j).name == BRIDGE_JAR for j in jars) or len(jars) < 2:
        raise FileNotFoundError(f"the Kafka bridge jars are missing in {JARS_DIR}: run `make setup` (or scripts/build-jars.sh)")
    return jars


@dataclass(frozen=True)
class KafkaStream:
    """The direct stream. Its RDDs are handles to the batch's Kafka records, which stay in the
    JVM: pass them to `source_dataframe`, `offset_ranges` and `commit_offsets`; reading them
    in Python fails. A foreachRDD function must capture `stream_id` (an int), never this object
    or the DStream: checkpointing pickles the function."""

    dstream: "DStream[Any]"
    stream_id: int


def bridge_class(jvm: Any, name: str = BRIDGE_CLASS) -> Any:
    """A class of our bridge jar (KafkaBridge, TextLines, MessageReader, or JobMetrics for
    stream_processor/operations/metrics.py), found in the running JVM."""
    from py4j.java_gateway import JavaClass

    # One lookup of the full name: walking it part by part makes py4j look for the classes
    # "streamprocessor" and "streamprocessor.bridge" first, each a search of every jar.
    found = getattr(jvm, name)
    if not isinstance(found, JavaClass):
        raise RuntimeError(
            f"{name} is not on the JVM's classpath: the jars must be given when the JVM "
            "starts (spark.jars in the SparkConf before the first SparkContext, or spark-submit --jars); "
            "run `make setup` if jars/ is empty")
    return found


def bind_type_util(jvm: Any) -> None:
    """Every streaming batch ends, inside PySpark's foreachRDD callback, in a Java exception that
    PySpark catches and classifies with ~14 py4j `is_instance_of` calls. Each resolves
    `jvm.py4j.reflection.TypeUtil` name by name, and "py4j" alone is tried as a class under every
    package PySpark imports, each try a search of every jar: ~5 ms a call, ~65 ms per batch of
    the driver's time between batches. Bound here once, a call takes 0.3 ms."""
    from py4j.java_gateway import JavaClass, JavaPackage

    client = jvm._gateway_client
    reflection = JavaPackage("py4j.reflection", client, jvm._id)
    reflection.TypeUtil = JavaClass("py4j.reflection.TypeUtil", client)
    package = JavaPackage("py4j", client, jvm._id)
    package.reflection = reflection
    jvm.py4j = package


def create_direct_stream(ssc: "StreamingContext", cfg: Config, topics: Optional[Sequence[str]] = None,
                         location: str = "consistent") -> KafkaStream:
    """Reads `topics` (default: cfg.topic), committing as group cfg.group_id, from
    cfg.starting_offsets, at most cfg.max_rate_per_partition records/s per partition (if > 0).
    `location`: "consistent" or "brokers" (LocationStrategies)."""
    from pyspark.serializers import NoOpSerializer
    from pyspark.streaming import DStream

    stream = bridge_class(ssc._jvm).createDirectStream(
        ssc._jssc, kafka_settings.consumer_params(cfg), list(topics or [cfg.topic]), cfg.starting_offsets, location,
        cfg.max_rate_per_partition)
    dstream = DStream(stream.input(), ssc, NoOpSerializer())
    return KafkaStream(dstream=dstream, stream_id=int(stream.id()))


def _java_rdd(rdd: "RDD[Any]") -> Any:
    return rdd._jrdd


def offset_ranges(rdd: "RDD[Any]") -> list[OffsetRange]:
    """The Kafka offsets of the batch `rdd` comes from (also after narrow transformations)."""
    text = bridge_class(rdd.ctx._jvm).offsetRanges(_java_rdd(rdd))
    ranges = []
    for line in text.splitlines():
        topic, partition, start, until = line.split("\t")
        ranges.append(OffsetRange(topic, int(partition), int(start), int(until)))
    return ranges


def commit_offsets(stream_id: int, rdd: "RDD[Any]", ranges: list[OffsetRange]) -> None:
    """Queues `ranges` (the batch's, from `offset_ranges(rdd)`) for commit to the group; call it
    in foreachRDD once the batch's output is durable. The stream sends the commit with its next
    batch, so the last batch before a stop is read again after a restart. Works after
    checkpoint recovery: the stream is found by id in the active StreamingContext."""
    text = "".join(f"{r.topic}\t{r.partition}\t{r.from_offset}\t{r.until_offset}\n" for r in ranges)
    bridge_class(rdd.ctx._jvm).commit(int(stream_id), text)


def source_dataframe(spark: "SparkSession", rdd: "RDD[Any]") -> "DataFrame":
    """The batch as a DataFrame built inside the JVM from the Kafka RDD, no Python round trip:
    topic string, partition int, offset long, timestamp long (ms), key binary, value binary;
    read by about one task per core, each a consecutive slice of one partition's offsets."""
    from pyspark.sql import DataFrame

    jdf = bridge_class(rdd.ctx._jvm).sourceDataFrame(spark._jsparkSession, _java_rdd(rdd), _cores(spark))
    return DataFrame(jdf, spark)


def text_lines(spark: "SparkSession", path: str, topic: str) -> "DataFrame":
    """A file of messages as a batch DataFrame, read in splits by the executors: each line's raw
    bytes as value (a line ends at "\\n" alone; a "\\r" before it is dropped), its 0-based
    number as offset, `topic` as topic, partition 0, no timestamp or key; spread over every core."""
    from pyspark.sql import DataFrame

    return DataFrame(bridge_class(spark._jvm, LINES_CLASS).read(spark._jsparkSession, path, topic, _cores(spark)), spark)


def stand_in(spark: "SparkSession") -> "DataFrame":
    """An empty batch with the source's columns, to build a BatchPlan's query on."""
    from pyspark.sql import DataFrame

    return DataFrame(bridge_class(spark._jvm, PLAN_CLASS).standIn(spark._jsparkSession), spark)


class BatchPlan:
    """A query built once on `stand_in`, put on each batch's source (jars/src/.../BatchPlan.java)."""

    def __init__(self, query: "DataFrame", stand_in_frame: "DataFrame") -> None:
        self._spark = query.sparkSession
        self._plan = bridge_class(self._spark._jvm, PLAN_CLASS)(query._jdf, stand_in_frame._jdf)

    def on(self, source: "DataFrame") -> "DataFrame":
        from pyspark.sql import DataFrame

        return DataFrame(self._plan.on(source._jdf), self._spark)


def _cores(spark: "SparkSession") -> int:
    return spark.sparkContext.defaultParallelism
