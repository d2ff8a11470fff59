"""`python -m stream_processor status` against the real broker: lag and committed offsets per
partition, the last batch, users by state, dead letters by reason from the manifest, and the
exit code a probe reads; a broker that is down gives one clear line and exit 3."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from datetime import datetime

import pytest
from kafka import KafkaAdminClient, TopicPartition
from kafka import errors as Errors
from kafka.structs import OffsetAndMetadata

from stream_processor.config import Config
from stream_processor.kafka import clients as kafka_clients
from stream_processor.output import manifest
from stream_processor.output.enrollment import UserStatus
from stream_processor.records import ManifestRow
from stream_processor.spark.batch import BatchSummary
from tests.support.output import state_of

pytestmark = pytest.mark.kafka


def status(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "stream_processor", "status", *args],
                          capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)


def manifest_row(topic: str, offset: int, status: str, reason) -> tuple:
    return manifest.as_tuple(ManifestRow(topic, 0, offset, "ada", None, status, reason, None, None, None, None, None,
                                         None))


def commit(cfg: Config, offsets: dict) -> None:
    """Commits for cfg.group_id; a fresh broker's group coordinator may still be loading."""
    admin = KafkaAdminClient(bootstrap_servers=cfg.bootstrap_servers)
    try:
        deadline = time.monotonic() + 60
        while True:
            errors = kafka_clients._retry(lambda: admin.alter_group_offsets(cfg.group_id, offsets))
            failed = {tp: e for tp, e in errors.items() if e is not Errors.NoError}
            if not failed:
                return
            assert time.monotonic() < deadline, failed
            time.sleep(0.5)
    finally:
        admin.close()


@pytest.fixture
def job_state(kafka_broker, tmp_path):
    """A topic with 5 records in partition 0 and 3 in partition 1, the group committed at 2 in
    partition 0 only, and a state location as the job leaves it."""
    topic = f"status-{uuid.uuid4().hex[:8]}"  # each test its own topic and group on the shared broker
    cfg = Config(bootstrap_servers=kafka_broker.bootstrap, topic=topic, group_id=topic, output_dir=str(tmp_path / "out"))
    kafka_clients.ensure_topic(cfg, cfg.topic, partitions=2)
    producer = kafka_clients.make_producer(cfg)
    for partition, n in ((0, 5), (1, 3)):
        for i in range(n):
            producer.send(cfg.topic, value=b"x" * (i + 1), partition=partition)
    producer.flush()
    producer.close()
    commit(cfg, {TopicPartition(topic, 0): OffsetAndMetadata(2, "", -1)})

    state = state_of(cfg.output_dir)
    state.users.mkdir(parents=True)
    now_ms = int(time.time() * 1000)
    for status in (UserStatus("ada", 60, count=60, last_accepted_ms=now_ms),
                   UserStatus("bob", 60, count=1, last_accepted_ms=now_ms),
                   UserStatus("cy", 60, count=1, last_accepted_ms=now_ms - 24 * 3600 * 1000)):
        state.status_file(status.username).write_bytes(status.to_json())
    summary = BatchSummary(datetime(2026, 11, 29, 22, 10, 5), 6, 2, {"invalid_json": 2, "corrupt_image": 1,
                                                                     "no_face": 1}, 1.5, input_bytes=4321)
    summary.save(state)
    rows = [manifest_row(topic, 0, "rejected", "invalid_json"), manifest_row(topic, 1, "rejected", "invalid_json"),
            manifest_row(topic, 2, "rejected", "corrupt_image"), manifest_row(topic, 3, "rejected", "no_face"),
            manifest_row(topic, 4, "accepted", None)]
    manifest.write(rows, datetime(2026, 11, 29, 22, 10, 0), state.manifest)
    manifest.write(rows[:1], datetime(2026, 11, 29, 22, 10, 5), state.manifest)  # a record read twice
    return cfg


def flags(cfg: Config) -> list[str]:
    return ["--bootstrap-servers", cfg.bootstrap_servers, "--topic", cfg.topic, "--group-id", cfg.group_id,
            "--output-dir", cfg.output_dir]


def test_status_reports_lag_offsets_last_batch_users_and_dead_letters(job_state):
    result = status(*flags(job_state), "--max-lag", "6")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    table = {int(line.split()[0]): line.split()[1:] for line in lines[2:4]}
    assert table == {0: ["2", "5", "3"], 1: ["-", "3", "3"]}  # committed, end, lag
    assert "total lag 6 (within max_lag 6)" in result.stdout
    assert "last batch: batch 2026-11-29 22:10:05: inputs=6 accepted=2 rejected=4" in result.stdout
    assert "input_bytes=4321" in result.stdout
    assert "users: collecting 1, complete 1, stalled 1" in result.stdout
    assert "dead letters: corrupt_image 1, invalid_json 2" in result.stdout


def test_status_exits_1_when_behind_by_more_than_max_lag(job_state):
    result = status(*flags(job_state), "--max-lag", "5")
    assert result.returncode == 1
    assert "total lag 6 (BEHIND: more than max_lag 5)" in result.stdout


def test_status_takes_max_lag_from_the_environment_and_json_logs_change_nothing(job_state, monkeypatch):
    monkeypatch.setenv("MAX_LAG", "0")
    result = status(*flags(job_state), "--log-format", "json")
    assert result.returncode == 1 and "BEHIND" in result.stdout


def test_status_with_the_broker_down_says_so_in_one_line(absent_broker_status):
    done = absent_broker_status.result(timeout_s=120)  # started with the layer's first test (conftest.py)
    result, bootstrap = done.result, done.args[done.args.index("--bootstrap-servers") + 1]
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]  # one line, no traceback
    assert result.stderr.startswith(f"status: the Kafka broker at {bootstrap} does not answer"), result.stderr
    print(f"status with the broker down answered in {done.took_s:.1f} s")
