"""jvm_bridge.BatchPlan: a query built once on the stand-in source, put on each batch's source."""

import pytest
from pyspark.errors import IllegalArgumentException

from stream_processor.spark import jvm_bridge
from tests.support.batches import source_frame

pytestmark = pytest.mark.spark


def test_one_query_runs_on_each_source(spark):
    stand_in = jvm_bridge.stand_in(spark)
    query = stand_in.selectExpr("offset + 1 AS next", "cast(value AS string) AS text").where("next > 1")
    plan = jvm_bridge.BatchPlan(query, stand_in)
    first = source_frame(spark, [("t", 0, 0, None, None, b"a"), ("t", 0, 1, None, None, b"b")])
    second = source_frame(spark, [("t", 1, 7, 5, b"k", b"c")])
    assert sorted(tuple(r) for r in plan.on(first).collect()) == [(2, "b")]
    assert [tuple(r) for r in plan.on(second).collect()] == [(8, "c")]
    assert [tuple(r) for r in plan.on(first).collect()] == [(2, "b")]  # the plan itself is unchanged


def test_a_source_of_another_shape_is_refused(spark):
    stand_in = jvm_bridge.stand_in(spark)
    plan = jvm_bridge.BatchPlan(stand_in.select("value"), stand_in)
    wrong = source_frame(spark, [("t", 0, 0, None, None, b"a")]).selectExpr(
        "topic", "partition", "offset", "timestamp", "key", "cast(value AS string) AS value")
    with pytest.raises(IllegalArgumentException, match="source column 5 is value string, not value binary"):
        plan.on(wrong)


def test_a_query_must_read_the_stand_in_once(spark):
    stand_in = jvm_bridge.stand_in(spark)
    with pytest.raises(IllegalArgumentException, match="exactly once"):
        jvm_bridge.BatchPlan(source_frame(spark, [("t", 0, 0, None, None, b"a")]), stand_in)
