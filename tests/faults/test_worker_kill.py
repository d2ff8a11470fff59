"""On a standalone master with two workers (scripts/local-cluster.sh), the job submitted with
spark-submit.sh loses one worker's executor (JVM and Python workers, SIGKILL) while it runs a
task of a batch: Spark runs the lost tasks again on the executors left, and the output is the
baseline's, byte for byte."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.procs import cmdline, descendants, kill_leftovers
from tests.faults.harness import (TOPIC, JobProcess, assert_dead_letters, assert_same_output, committed_total, job_env,
                                  manifest_coverage, run_args, snapshot, wait_until)

pytestmark = pytest.mark.faults


class PythonActivity:
    """Whether a Python worker of an executor runs a task now: its Python processes used CPU since
    the last look. (/proc is cheap to read every few ms; the driver's REST API is not.)"""

    def __init__(self, executor_pid: int):
        self.executor_pid = executor_pid
        self.last = self._cpu()
        self.looks = 0

    def _cpu(self) -> int:
        ticks = 0
        for pid in descendants(self.executor_pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if any("pyspark" in a for a in cmdline(pid)):
                ticks += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks (10 ms)
        return ticks

    def busy(self) -> bool:
        self.looks += 1
        now = self._cpu()
        used, self.last = now - self.last, now
        return used >= 2  # 20 ms of CPU since the last look, a few ms ago: computing, not idling


def executor_processes() -> dict[str, tuple[int, str]]:
    """executor id -> (pid of its JVM, its work folder) of the executors running on this machine."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        args = cmdline(int(entry))
        if "org.apache.spark.executor.CoarseGrainedExecutorBackend" in args:
            try:
                found[args[args.index("--executor-id") + 1]] = (int(entry), os.readlink(f"/proc/{entry}/cwd"))
            except (OSError, ValueError, IndexError):
                continue
    return found


@pytest.mark.parametrize("engine", ["dstream", "structured"])
def test_executor_killed_mid_batch_on_a_cluster_gives_the_same_output(baseline, standalone_cluster, tmp_path, engine):
    code, group, out = baseline.code, f"worker-kill-{engine}", tmp_path / "out"
    dlq = f"{TOPIC}.dlq.{group}"
    submit = [str(code / "spark-submit.sh"), "--master", standalone_cluster.url,
              "--", *run_args(baseline.bootstrap, group, out, rate=3, extra=["--dlq-topic", dlq, "--engine", engine])]
    job = JobProcess(code, [], tmp_path / "job.log", command=submit, env=job_env(code))
    try:
        with job:
            # This cluster's executors (their work folders are in its state folder), one per worker.
            def ours() -> dict:
                return {i: e for i, e in executor_processes().items() if e[1].startswith(str(standalone_cluster.state))}

            executors = wait_until(lambda: (lambda e: e if len(e) == 2 else None)(ours()), 120,
                                   "an executor on each worker", job)
            victim = next(i for i, (_, cwd) in executors.items() if f"{os.sep}worker-1{os.sep}" in cwd + os.sep)
            pid = executors[victim][0]
            activity = PythonActivity(pid)
            # Mid-stream: a batch is done, the next ones are queued; kill when the victim runs a task.
            wait_until(lambda: job.summaries(), 180, "a first batch", job, 0.1)
            batches_before = len(job.summaries())
            activity.busy()
            wait_until(activity.busy, 90, f"a running task on executor {victim}", job, 0.02)
            doomed = [pid] + descendants(pid)  # its JVM and its Python workers
            for p in doomed:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            killed_at = time.monotonic()
            assert job.wait(300) == 0, job.tail()
            assert len(job.summaries()) > batches_before, "the kill came after the last batch, not during one"
            print(f"killed executor {victim} (pids {doomed}) after {activity.looks} looks, {batches_before} batches;"
                  f" the job ended {time.monotonic() - killed_at:.0f} s later")
    finally:
        if job.proc is not None and job.proc.poll() is None:
            job.proc.terminate()  # spark-submit.sh forwards it to the driver and stops spark-submit
            try:
                job.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                pass
        kill_leftovers(code / "dist")  # the driver and spark-submit run from the snapshot's dist/
    log = job.log()
    # The kill cost work that Spark ran again: a task that ran on the executor (ExecutorLostFailure),
    # or, when its task had just finished, the shuffle output it held (FetchFailed, the stage rerun).
    assert "Lost executor" in log, "Spark never saw the executor go:\n" + job.tail()
    assert "ExecutorLostFailure" in log or "FetchFailed" in log, "no work was lost with the executor:\n" + job.tail()
    assert_same_output(snapshot(out), baseline.output)
    assert committed_total(baseline.bootstrap, group) == manifest_coverage(out)
    assert_dead_letters(baseline.bootstrap, dlq, baseline.sent)
