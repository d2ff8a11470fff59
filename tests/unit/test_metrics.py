"""What the job's metrics and logs say about a batch, without Spark: the counters a batch adds,
users by enrollment state from the state files, the JSON summary line."""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime

import pytest

from stream_processor.config import Config
from stream_processor.operations import logs, metrics
from stream_processor.output.enrollment import UserStatus
from stream_processor.output.state import StateDir
from stream_processor.records import Reason
from stream_processor.spark.batch import BatchSummary

pytestmark = pytest.mark.unit

SUMMARY = BatchSummary(datetime(2026, 11, 29, 22, 10, 5), inputs=9, accepted=4,
                       rejected={"no_face": 2, "invalid_json": 1, "corrupt_image": 1, "user_cap_reached": 1},
                       seconds=1.25, users=["ada", "bob"], input_bytes=123456)


def test_a_batch_adds_kept_rejected_by_reason_crops_and_dead_letters():
    counts = metrics.batch_counts(SUMMARY)
    assert counts["messages.accepted"] == counts["crops.written"] == 4
    assert counts["messages.rejected"] == 5
    assert counts["deadLetters.sent"] == 2  # invalid_json and corrupt_image come before detection
    assert counts["rejected.no_face"] == 2 and counts["rejected.user_cap_reached"] == 1
    assert counts["input.bytes"] == 123456 and counts["batches"] == 1
    assert set(counts) <= set(metrics.COUNTERS)


def test_every_reason_has_a_counter_from_the_start():
    assert {f"rejected.{r.value}" for r in Reason} <= set(metrics.COUNTERS)


def test_prometheus_names_follow_the_servlet():
    assert metrics.prometheus_name("rejected.no_face", "counter") == \
        "metrics_stream_processor_driver_StreamProcessor_rejected_no_face_Count"
    assert metrics.prometheus_name("lag.partition.1", "gauge") == \
        "metrics_stream_processor_driver_StreamProcessor_lag_partition_1_Value"


def test_summary_round_trips_through_json():
    again = BatchSummary.from_dict(json.loads(json.dumps(SUMMARY.to_dict())))
    assert again == SUMMARY


def test_users_by_state_derives_stalled_from_the_last_crop(tmp_path):
    cfg = Config(output_dir=str(tmp_path / "out"), enrollment_idle_s=600)
    state = StateDir.of(cfg)
    state.users.mkdir(parents=True)
    now = 1_800_000_000
    for status in (UserStatus("ada", 60, count=60, last_accepted_ms=(now - 9999) * 1000),
                   UserStatus("grace", 60, count=10, last_accepted_ms=(now - 5) * 1000),
                   UserStatus("linus", 60, count=3, last_accepted_ms=(now - 3600) * 1000),
                   UserStatus("ken", 60, first_frame_ms=(now - 3600) * 1000)):
        state.status_file(status.username).write_bytes(status.to_json())
    assert metrics.users_by_state(cfg, now_s=now) == {"collecting": 1, "complete": 1, "stalled": 2}
    assert metrics.users_by_state(Config(output_dir=str(tmp_path / "none"))) == \
        {"collecting": 0, "complete": 0, "stalled": 0}


def test_json_log_lines_carry_every_summary_field(capsys):
    logs.setup("json")
    try:
        logs.batch(replace(SUMMARY, lag=7))
        logging.getLogger("stream_processor").warning("plain %s", "line")
    finally:
        logs.setup("text")
    first, second = capsys.readouterr().err.strip().splitlines()
    line = json.loads(first)
    assert {k: line[k] for k in SUMMARY.to_dict()} == replace(SUMMARY, lag=7).to_dict()
    assert line["input_bytes"] == 123456 and line["level"] == "INFO" and line["message"].startswith("batch 2026-11-29 22:10:05")
    assert json.loads(second)["message"] == "plain line"

    # what the benchmark and the fault harness read back: the summary as a value, other lines None
    assert logs.batch_summary(logs.parse_line(first)) == replace(SUMMARY, lag=7)
    assert logs.batch_summary(logs.parse_line(second)) is None
    assert abs((logs.logged_at(logs.parse_line(second)) - datetime.now()).total_seconds()) < 60
    assert logs.parse_line("26/11/30 02:02:30 WARN KafkaUtils: overriding ...") is None
    assert logs.parse_line('{"not": "ours"}') is None
