"""The job (`python -m stream_processor run`, local[*]) disturbed mid-stream, then compared with
the undisturbed baseline run over the same topic: crops byte for byte, manifest rows by source
coordinates. Every run has its own consumer group and output folder. The driver kill runs both
engines side by side (tests/faults/driver_kill.py), after the tests that run one job each."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from stream_processor.output.enrollment import UserStatus
from tests.faults.driver_kill import ENGINES, RATE, DriverKill, dead_letter_topic, group_of, run_driver_kills
from tests.faults.harness import (PARTITIONS, TOPIC, USERS, JobProcess, assert_dead_letters, assert_same_output,
                                  committed_total, copy_output, latest_events, manifest_coverage, run_args, snapshot,
                                  wait_until)
from tests.support.output import state_of

pytestmark = pytest.mark.faults
BATCH_INTERVAL_S = 1.0  # harness.run_args


def test_undisturbed_run_dead_letters_every_undecodable_message(baseline):
    assert baseline.output.raw_rows == len(baseline.messages)  # nothing was processed twice
    assert_dead_letters(baseline.bootstrap, f"{TOPIC}.dlq", baseline.sent)
    reasons = sorted(row[5] for row in baseline.output.rows.values() if row[5])
    assert {"no_face", "multiple_faces", "near_duplicate"} <= set(reasons)


def test_undisturbed_run_keeps_and_announces_each_users_enrollment(baseline):
    """Each user's status file counts that user's records once; the latest event published on
    `<topic>.enrollment` (key = username) says the same."""
    events = latest_events(baseline.bootstrap, f"{TOPIC}.enrollment")
    assert sorted(events) == sorted(USERS)
    for user in USERS:
        status = UserStatus.from_json(baseline.output.state[f"users/{user}.json"])
        rows = [r for r in baseline.output.rows.values() if r[3] == user]
        assert status.frames == len(rows)
        assert status.count == sum(r[4] == "accepted" for r in rows) == len(list((baseline.output_dir / user).iterdir()))
        assert sum(status.rejected.values()) == sum(r[4] == "rejected" for r in rows)
        event = events[user]
        assert (event["count"], event["frames"], event["rejected"]) == (status.count, status.frames, status.rejected)
        # below the target: collecting, or stalled when its frames are older than enrollment_idle_s
        assert event["state"] in ("collecting", "stalled") and event["version"] == [0, status.frames]


def _block(path: Path, aside: Path) -> None:
    """Puts a regular file where the folder `path` is (or will be): root ignores permissions,
    but nobody can create files inside a file."""
    if path.exists():
        os.rename(path, aside)
    path.write_bytes(b"not a folder\n")


def _unblock(path: Path, aside: Path) -> None:
    path.unlink()
    if aside.exists():
        os.rename(aside, path)


def test_unwritable_output_fails_the_batch_uncommitted_then_recovers(baseline, fresh_group, tmp_path):
    total = len(baseline.messages)
    out, aside = tmp_path / "out", tmp_path / "aside"
    aside.mkdir()
    args = run_args(baseline.bootstrap, fresh_group, out, rate=3)
    with JobProcess(baseline.code, args, tmp_path / "job.log") as job:
        wait_until(lambda: sum(committed_total(baseline.bootstrap, fresh_group).values()) > 0, 120,
                   "a first committed batch", job, 0.1)
        broken = [(state_of(out).manifest, aside / "manifest"), (out / "bob", aside / "bob")]
        for path, moved in broken:
            _block(path, moved)
        try:
            wait_until(lambda: "FAILED (attempt 1 of" in job.log(), 60, "a loud FAILED line", job)
            # While the output is broken nothing more is committed than the durable manifest covers
            # (the aside copy: the job cannot write the manifest now), and the commits stop.
            seen = []
            for _ in range(8):
                committed = committed_total(baseline.bootstrap, fresh_group)
                coverage = manifest_coverage(out, folder=aside / "manifest")
                assert all(committed.get(p, 0) <= coverage[p] for p in coverage), (committed, coverage)
                seen.append(committed)
                time.sleep(0.5)
            assert seen[-1] == seen[-2] and sum(seen[-1].values()) < total, seen
            assert job.proc.poll() is None, "the job retries a failed batch; it must not have stopped"
        finally:
            for path, moved in broken:
                _unblock(path, moved)
        assert job.wait(240) == 0, job.tail()
    failed = [e["message"] for e in job.entries() if "FAILED" in e["message"]]
    assert failed and all("offsets not committed" in m for m in failed), failed
    assert_same_output(snapshot(out), baseline.output)
    assert committed_total(baseline.bootstrap, fresh_group) == manifest_coverage(out)


def test_reset_group_reprocesses_everything_without_new_or_changed_files(baseline, tmp_path):
    """An operator resets the baseline's group to the earliest offsets and restarts the job on the
    same output: every record is processed again, and the output folder does not change."""
    from kafka import KafkaAdminClient, TopicPartition
    from kafka.admin import OffsetSpec

    from tests.support.output import manifest_rows

    out = copy_output(baseline.output_dir, tmp_path / "out")
    before = snapshot(out)
    admin = KafkaAdminClient(bootstrap_servers=baseline.bootstrap)
    try:
        reset = admin.reset_group_offsets(baseline.group, {TopicPartition(TOPIC, p): OffsetSpec.EARLIEST for p in (0, 1)})
    finally:
        admin.close()
    assert {tp.partition: r["offset"] for tp, r in reset.items()} == {0: 0, 1: 0}, reset
    with JobProcess(baseline.code, run_args(baseline.bootstrap, baseline.group, out, rate=0), tmp_path / "job.log") as job:
        assert job.wait(180) == 0, job.tail()
    after = snapshot(out)
    assert_same_output(after, before)
    assert after.raw_rows == 2 * before.raw_rows  # processed again: readers dedupe by coordinates
    assert len(manifest_rows(out)) == len(baseline.messages)
    assert not after.temps


@pytest.fixture(scope="module")
def driver_kills(baseline, tmp_path_factory) -> dict[str, DriverKill]:
    """Both engines killed mid-stream and restarted, side by side (tests/faults/driver_kill.py)."""
    return run_driver_kills(baseline, tmp_path_factory.mktemp("driver-kill"))


@pytest.mark.parametrize("engine", ENGINES)
def test_driver_killed_mid_stream_then_restarted_gives_the_same_output(baseline, driver_kills, engine):
    """The structured engine restarts with `--available-now`: it reads what the topic holds, in
    batches of the rate limit, then stops by itself."""
    run = driver_kills[engine]
    assert run.first_returncode == -9
    assert run.committed_after_kill < len(baseline.messages)
    assert run.restart_returncode == 0, run.restart_log
    if engine == "structured":
        inputs = [s.inputs for s in run.restart_batches]
        assert len(inputs) >= 2 and max(inputs) <= RATE * PARTITIONS, inputs  # batches of rate x partitions, not all at once
    # It reads at once: the partitions are assigned, not subscribed, so the killed driver's
    # consumer, still a member of the group until its session times out, does not hold it up.
    delay = run.first_batch_delay_s
    assert delay <= 2 * BATCH_INTERVAL_S, f"the first batch came {delay:.1f} s after the stream started"
    assert committed_total(baseline.bootstrap, group_of(engine)) == manifest_coverage(run.output_dir)
    got = snapshot(run.output_dir)
    assert_same_output(got, baseline.output)  # the crops written before the kill were rewritten, same bytes
    assert_dead_letters(baseline.bootstrap, dead_letter_topic(engine), baseline.sent)
    print(f"killed with commits at {run.killed_with}, crops up to {run.crops_ahead}; restarted, first batch "
          f"{delay:.1f} s after start; {got.raw_rows} manifest rows for {len(baseline.messages)} records, "
          f"{len(got.temps)} temp files left")
