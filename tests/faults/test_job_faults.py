"""The job (`python -m stream_processor run`, local[*]) disturbed mid-stream, then compared with
the undisturbed baseline run over the same topic: crops byte for byte, manifest rows by source
coordinates. Every run has its own consumer group and output folder."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.faults.conftest import copy_output
from tests.faults.harness import (TOPIC, JobProcess, assert_dead_letters, assert_same_output, committed_total,
                                  manifest_coverage, run_args, snapshot, wait_until)

pytestmark = pytest.mark.faults


def test_undisturbed_run_dead_letters_every_undecodable_message(baseline):
    assert baseline.output.raw_rows == len(baseline.messages)  # nothing was processed twice
    assert_dead_letters(baseline.bootstrap, f"{TOPIC}.dlq", baseline.sent)
    reasons = sorted(row[5] for row in baseline.output.rows.values() if row[5])
    assert {"no_face", "multiple_faces"} <= set(reasons)


def test_driver_killed_mid_stream_then_restarted_gives_the_same_output(baseline, fresh_group, tmp_path):
    total = len(baseline.messages)
    out, dlq = tmp_path / "out", f"{TOPIC}.dlq.{fresh_group}"
    args = run_args(baseline.bootstrap, fresh_group, out, rate=3, extra=["--dlq-topic", dlq])
    with JobProcess(args, tmp_path / "first.log") as job:
        # Mid-stream: a batch is committed, more are to come (and one is likely being written).
        committed = wait_until(lambda: (lambda c: c if 0 < sum(c.values()) < total - 4 else None)(
            committed_total(baseline.bootstrap, fresh_group)), 120, "a first committed batch", job, 0.1)
        job.kill()  # SIGKILL: driver, JVM and Python workers at once, no shutdown hook
    assert job.proc.returncode == -9
    assert sum(committed_total(baseline.bootstrap, fresh_group).values()) < total

    with JobProcess(args, tmp_path / "second.log") as job:
        assert job.wait(180) == 0, job.tail()
        restarted = job.log()
    assert "inputs=" in restarted
    assert committed_total(baseline.bootstrap, fresh_group) == {p: n for p, n in manifest_coverage(out).items()}
    got = snapshot(out)
    assert_same_output(got, snapshot(baseline.output_dir) if False else baseline.output)
    assert got.raw_rows >= total  # re-read records give duplicate rows (deduped above), never fewer
    assert_dead_letters(baseline.bootstrap, dlq, baseline.sent)
    print(f"killed after commit {committed}; {got.raw_rows} manifest rows for {total} records")
