"""One undisturbed run of the job for the cluster and faults layers (the `undisturbed_run` session
fixture, tests/conftest.py): the faults' input (tests/faults/harness.py: frames of three users,
undecodable messages, a near-copy) on the session's broker, the job submitted once with
spark-submit.sh to the session's standalone cluster and left alone.

While it runs, the application's REST API is polled for its executors; once the driver's own
metrics show every message processed and nothing left to commit, the driver's and the executors'
Prometheus endpoints are scraped, and the job is stopped with SIGTERM, which spark-submit.sh
forwards to the Python driver (stopping by the clock, `--exit-when-idle`, could end the job before
a slow scrape). The cluster layer checks this run (tests/cluster/test_job_on_cluster.py); the
faults layer compares every disturbed run with its output (tests/faults/conftest.py, `baseline`).
"""

from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from stream_processor.config import Config
from stream_processor.operations import metrics
from tests.faults.harness import TOPIC, Coords, JobProcess, Message, build_messages, job_env, publish, run_args
from tests.support.checkout import code_snapshot
from tests.support.cluster import LocalCluster, get_json, scrape
from tests.support.ports import free_port
from tests.support.procs import kill_leftovers

GROUP = "undisturbed"
DEADLINE_S = 400  # for everything to be processed and committed, on a loaded machine


@dataclass
class UndisturbedRun:
    code: Path  # the job's code (checkout.code_snapshot) that every run of the session uses
    cfg: Config  # its broker, topic, group and output folder
    messages: list[Message]  # the input, in the order sent
    sent: dict[Coords, Message]  # the input by source coordinates
    log: str = ""  # spark-submit.sh's stdout and stderr (the job logs JSON)
    returncode: Optional[int] = None
    scraped: dict[str, float] = field(default_factory=dict)  # the driver's, once all was processed
    scraped_at: float = 0.0  # time.time() of that scrape: users stall as time passes
    executors: dict[str, float] = field(default_factory=dict)  # the executors' (this application's)
    seen: dict = field(default_factory=dict)  # executor id -> (host:port, tasks run)

    @property
    def output_dir(self) -> Path:
        return Path(self.cfg.output_dir)

    @property
    def values(self) -> list[bytes]:
        return [m.value for m in self.messages]


def ours(scraped: dict[str, float], metric: str, kind: str = "counter") -> float:
    """The value of one of the job's own metrics (stream_processor/operations/metrics.py) in a scrape."""
    return scraped[metrics.prometheus_name(metric, kind)]


def watch_executors(port: int, seen: dict, stop: threading.Event) -> None:
    """Polls the application's REST API: executor id -> (host:port, tasks run) while it lives."""
    while not stop.is_set():
        try:
            for app in get_json(f"http://127.0.0.1:{port}/api/v1/applications"):
                for ex in get_json(f"http://127.0.0.1:{port}/api/v1/applications/{app['id']}/executors"):
                    if ex["id"] != "driver":
                        seen[ex["id"]] = (ex["hostPort"], ex["totalTasks"])
        except (OSError, ValueError):  # not up yet, or already gone
            pass
        stop.wait(0.5)


def scrape_until_done(driver: str, job: subprocess.Popen, run: UndisturbedRun, deadline: float) -> None:
    """Scrapes the driver until its source shows every message processed and no lag (the group
    has committed everything), then the executors' series."""
    while job.poll() is None and time.monotonic() < deadline:
        try:
            scraped = scrape(f"{driver}/metrics/prometheus")
        except OSError:  # the driver's UI is not up yet
            scraped = {}
        if metrics.prometheus_name("messages.accepted", "counter") in scraped:  # the job's source is up
            processed = ours(scraped, "messages.accepted") + ours(scraped, "messages.rejected")
            if processed == len(run.messages) and ours(scraped, "lag.total", "gauge") == 0:
                run.scraped, run.scraped_at = scraped, time.time()
                # the series the dashboard selects: this application's
                run.executors = scrape(f"{driver}/metrics/executors/prometheus", 'application_name="stream-processor"')
                return
        time.sleep(1)


def run_undisturbed(cluster: LocalCluster, bootstrap: str, tmp: Path, engine: str = "dstream",
                    published: Optional[UndisturbedRun] = None) -> UndisturbedRun:
    """Publishes the faults' input to a fresh topic (or reads the topic of the run `published`),
    submits the job with `engine` to `cluster` over it and leaves it alone until everything is
    processed and committed; then stops it (SIGTERM). A second engine's run has its own group,
    dead-letter and enrollment topics."""
    if published is None:
        messages = build_messages()
        sent = publish(bootstrap, messages)
        code = code_snapshot(tmp / "code")
    else:
        messages, sent, code = published.messages, published.sent, published.code
    own = {} if engine == "dstream" else {"group_id": f"{GROUP}-{engine}", "dlq_topic": f"{TOPIC}.dlq.{engine}",
                                          "enrollment_topic": f"{TOPIC}.enrollment.{engine}"}
    cfg = Config(**{"bootstrap_servers": bootstrap, "topic": TOPIC, "group_id": GROUP, "output_dir": str(tmp / "out"),
                    "engine": engine, **own})
    run = UndisturbedRun(code, cfg, messages, sent)
    app_ui = free_port()
    # The whole input is one batch: it must not start before both executors are there (the cluster
    # layer checks that both ran tasks), however slowly a loaded machine starts their JVMs. Spark
    # waits for them (up to 30 s) when it knows how many cores to expect.
    cores = get_json(f"http://127.0.0.1:{cluster.master_ui}/json/")["cores"]
    submit = [str(code / "spark-submit.sh"), "--master", cluster.url, "--total-executor-cores", str(cores),
              "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0", "--conf", f"spark.ui.port={app_ui}",
              "--", *run_args(bootstrap, cfg.group_id, cfg.output_dir, rate=0, exit_when_idle_s=0,
                              extra=["--engine", engine, "--dlq-topic", cfg.dead_letter_topic,
                                     "--enrollment-topic", cfg.status_topic])]
    stop = threading.Event()
    watcher = threading.Thread(target=watch_executors, args=(app_ui, run.seen, stop), daemon=True)
    watcher.start()
    job = JobProcess(code, [], tmp / "job.log", command=submit, env=job_env(code))
    try:
        with job:
            scrape_until_done(f"http://127.0.0.1:{app_ui}", job.proc, run, time.monotonic() + DEADLINE_S)
            job.proc.terminate()  # spark-submit.sh asks the driver to stop: it finishes and commits
            run.returncode = job.wait(120)
    finally:
        stop.set()
        watcher.join(5)
        kill_leftovers(code / "dist")  # the driver and spark-submit run from the snapshot's dist/
    run.log = job.log()
    return run
