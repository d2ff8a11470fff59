"""The job (`python -m stream_processor run`, local[*]) disturbed mid-stream, then compared with
the undisturbed baseline run over the same topic: crops byte for byte, manifest rows by source
coordinates. Every run has its own consumer group and output folder."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from stream_processor.operations import logs
from stream_processor.output.enrollment import UserStatus
from tests.faults.harness import (TOPIC, USERS, JobProcess, assert_dead_letters, assert_same_output, committed_total,
                                  copy_output, latest_events, manifest_coverage, run_args, snapshot, wait_until)
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


def _crop_offsets(out: Path) -> dict[int, int]:
    """partition -> 1 + the highest offset with a crop on disk."""
    found: dict[int, int] = {}
    for path in out.glob("*/*.png"):
        m = re.fullmatch(rf"{re.escape(TOPIC)}-p(\d+)-o(\d+)\.png", path.name)
        if m:
            p, o = int(m.group(1)), int(m.group(2))
            found[p] = max(found.get(p, 0), o + 1)
    return found


def _first_batch_delay_s(job: JobProcess) -> float:
    """Seconds from the stream's start (the job's "reading ..." entry) to the batch time of its
    first batch with records."""
    entries = job.entries()
    started = next(logs.logged_at(e) for e in entries if e["message"].startswith("stream-processor: reading"))
    first = next(s.batch_time for s in map(logs.batch_summary, entries) if s is not None and s.inputs > 0)
    return (first - started).total_seconds()


@pytest.mark.parametrize("engine", ["dstream", "structured"])
def test_driver_killed_mid_stream_then_restarted_gives_the_same_output(baseline, fresh_group, tmp_path, engine):
    """The structured engine restarts with `--available-now` (a backfill from Kafka's retention):
    from its checkpoint it reads what the topic holds, in batches of the rate limit, then stops by
    itself, with no idle time and no signal."""
    total = len(baseline.messages)
    out, dlq = tmp_path / "out", f"{TOPIC}.dlq.{fresh_group}"
    args = run_args(baseline.bootstrap, fresh_group, out, rate=3, extra=["--dlq-topic", dlq, "--engine", engine])

    def output_ahead_of_commits():
        """Mid-stream, at the worst moment: a batch is committed, and a later one has written
        crops (its manifest may or may not be written) but is not committed yet."""
        committed = committed_total(baseline.bootstrap, fresh_group)
        if not 0 < sum(committed.values()) < total - 12:  # two batches (or more) left after the next
            return None
        ahead = {p: n for p, n in _crop_offsets(out).items() if n > committed.get(p, 0)}
        return (committed, ahead) if ahead else None

    with JobProcess(baseline.code, args, tmp_path / "first.log") as job:
        committed, ahead = wait_until(output_ahead_of_commits, 120, "crops of an uncommitted batch", job, 0.05)
        job.kill()  # SIGKILL: driver, JVM and Python workers at once, no shutdown hook
    assert job.proc.returncode == -9
    assert sum(committed_total(baseline.bootstrap, fresh_group).values()) < total

    if engine == "structured":
        args = run_args(baseline.bootstrap, fresh_group, out, rate=3, exit_when_idle_s=0,
                        extra=["--dlq-topic", dlq, "--engine", engine, "--available-now"])
    with JobProcess(baseline.code, args, tmp_path / "second.log") as job:
        assert job.wait(180) == 0, job.tail()
    if engine == "structured":
        inputs = [s.inputs for s in job.summaries()]
        assert len(inputs) >= 2 and max(inputs) <= 3 * 2, inputs  # batches of rate x partitions, not all at once
    # It reads at once: the partitions are assigned, not subscribed, so the killed driver's
    # consumer, still a member of the group until its session times out, does not hold it up.
    delay = _first_batch_delay_s(job)
    assert delay <= 2 * BATCH_INTERVAL_S, f"the first batch came {delay:.1f} s after the stream started"
    assert committed_total(baseline.bootstrap, fresh_group) == manifest_coverage(out)
    got = snapshot(out)
    assert_same_output(got, baseline.output)  # the crops written before the kill were rewritten, same bytes
    assert_dead_letters(baseline.bootstrap, dlq, baseline.sent)
    print(f"killed with commits at {committed}, crops up to {ahead}; restarted, first batch {delay:.1f} s after start; "
          f"{got.raw_rows} manifest rows for {total} records, {len(got.temps)} temp files left")


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
