"""The product as users and operators meet it: a real broker, a master with two workers, the job
submitted once with spark-submit.sh (frames of three users: one-face, two-face, no-face, and
invalid messages; it stops by itself once idle). From that one run: crops, manifest, dead-letter
topic, work on both workers, and what an operator scrapes: while it runs, the driver's
/metrics/prometheus, whose every count of the job's source equals the manifest's (the latest row
per record) once everything is processed; the master, the workers and the executors publish
Spark's own metrics, and every metric the dashboard queries is in a real scrape."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from stream_processor import kafka_clients, metrics
from stream_processor.config import Config
from stream_processor.produce import Outgoing, send_all
from stream_processor.records import Reason
from stream_processor.samples import encode, make_frame, message
from tests.static.test_monitoring import SPARK_METRICS, dashboard_selectors
from tests.support.cluster import get_json
from tests.support.output import manifest_rows, state_of
from tests.support.ports import free_port

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]
USERS = ("ada", "grace", "linus")
INVALID = [b"definitely not json", json.dumps({"username": "../../etc", "imageData": "AAAA"}).encode(),
           json.dumps({"username": "ada", "imageData": "%%%"}).encode(), b"{}"]


@dataclass
class Run:
    cfg: Config
    values: list[bytes]
    log: str = ""
    returncode: int = -1
    scraped: dict[str, float] = field(default_factory=dict)  # the driver's, once all was processed
    scraped_at: float = 0.0  # time.time() of that scrape: users stall as time passes
    executors: dict[str, float] = field(default_factory=dict)  # the executors' (this application's)
    seen: dict = field(default_factory=dict)  # executor id -> (host:port, tasks run)


def scrape(url: str, labels: str = "") -> dict[str, float]:
    """Prometheus' text format: metric name -> value, for the series whose labels contain
    `labels` (labels dropped, values of equal names summed)."""
    with urllib.request.urlopen(url, timeout=30) as r:  # a loaded machine answers slowly
        text = r.read().decode()
    values: Counter = Counter()
    for line in text.splitlines():
        match = re.fullmatch(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s+(\S+)", line.strip())
        if match and labels in (match.group(2) or ""):
            values[match.group(1)] += float(match.group(3))
    return dict(values)


def ours(scraped: dict[str, float], metric: str, kind: str = "counter") -> float:
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


def scrape_until_done(driver: str, job: subprocess.Popen, run: Run, deadline: float) -> None:
    """Scrapes the driver until its source shows every message processed and no lag."""
    while job.poll() is None and time.monotonic() < deadline:
        try:
            scraped = scrape(f"{driver}/metrics/prometheus")
        except OSError:  # the driver's UI is not up yet
            scraped = {}
        if metrics.prometheus_name("messages.accepted", "counter") in scraped:  # the job's source is up
            processed = ours(scraped, "messages.accepted") + ours(scraped, "messages.rejected")
            if processed == len(run.values) and ours(scraped, "lag.total", "gauge") == 0:
                run.scraped, run.scraped_at = scraped, time.time()
                # the series the dashboard selects: this application's
                run.executors = scrape(f"{driver}/metrics/executors/prometheus", 'application_name="stream-processor"')
                return
        time.sleep(1)


@pytest.fixture(scope="module")
def run(standalone_cluster, kafka_broker, tmp_path_factory) -> Run:
    out = tmp_path_factory.mktemp("cluster-job") / "out"
    cfg = Config(bootstrap_servers=kafka_broker.bootstrap, topic="cluster-frames", group_id="cluster-test",
                 output_dir=str(out))
    kinds = ["one", "one", "one", "two", "none"]
    frames = [make_frame(kinds[i % 5], 4100 + i) for i in range(15)]
    values = [message(USERS[i % 3], encode(f.image, "jpeg" if i % 2 else "png")) for i, f in enumerate(frames)]
    values += INVALID
    assert send_all([Outgoing(v, str(i)) for i, v in enumerate(values)], cfg, rate=0, partitions=2, quiet=True) \
        == len(values)

    result = Run(cfg, values)
    app_ui = free_port()
    stop = threading.Event()
    watcher = threading.Thread(target=watch_executors, args=(app_ui, result.seen, stop), daemon=True)
    watcher.start()
    job = subprocess.Popen(
        [str(ROOT / "spark-submit.sh"), "--master", standalone_cluster.url, "--conf", f"spark.ui.port={app_ui}",
         "--", "--bootstrap-servers", cfg.bootstrap_servers, "--topic", cfg.topic, "--group-id", cfg.group_id,
         "--starting-offsets", "earliest", "--output-dir", cfg.output_dir, "--batch-interval-s", "2",
         "--exit-when-idle", "20", "--log-format", "json"],
        env=standalone_cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    try:
        scrape_until_done(f"http://127.0.0.1:{app_ui}", job, result, time.monotonic() + 400)
        result.log = job.communicate(timeout=400)[0]
    finally:
        stop.set()
        if job.poll() is None:
            job.kill()
        watcher.join(5)
    result.returncode = job.returncode
    assert job.returncode == 0, result.log[-5000:]
    return result


def test_crops_manifest_and_state_of_every_user(run):
    out = Path(run.cfg.output_dir)
    rows = manifest_rows(out)
    assert len(rows) == len(run.values)  # one row per message
    assert {(r["topic"], r["partition"]) for r in rows} <= {(run.cfg.topic, 0), (run.cfg.topic, 1)}
    accepted = [r for r in rows if r["status"] == "accepted"]
    assert {r["username"] for r in accepted} == set(USERS)  # crops for every user
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*")}
    folders = {r["path"].split("/")[0] for r in accepted}
    assert on_disk == {r["path"] for r in accepted} | folders  # user folders of crops, nothing else
    assert sorted(p.name for p in state_of(out).users.iterdir()) == sorted(f"{u}.json" for u in USERS)
    reasons = [r["reason"] for r in rows if r["status"] == "rejected"]
    assert sorted(r for r in reasons if Reason(r).before_detection) == \
        ["invalid_base64", "invalid_json", "invalid_username", "missing_field"]
    # the 3 no-face and 2 two-face frames are all refused by the face decision
    assert sum(reasons.count(r) for r in ("no_face", "multiple_faces")) >= 5
    assert kafka_clients.consumer_lag(run.cfg)[0].lag == 0


def test_invalid_messages_reach_the_dead_letter_topic_as_they_came(run):
    consumer = KafkaConsumer(run.cfg.dead_letter_topic, bootstrap_servers=run.cfg.bootstrap_servers,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000,
                             max_partition_fetch_bytes=16 * 1024 * 1024)
    dead = {}
    for record in consumer:
        headers = {k: v.decode() for k, v in record.headers}
        dead[(headers["source.topic"], int(headers["source.partition"]), int(headers["source.offset"]))] = \
            (headers["reason"], record.value)
    consumer.close()
    rows = manifest_rows(run.cfg.output_dir)
    assert sorted(reason for reason, _ in dead.values()) == \
        sorted(r["reason"] for r in rows if r["status"] == "rejected" and Reason(r["reason"]).before_detection)
    assert sorted(value for _, value in dead.values()) == sorted(INVALID)


def test_work_ran_on_both_workers(run):
    assert len(run.seen) == 2, run.seen  # one executor per worker, both ran tasks
    assert len({host for host, _ in run.seen.values()}) == 2 and all(tasks > 0 for _, tasks in run.seen.values())


def test_driver_metrics_equal_the_manifest(run):
    done = run.scraped
    assert done, "the driver never showed every message processed and no lag:\n" + run.log[-5000:]
    rows = manifest_rows(run.cfg.output_dir)
    reasons = Counter(r["reason"] for r in rows if r["status"] == "rejected")
    accepted = sum(1 for r in rows if r["status"] == "accepted")
    assert ours(done, "messages.accepted") == ours(done, "crops.written") == accepted > 0
    assert ours(done, "messages.rejected") == sum(reasons.values())
    for reason in Reason:  # every reason, zeros included
        assert ours(done, f"rejected.{reason.value}") == reasons.get(reason.value, 0), reason
    assert ours(done, "deadLetters.sent") == sum(n for r, n in reasons.items() if Reason(r).before_detection) >= 4
    assert ours(done, "input.bytes") == sum(len(v) for v in run.values)
    assert ours(done, "batches") >= 1
    assert ours(done, "lag.partition.0", "gauge") == ours(done, "lag.partition.1", "gauge") == 0
    for state, n in metrics.users_by_state(run.cfg, run.scraped_at).items():
        assert ours(done, f"users.{state}", "gauge") == n
    assert ours(done, "lastBatch.processingMs", "gauge") > 0
    assert ours(done, "lastBatch.schedulingDelayMs", "gauge") >= 0

    for title, selector in dashboard_selectors():  # the dashboard's queries find real series
        if selector.startswith("~"):
            assert any(re.fullmatch(selector[1:], name) for name in done), f"{title}: {selector}"
        else:
            assert selector in done or selector in run.executors, f"{title}: {selector} not scraped"
    assert SPARK_METRICS <= set(run.executors)
    # Spark's own streaming source, named after the application (docs/operating.md)
    assert "metrics_stream_processor_driver_stream_processor_StreamingMetrics_streaming_lastCompletedBatch_totalDelay_Value" \
        in done


def test_json_log_has_one_summary_object_per_batch(run):
    """--log-format json: the summary of each batch is one JSON object with every BatchSummary field."""
    summaries = [json.loads(line) for line in run.log.splitlines() if line.startswith("{") and '"inputs"' in line]
    assert sum(s["inputs"] for s in summaries) == len(run.values)
    assert sum(s["input_bytes"] for s in summaries) == sum(len(v) for v in run.values)


def test_master_and_workers_publish_prometheus_metrics(standalone_cluster):
    master = scrape(f"http://127.0.0.1:{standalone_cluster.master_ui}/metrics/master/prometheus")
    assert master["metrics_master_aliveWorkers_Value"] == 2
    for port in standalone_cluster.worker_uis:
        worker = scrape(f"http://127.0.0.1:{port}/metrics/prometheus")
        assert "metrics_worker_coresFree_Value" in worker
