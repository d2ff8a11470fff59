"""The driver kill scenario (tests/faults/test_job_faults.py checks what it leaves): a job of each
engine reads the faults' input, side by side, each with its own consumer group, output folder and
dead-letter topic; each is SIGKILLed at its own worst moment, then restarted once on the same
output. The DStream restarts as it ran; the structured engine restarts with `--available-now` (a
backfill: from its checkpoint it reads what the topic holds, in batches of the rate limit, then
stops by itself, with no idle time and no signal)."""

from __future__ import annotations

import contextlib
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from stream_processor.operations import logs
from stream_processor.spark.batch import BatchSummary
from tests.faults.harness import PARTITIONS, TOPIC, JobProcess, committed_total, run_args, wait_until

ENGINES = ("dstream", "structured")
RATE = 3  # records per partition and batch: several batches, so that a kill lands between two
KILL_WITHIN_S = 120


def group_of(engine: str) -> str:
    return f"driver-kill-{engine}"


def dead_letter_topic(engine: str) -> str:
    return f"{TOPIC}.dlq.{group_of(engine)}"


@dataclass(frozen=True)
class DriverKill:
    output_dir: Path
    killed_with: dict[int, int]  # the group's committed offsets at the kill
    crops_ahead: dict[int, int]  # partition -> 1 + the highest offset with a crop, past the commits
    first_returncode: Optional[int]
    committed_after_kill: int  # records the group had committed once the killed job was gone
    restart_returncode: Optional[int]
    restart_log: str  # the restarted job's tail, for the assertions' messages
    restart_batches: list[BatchSummary]
    first_batch_delay_s: float  # from the restarted stream's start to its first batch with records


def crop_offsets(out: Path) -> dict[int, int]:
    """partition -> 1 + the highest offset with a crop on disk."""
    found: dict[int, int] = {}
    for path in out.glob("*/*.png"):
        m = re.fullmatch(rf"{re.escape(TOPIC)}-p(\d+)-o(\d+)\.png", path.name)
        if m:
            p, o = int(m.group(1)), int(m.group(2))
            found[p] = max(found.get(p, 0), o + 1)
    return found


def output_ahead_of_commits(bootstrap: str, group: str, out: Path, total: int):
    """Mid-stream, at the worst moment: a batch is committed, and a later one has written crops
    (its manifest may or may not be written) but is not committed yet; two batches (or more) are
    left after the next. (committed, crops ahead) then, else None."""
    committed = committed_total(bootstrap, group)
    if not 0 < sum(committed.values()) < total - 2 * RATE * PARTITIONS:
        return None
    ahead = {p: n for p, n in crop_offsets(out).items() if n > committed.get(p, 0)}
    return (committed, ahead) if ahead else None


def first_batch_delay_s(job: JobProcess) -> float:
    """Seconds from the stream's start (the job's "reading ..." entry) to the batch time of its
    first batch with records."""
    entries = job.entries()
    started = next(logs.logged_at(e) for e in entries if e["message"].startswith("stream-processor: reading"))
    first = next(s.batch_time for s in map(logs.batch_summary, entries) if s is not None and s.inputs > 0)
    return (first - started).total_seconds()


def _args(baseline: Any, engine: str, out: Path, restart: bool = False) -> list[str]:
    extra = ["--dlq-topic", dead_letter_topic(engine), "--engine", engine]
    if restart and engine == "structured":
        return run_args(baseline.bootstrap, group_of(engine), out, rate=RATE, exit_when_idle_s=0,
                        extra=[*extra, "--available-now"])
    return run_args(baseline.bootstrap, group_of(engine), out, rate=RATE, extra=extra)


def run_driver_kills(baseline: Any, tmp: Path) -> dict[str, DriverKill]:
    """Both engines' jobs over the baseline's topic, each killed mid-stream and restarted."""
    total = len(baseline.messages)
    outs = {engine: tmp / engine / "out" for engine in ENGINES}
    first = {engine: JobProcess(baseline.code, _args(baseline, engine, outs[engine]), tmp / f"{engine}-first.log")
             for engine in ENGINES}

    def kill_when_ahead(engine: str) -> tuple:
        found = wait_until(lambda: output_ahead_of_commits(baseline.bootstrap, group_of(engine), outs[engine], total),
                           KILL_WITHIN_S, f"crops of an uncommitted {engine} batch", first[engine], 0.05)
        first[engine].kill()  # SIGKILL: driver, JVM and Python workers at once, no shutdown hook
        return found

    with contextlib.ExitStack() as running:
        for job in first.values():
            running.enter_context(job)
        # One watcher per engine: a batch's crops are ahead of its commit for a moment only.
        with ThreadPoolExecutor(len(ENGINES)) as watchers:
            watching = {engine: watchers.submit(kill_when_ahead, engine) for engine in ENGINES}
            kills = {engine: w.result() for engine, w in watching.items()}
    after_kill = {engine: sum(committed_total(baseline.bootstrap, group_of(engine)).values()) for engine in ENGINES}

    again = {engine: JobProcess(baseline.code, _args(baseline, engine, outs[engine], restart=True),
                                tmp / f"{engine}-second.log") for engine in ENGINES}
    with contextlib.ExitStack() as running:
        for job in again.values():
            running.enter_context(job)
        codes = {engine: job.wait(180) for engine, job in again.items()}
    return {engine: DriverKill(outs[engine], *kills[engine], first[engine].proc.returncode, after_kill[engine],
                               codes[engine], again[engine].tail(), again[engine].summaries(),
                               first_batch_delay_s(again[engine]))
            for engine in ENGINES}
