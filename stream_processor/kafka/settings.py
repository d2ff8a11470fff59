"""Kafka client settings from the job's Config, for the Java consumer of the direct stream
(spark/jvm_bridge.py) and the kafka-python producer and admin clients (clients.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stream_processor.config import MIB, Config

# Room for the record batch framing, key and headers around a value of max_message_bytes.
HEADROOM_BYTES = 1 * MIB


def request_limit(cfg: Config) -> int:
    """Bytes one Kafka request/fetch must carry: the largest message plus framing."""
    return cfg.max_message_bytes + HEADROOM_BYTES


def _jaas_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sasl_mechanism(cfg: Config) -> str:
    return (cfg.sasl_mechanism or "PLAIN").upper()


def consumer_params(cfg: Config) -> dict[str, str]:
    """Java consumer settings for the direct stream (the bridge forces byte-array deserializers
    and enable.auto.commit=false; offsets are committed by the job after durable output)."""
    params = {
        "bootstrap.servers": cfg.bootstrap_servers,
        "group.id": cfg.group_id,
        "key.deserializer": "org.apache.kafka.common.serialization.ByteArrayDeserializer",
        "value.deserializer": "org.apache.kafka.common.serialization.ByteArrayDeserializer",
        # committed: the group's offsets where it has some, else the beginning.
        "auto.offset.reset": "latest" if cfg.starting_offsets == "latest" else "earliest",
        "enable.auto.commit": "false",
        "max.partition.fetch.bytes": str(request_limit(cfg)),
        "fetch.max.bytes": str(max(50 * MIB, request_limit(cfg))),
        "security.protocol": cfg.security_protocol,
    }
    if cfg.security_protocol.startswith("SASL_"):
        mechanism = _sasl_mechanism(cfg)
        module = ("org.apache.kafka.common.security.plain.PlainLoginModule" if mechanism == "PLAIN"
                  else "org.apache.kafka.common.security.scram.ScramLoginModule")
        params["sasl.mechanism"] = mechanism
        params["sasl.jaas.config"] = (f"{module} required username={_jaas_quote(cfg.sasl_username)}"
                                      f" password={_jaas_quote(cfg.sasl_password)};")
    if cfg.security_protocol.endswith("SSL") and cfg.ssl_cafile:
        params["ssl.truststore.type"] = "PEM"
        params["ssl.truststore.location"] = str(Path(cfg.ssl_cafile).resolve())
    return params


def client_settings(cfg: Config) -> dict[str, Any]:
    """kafka-python settings shared by the producer and the admin client."""
    settings: dict[str, Any] = {
        "bootstrap_servers": [s.strip() for s in cfg.bootstrap_servers.split(",") if s.strip()],
        "security_protocol": cfg.security_protocol,
    }
    if cfg.security_protocol.startswith("SASL_"):
        settings.update(sasl_mechanism=_sasl_mechanism(cfg), sasl_plain_username=cfg.sasl_username,
                        sasl_plain_password=cfg.sasl_password)
    if cfg.security_protocol.endswith("SSL") and cfg.ssl_cafile:
        settings["ssl_cafile"] = cfg.ssl_cafile
    return settings


def spark_conf_settings(cfg: Config) -> dict[str, str]:
    """Spark settings the Kafka stream reads (set them before the SparkContext starts)."""
    settings = {"spark.streaming.backpressure.enabled": "true" if cfg.backpressure else "false"}
    if cfg.max_rate_per_partition > 0:
        settings["spark.streaming.kafka.maxRatePerPartition"] = str(cfg.max_rate_per_partition)
    return settings
