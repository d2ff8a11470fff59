"""SASL/SCRAM-SHA-512 against the real local broker: the right password works end to end
(produce, then read through the JVM direct stream); a wrong one ends the job before Spark starts,
in one line naming the cause, within about 15 s."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from stream_processor import cli
from stream_processor.config import Config
from tests.support.broker import SCRAM_USER, scram_flags
from tests.support.streaming import StreamRun

pytestmark = pytest.mark.kafka


def test_wrong_password_ends_the_job_before_spark_with_one_line(kafka_broker, refused_login_run):
    done = refused_login_run.result(timeout_s=150)  # started with the layer's first test (conftest.py)
    result, took = done.result, done.took_s
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, lines
    # "refused" when kafka-python saw the broker's SaslAuthenticationFailed, "did not accept" when it
    # saw only the closed connection (which of the two depends on timing)
    assert re.match(rf"stream_processor: Kafka at {re.escape(kafka_broker.sasl_bootstrap)} (refused|did not accept) the "
                    rf"SASL_PLAINTEXT login of user '{SCRAM_USER[0]}' \(SCRAM-SHA-512\) within 15 s: check sasl_username",
                    lines[0]), lines[0]
    assert took < 30, f"{took:.0f} s"  # 15 s budget plus the interpreter's start on a loaded machine
    out = Path(done.args[done.args.index("--output-dir") + 1])
    assert not (out / "_manifest").exists()


def test_right_password_produces_and_reads(kafka_broker, spark, tmp_path, capsys):
    topic = f"scram-{uuid.uuid4().hex[:8]}"
    messages = tmp_path / "m.jsonl"
    messages.write_text("".join(f'{{"n": {i}}}\n' for i in range(5)))
    assert cli.main(["produce", "--jsonl", str(messages), "--topic", topic, "--quiet",
                     *scram_flags(kafka_broker.sasl_bootstrap, SCRAM_USER[1])]) == 0
    assert "sent 5 messages" in capsys.readouterr().out
    cfg = Config(bootstrap_servers=kafka_broker.sasl_bootstrap, topic=topic, group_id=f"{topic}-group",
                 security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
                 sasl_username=SCRAM_USER[0], sasl_password=SCRAM_USER[1])
    with StreamRun(spark, cfg) as run:
        run.wait_for_records(5)
    assert sorted(r[5] for r in run.records) == [f'{{"n": {i}}}'.encode() for i in range(5)]
