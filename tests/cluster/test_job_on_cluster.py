"""The product as users and operators meet it: a real broker, a master with two workers, the job
submitted once with spark-submit.sh (the session's undisturbed run, tests/support/undisturbed.py:
frames of three users, one-face, two-face and no-face, undecodable messages; stopped with SIGTERM
once everything is processed and committed). From that one run: crops, manifest, dead-letter
topic, work on both workers, and what an operator scrapes: while it runs, the driver's
/metrics/prometheus, whose every count of the job's source equals the manifest's (the latest row
per record) once everything is processed; the master, the workers and the executors publish
Spark's own metrics, and every metric the dashboard queries is in a real scrape. The faults layer
compares its disturbed runs with this run's output."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from stream_processor.kafka import clients as kafka_clients
from stream_processor.operations import metrics
from stream_processor.records import Reason
from tests.static.test_monitoring import SPARK_METRICS, dashboard_selectors
from tests.support.cluster import scrape
from tests.faults.harness import USERS, assert_same_output, snapshot
from tests.support.output import manifest_rows, state_of
from tests.support.streaming import read_topic
from tests.support.undisturbed import ours

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module", params=["dstream", "structured"])
def run(request):
    """The session's undisturbed run on the cluster with each engine; it stopped cleanly when told to."""
    found = request.getfixturevalue("undisturbed_run" if request.param == "dstream" else "undisturbed_structured_run")
    assert found.returncode == 0, found.log[-5000:]
    return found


def test_crops_manifest_and_state_of_every_user(run):
    out = run.output_dir
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
        ["corrupt_image", "invalid_base64", "invalid_json", "invalid_json", "invalid_username", "missing_field",
         "unsupported_format"]
    # the 4 two-face and 4 no-face frames are refused, 7 of them by the face decision (one no-face
    # frame by the quality gates)
    assert sum(reasons.count(r) for r in ("no_face", "multiple_faces")) >= 7
    assert kafka_clients.consumer_lag(run.cfg)[0].lag == 0


def test_invalid_messages_reach_the_dead_letter_topic_as_they_came(run):
    dead = {}
    for record in read_topic(run.cfg.bootstrap_servers, run.cfg.dead_letter_topic):
        headers = {k: v.decode() for k, v in record.headers}
        dead[(headers["source.topic"], int(headers["source.partition"]), int(headers["source.offset"]))] = \
            (headers["reason"], record.value)
    rows = manifest_rows(run.cfg.output_dir)
    assert sorted(reason for reason, _ in dead.values()) == \
        sorted(r["reason"] for r in rows if r["status"] == "rejected" and Reason(r["reason"]).before_detection)
    assert sorted(value for _, value in dead.values()) == sorted(m.value for m in run.messages if m.dead_reason)


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
    # Spark's own streaming source of a DStream, named after the application (docs/operating.md)
    assert ("metrics_stream_processor_driver_stream_processor_StreamingMetrics_streaming_lastCompletedBatch_totalDelay_Value"
            in done) == (run.cfg.engine == "dstream")


def test_json_log_has_one_summary_object_per_batch(run):
    """--log-format json: the summary of each batch is one JSON object with every BatchSummary field."""
    summaries = [json.loads(line) for line in run.log.splitlines() if line.startswith("{") and '"inputs"' in line]
    assert sum(s["inputs"] for s in summaries) == len(run.values)
    assert sum(s["input_bytes"] for s in summaries) == sum(len(v) for v in run.values)


def test_both_engines_write_the_same_output(undisturbed_run, undisturbed_structured_run):
    """The structured engine over the same topic: the same crops, status files and manifest rows."""
    assert_same_output(snapshot(undisturbed_structured_run.output_dir), snapshot(undisturbed_run.output_dir))
    checkpoint = state_of(undisturbed_structured_run.output_dir).structured_checkpoint
    assert (checkpoint / "commits").is_dir()  # its progress, in the state location


def test_master_and_workers_publish_prometheus_metrics(standalone_cluster):
    master = scrape(f"http://127.0.0.1:{standalone_cluster.master_ui}/metrics/master/prometheus")
    assert master["metrics_master_aliveWorkers_Value"] == 2
    for port in standalone_cluster.worker_uis:
        worker = scrape(f"http://127.0.0.1:{port}/metrics/prometheus")
        assert "metrics_worker_coresFree_Value" in worker
