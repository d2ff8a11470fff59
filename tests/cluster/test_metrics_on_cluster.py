"""What an operator scrapes: the job submitted with spark-submit.sh to a master with two workers;
while it runs, the driver's /metrics/prometheus is read, and once everything is processed every
count of the job's source equals the manifest's (the latest row per record). The master, the
workers and the executors publish Spark's own metrics, and every metric the dashboard queries is
in a real scrape."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from stream_processor import metrics
from stream_processor.config import Config
from stream_processor.produce import Outgoing, send_all
from stream_processor.records import Reason
from stream_processor.samples import encode, make_frame, message
from tests.support.cluster import LocalCluster
from tests.support.ports import free_port
from tests.static.test_monitoring import SPARK_METRICS, dashboard_selectors
from tests.support.output import manifest_rows

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]
USERS = ("ada", "grace", "linus")
INVALID = [b"definitely not json", json.dumps({"username": "../../etc", "imageData": "AAAA"}).encode(),
           json.dumps({"username": "ada", "imageData": "%%%"}).encode(), b"{}"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with LocalCluster(tmp_path_factory.mktemp("metrics-cluster") / "spark") as cluster:
        yield cluster


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


def test_driver_metrics_equal_the_manifest(cluster, kafka_broker, tmp_path):
    cfg = Config(bootstrap_servers=kafka_broker.bootstrap, topic="metrics-frames", group_id="metrics-test",
                 output_dir=str(tmp_path / "out"))
    kinds = ["one", "one", "one", "two", "none"]
    frames = [make_frame(kinds[i % 5], 5100 + i) for i in range(15)]
    values = [message(USERS[i % 3], encode(f.image, "jpeg" if i % 2 else "png")) for i, f in enumerate(frames)]
    values += INVALID
    assert send_all([Outgoing(v, str(i)) for i, v in enumerate(values)], cfg, rate=0, partitions=2, quiet=True) \
        == len(values)

    app_ui = free_port()
    driver = f"http://127.0.0.1:{app_ui}"
    job = subprocess.Popen(
        [str(ROOT / "spark-submit.sh"), "--master", cluster.url, "--conf", f"spark.ui.port={app_ui}",
         "--", "--bootstrap-servers", cfg.bootstrap_servers, "--topic", cfg.topic, "--group-id", cfg.group_id,
         "--starting-offsets", "earliest", "--output-dir", cfg.output_dir, "--batch-interval-s", "2",
         "--exit-when-idle", "25", "--log-format", "json"],
        env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    done = executors = None
    try:
        deadline = time.monotonic() + 400
        while job.poll() is None and time.monotonic() < deadline:
            try:
                scraped = scrape(f"{driver}/metrics/prometheus")
            except OSError:  # the driver's UI is not up yet
                scraped = {}
            if metrics.prometheus_name("messages.accepted", "counter") not in scraped:  # nor the job's source
                time.sleep(1)
                continue
            processed = ours(scraped, "messages.accepted") + ours(scraped, "messages.rejected")
            if processed == len(values) and ours(scraped, "lag.total", "gauge") == 0:
                done = scraped
                # the series the dashboard selects: this application's
                executors = scrape(f"{driver}/metrics/executors/prometheus", 'application_name="stream-processor"')
                break
            time.sleep(1)
        log = job.communicate(timeout=400)[0]
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 0, log[-5000:]
    assert done is not None, "the driver never showed every message processed and no lag:\n" + log[-5000:]

    rows = manifest_rows(cfg.output_dir)
    assert len(rows) == len(values)
    reasons = Counter(r["reason"] for r in rows if r["status"] == "rejected")
    accepted = sum(1 for r in rows if r["status"] == "accepted")
    assert ours(done, "messages.accepted") == ours(done, "crops.written") == accepted > 0
    assert ours(done, "messages.rejected") == sum(reasons.values())
    for reason in Reason:  # every reason, zeros included
        assert ours(done, f"rejected.{reason.value}") == reasons.get(reason.value, 0), reason
    assert ours(done, "deadLetters.sent") == sum(n for r, n in reasons.items() if Reason(r).before_detection) >= 4
    assert ours(done, "input.bytes") == sum(len(v) for v in values)
    assert ours(done, "batches") >= 1
    assert ours(done, "lag.partition.0", "gauge") == ours(done, "lag.partition.1", "gauge") == 0
    for state, n in metrics.users_by_state(cfg).items():
        assert ours(done, f"users.{state}", "gauge") == n
    assert ours(done, "lastBatch.processingMs", "gauge") > 0
    assert ours(done, "lastBatch.schedulingDelayMs", "gauge") >= 0

    # --log-format json: the summary of each batch is one JSON object with every BatchSummary field
    summaries = [json.loads(line) for line in log.splitlines() if line.startswith("{") and '"inputs"' in line]
    assert sum(s["inputs"] for s in summaries) == len(values)
    assert sum(s["input_bytes"] for s in summaries) == sum(len(v) for v in values)

    for title, selector in dashboard_selectors():  # the dashboard's queries find real series
        if selector.startswith("~"):
            assert any(re.fullmatch(selector[1:], name) for name in done), f"{title}: {selector}"
        else:
            assert selector in done or selector in executors, f"{title}: {selector} not scraped"
    assert SPARK_METRICS <= set(executors)
    # Spark's own streaming source, named after the application (README, "Operating it")
    assert "metrics_stream_processor_driver_stream_processor_StreamingMetrics_streaming_lastCompletedBatch_totalDelay_Value" \
        in done


def test_master_and_workers_publish_prometheus_metrics(cluster):
    master = scrape(f"http://127.0.0.1:{cluster.master_ui}/metrics/master/prometheus")
    assert master["metrics_master_aliveWorkers_Value"] == 2
    for port in cluster.worker_uis:
        worker = scrape(f"http://127.0.0.1:{port}/metrics/prometheus")
        assert "metrics_worker_coresFree_Value" in worker
