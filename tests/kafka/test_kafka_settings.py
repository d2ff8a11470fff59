"""Client settings derived from the config: pure functions, no broker."""

from __future__ import annotations

import pytest

from stream_processor.config import MIB, Config
from stream_processor.kafka import settings as kafka_settings
from stream_processor.spark import jvm_bridge

pytestmark = pytest.mark.unit


def test_consumer_params_carry_large_messages_and_never_auto_commit():
    params = kafka_settings.consumer_params(Config(bootstrap_servers="a:1,b:2", group_id="g", max_message_bytes=8 * MIB))
    assert params["bootstrap.servers"] == "a:1,b:2" and params["group.id"] == "g"
    assert params["enable.auto.commit"] == "false"
    assert params["auto.offset.reset"] == "earliest"  # committed, else earliest
    assert int(params["max.partition.fetch.bytes"]) >= 8 * MIB + MIB
    assert int(params["fetch.max.bytes"]) >= int(params["max.partition.fetch.bytes"])
    assert params["security.protocol"] == "PLAINTEXT" and "sasl.jaas.config" not in params
    assert kafka_settings.consumer_params(Config(starting_offsets="latest"))["auto.offset.reset"] == "latest"


def test_sasl_ssl_settings(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    cfg = Config(security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512", sasl_username="job",
                 sasl_password='p"w\\d', ssl_cafile=str(ca))
    params = kafka_settings.consumer_params(cfg)
    assert params["sasl.mechanism"] == "SCRAM-SHA-512"
    assert params["sasl.jaas.config"] == ('org.apache.kafka.common.security.scram.ScramLoginModule required '
                                          'username="job" password="p\\"w\\\\d";')
    assert params["ssl.truststore.type"] == "PEM" and params["ssl.truststore.location"] == str(ca)
    client = kafka_settings.client_settings(cfg)
    assert client["sasl_plain_password"] == 'p"w\\d' and client["ssl_cafile"] == str(ca)
    plain = kafka_settings.consumer_params(Config(security_protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password="p"))
    assert plain["sasl.mechanism"] == "PLAIN" and "PlainLoginModule" in plain["sasl.jaas.config"]


def test_spark_settings():
    assert kafka_settings.spark_conf_settings(Config()) == {"spark.streaming.backpressure.enabled": "true"}
    assert kafka_settings.spark_conf_settings(Config(max_rate_per_partition=50, backpressure=False)) == {
        "spark.streaming.backpressure.enabled": "false", "spark.streaming.kafka.maxRatePerPartition": "50"}


def test_missing_jars_say_how_to_build_them(tmp_path, monkeypatch):
    monkeypatch.setattr(jvm_bridge, "JARS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="make setup"):
        jvm_bridge.jar_paths()
    for name in (jvm_bridge.BRIDGE_JAR, "kafka-clients-3.9.2.jar"):
        (tmp_path / name).write_bytes(b"")
    assert [p.rsplit("/", 1)[1] for p in jvm_bridge.jar_paths()] == ["kafka-clients-3.9.2.jar", jvm_bridge.BRIDGE_JAR]
