"""`run --engine structured --available-now`: a backfill from Kafka's retention. The job reads what
the topic holds when it starts, in batches of the rate limit, then stops by itself, with the
undisturbed run's output and every offset committed."""

from __future__ import annotations

import pytest

from tests.faults.harness import (TOPIC, JobProcess, assert_dead_letters, assert_same_output, committed_total,
                                  manifest_coverage, run_args, snapshot)

pytestmark = pytest.mark.faults


def test_available_now_processes_what_the_topic_holds_then_stops(baseline, fresh_group, tmp_path):
    out, dlq = tmp_path / "out", f"{TOPIC}.dlq.{fresh_group}"
    args = run_args(baseline.bootstrap, fresh_group, out, rate=4, exit_when_idle_s=0,
                    extra=["--engine", "structured", "--available-now", "--dlq-topic", dlq])
    with JobProcess(baseline.code, args, tmp_path / "job.log") as job:
        assert job.wait(180) == 0, job.tail()  # no idle time, no signal: it stops when the topic is read
    summaries = job.summaries()
    assert sum(s.inputs for s in summaries) == len(baseline.messages)
    assert len(summaries) >= 3 and max(s.inputs for s in summaries) <= 4 * 2 * 1  # rate x partitions x 1 s
    assert_same_output(snapshot(out), baseline.output)
    assert committed_total(baseline.bootstrap, fresh_group) == manifest_coverage(out)
    assert_dead_letters(baseline.bootstrap, dlq, baseline.sent)
