"""jvm_bridge.bind_type_util: py4j's is_instance_of (which PySpark's streaming callback calls ~14
times per batch) no longer looks for py4j's packages as classes in every jar."""

import pytest
from py4j import protocol
from py4j.java_gateway import is_instance_of

from stream_processor.spark import jvm_bridge

pytestmark = pytest.mark.spark
UNKNOWN_MEMBER = protocol.REFLECTION_COMMAND_NAME + protocol.REFL_GET_UNKNOWN_SUB_COMMAND_NAME


def commands_of(spark, call):
    client = spark.sparkContext._gateway._gateway_client
    sent, original = [], client.send_command

    def counting(command, *args, **kwargs):
        sent.append(command)
        return original(command, *args, **kwargs)

    client.send_command = counting
    try:
        return call(), sent
    finally:
        del client.send_command


def test_is_instance_of_answers_without_name_lookups(spark):
    gateway, session = spark.sparkContext._gateway, spark._jsparkSession
    check = lambda: (is_instance_of(gateway, session, "org.apache.spark.sql.classic.SparkSession"),  # noqa: E731
                     is_instance_of(gateway, session, "org.apache.spark.SparkThrowable"))
    spark._jvm.__dict__.pop("py4j", None)  # as PySpark leaves it
    answer, sent = commands_of(spark, check)
    assert answer == (True, False) and any(c.startswith(UNKNOWN_MEMBER) for c in sent)

    jvm_bridge.bind_type_util(spark._jvm)
    answer, sent = commands_of(spark, check)
    assert answer == (True, False)
    assert not [c for c in sent if c.startswith(UNKNOWN_MEMBER)]
    assert spark._jvm.py4j.GatewayServer is not None  # the rest of the package still resolves
