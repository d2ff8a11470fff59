"""On a standalone master with two workers (scripts/local-cluster.sh), the job submitted with
spark-submit.sh loses one worker's executor (JVM and Python workers, SIGKILL) while it runs a
task of a batch: Spark runs the lost tasks again on the executors left, and the output is the
baseline's, byte for byte."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.procs import cmdline, descendants, kill_leftovers
from tests.support.spark_conf import maps_class_archive
from tests.faults.harness import (TOPIC, JobProcess, assert_dead_letters, assert_same_output, committed_total, job_env,
                                  manifest_coverage, run_args, snapshot, wait_until)

pytestmark = pytest.mark.faults


class RunningTasks:
    """Whether an executor runs a task now, from its own log (stderr in its work folder): a
    "Running task ... (TID n)" line with no "Finished task ... (TID n)" after it yet. CPU use of
    its Python workers was not enough: they also spin between tasks, and a kill there lost no work."""

    STARTED = re.compile(r"Running task .*\(TID (\d+)\)")
    ENDED = re.compile(r"(?:Finished|Exception in|Executor killed) task .*\(TID (\d+)\)")

    def __init__(self, work_dir: str):
        self.log = Path(work_dir) / "stderr"
        self.read = 0
        self.partial = ""
        self.running: set[str] = set()
        self.looks = 0

    def busy(self) -> bool:
        self.looks += 1
        try:
            with self.log.open("rb") as f:
                f.seek(self.read)
                chunk = f.read()
        except OSError:
            return False
        self.read += len(chunk)
        *lines, self.partial = (self.partial + chunk.decode(errors="replace")).split("\n")
        for line in lines:
            if m := self.STARTED.search(line):
                self.running.add(m.group(1))
            elif m := self.ENDED.search(line):
                self.running.discard(m.group(1))
        return bool(self.running)


def task_log_config(tmp_path: Path, code: Path) -> Path:
    """The project's quiet log4j2 configuration, with the executor's task lines (INFO) added."""
    conf = tmp_path / "log4j2-tasks.properties"
    conf.write_text((code / "conf" / "log4j2.properties").read_text()
                    + "\nlogger.tasks.name = org.apache.spark.executor.Executor\nlogger.tasks.level = info\n")
    return conf


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
    # The later -Dlog4j.configurationFile wins: the executors log when each task starts and ends.
    tasks_log = f"spark.executor.extraJavaOptions=-Dlog4j.configurationFile=file:{task_log_config(tmp_path, code)}"
    submit = [str(code / "spark-submit.sh"), "--master", standalone_cluster.url, "--conf", tasks_log,
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
            pid, work_dir = executors[victim]
            activity = RunningTasks(work_dir)
            # Mid-stream: a batch is done, the next ones are queued; kill when the victim runs a task.
            wait_until(lambda: job.summaries(), 180, "a first batch", job, 0.1)
            # Both JVMs started from spark-submit.sh's class archive (their start is long done now).
            assert all(maps_class_archive(p) for p, _ in executors.values()), "an executor without the class archive"
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
