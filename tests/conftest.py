"""Shared fixtures: one local SparkSession per test session (one JVM), built with the jars in
jars/ when present so the spark, kafka and faults layers can share it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)


@pytest.fixture(scope="session")
def spark():
    from pyspark.sql import SparkSession

    from tests.support.spark_conf import KEY, driver_java_options

    jars = sorted(str(p) for p in (ROOT / "jars").glob("*.jar"))
    builder = (SparkSession.builder.master("local[2]").appName("stream-processor-tests")
               .config(KEY, driver_java_options())  # as spark-submit.sh's runs: C1, parallel GC, class archive
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.shuffle.partitions", "2")
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.python.worker.reuse", "true"))
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def kafka_broker():
    """A real single-node Kafka broker on free ports (tests/support/broker.py); `.bootstrap`, and
    `.sasl_bootstrap` with the SCRAM user in SCRAM_USER."""
    from stream_processor.kafka import clients as kafka_clients
    from tests.support.broker import SCRAM_USER, LocalBroker

    with LocalBroker(scram_users=dict([SCRAM_USER])) as broker:
        try:
            yield broker
        finally:  # before the broker stops: a producer left retrying it logs into closed streams at exit
            kafka_clients.close_shared_producers()


@pytest.fixture(scope="session")
def standalone_cluster(tmp_path_factory):
    """A master with two workers (scripts/local-cluster.sh) for the cluster and faults layers:
    one start for the session (`.started`: what `start` printed, which
    tests/cluster/test_local_cluster.py checks). At the session's end `stop` must leave nothing
    running (cluster.assert_stops_cleanly): if it does not, the teardown of the last test that
    used the cluster fails."""
    from tests.support.cluster import LocalCluster, assert_stops_cleanly

    # C1 only, as scripts/kafka-broker.sh runs the broker: daemons that live for minutes start in
    # about half the CPU, and C2 does not compile on the cores the tests' jobs need
    cluster = LocalCluster(tmp_path_factory.mktemp("standalone") / "spark", daemon_java_opts="-XX:TieredStopAtLevel=1")
    cluster.start()
    try:
        yield cluster
    finally:
        assert_stops_cleanly(cluster)


@pytest.fixture(scope="session")
def undisturbed_run(kafka_broker, standalone_cluster, tmp_path_factory):
    """The job submitted once with spark-submit.sh to the standalone cluster over the faults'
    input and left alone until all is processed and committed (tests/support/undisturbed.py): the
    cluster layer checks it, the faults layer compares every disturbed run with its output."""
    from tests.support.undisturbed import run_undisturbed

    return run_undisturbed(standalone_cluster, kafka_broker.bootstrap, tmp_path_factory.mktemp("undisturbed"))


@pytest.fixture(scope="session")
def undisturbed_structured_run(undisturbed_run, kafka_broker, standalone_cluster, tmp_path_factory):
    """The same, with `--engine structured`, over the same topic (after the DStream's run)."""
    from tests.support.undisturbed import run_undisturbed

    return run_undisturbed(standalone_cluster, kafka_broker.bootstrap, tmp_path_factory.mktemp("undisturbed-structured"),
                           engine="structured", published=undisturbed_run)
