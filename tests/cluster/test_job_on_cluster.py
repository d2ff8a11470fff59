"""The product as users meet it: a real broker, a master with two workers, the job submitted with
spark-submit.sh, frames of three users (one-face, two-face, no-face) and invalid messages; the job
stops by itself once idle. Crops, manifest, dead-letter topic, and work on both workers."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest
from kafka import KafkaConsumer

from stream_processor import kafka_clients
from stream_processor.config import Config
from stream_processor.produce import Outgoing, send_all
from stream_processor.records import Reason
from tests.support.output import manifest_rows, state_of
from stream_processor.samples import encode, make_frame, message
from tests.support.cluster import LocalCluster, get_json
from tests.support.ports import free_port

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]
USERS = ("ada", "grace", "linus")
INVALID = [b"definitely not json", json.dumps({"username": "../../etc", "imageData": "AAAA"}).encode(),
           json.dumps({"username": "ada", "imageData": "%%%"}).encode()]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with LocalCluster(tmp_path_factory.mktemp("job-cluster") / "spark") as cluster:
        yield cluster


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


def test_job_on_two_workers(cluster, kafka_broker, tmp_path):
    cfg = Config(bootstrap_servers=kafka_broker.bootstrap, topic="cluster-frames", group_id="cluster-test")
    kinds = ["one", "one", "one", "two", "none"]
    frames = [make_frame(kinds[i % 5], 4100 + i) for i in range(15)]
    messages = [message(USERS[i % 3], encode(f.image, "jpeg" if i % 2 else "png")) for i, f in enumerate(frames)]
    sent = send_all([Outgoing(v, str(i)) for i, v in enumerate(messages + INVALID)], cfg, rate=0, partitions=2,
                    quiet=True)
    assert sent == 18

    out = tmp_path / "out"
    app_ui = free_port()
    seen, stop = {}, threading.Event()
    watcher = threading.Thread(target=watch_executors, args=(app_ui, seen, stop), daemon=True)
    watcher.start()
    try:
        job = subprocess.run(
            [str(ROOT / "spark-submit.sh"), "--master", cluster.url, "--conf", f"spark.ui.port={app_ui}",
             "--", "--bootstrap-servers", cfg.bootstrap_servers, "--topic", cfg.topic, "--group-id", cfg.group_id,
             "--starting-offsets", "earliest", "--output-dir", str(out), "--batch-interval-s", "2",
             "--exit-when-idle", "6"],
            env=cluster.env, capture_output=True, text=True, timeout=400, stdin=subprocess.DEVNULL)
    finally:
        stop.set()
        watcher.join(5)
    log = job.stdout + job.stderr
    assert job.returncode == 0, log[-5000:]
    assert "inputs=" in log

    rows = manifest_rows(out)
    assert len(rows) == 18  # one row per message
    assert {(r["topic"], r["partition"]) for r in rows} <= {(cfg.topic, 0), (cfg.topic, 1)}
    accepted = [r for r in rows if r["status"] == "accepted"]
    assert {r["username"] for r in accepted} == set(USERS)  # crops for every user
    on_disk = {str(p.relative_to(out)) for p in out.rglob("*")}
    folders = {r["path"].split("/")[0] for r in accepted}
    assert on_disk == {r["path"] for r in accepted} | folders  # user folders of crops, nothing else
    assert sorted(p.name for p in state_of(out).users.iterdir()) == sorted(f"{u}.json" for u in USERS)
    reasons = [r["reason"] for r in rows if r["status"] == "rejected"]
    assert sorted(r for r in reasons if Reason(r).before_detection) == \
        ["invalid_base64", "invalid_json", "invalid_username"]
    # the 3 no-face and 2 two-face frames are all refused by the face decision
    assert sum(reasons.count(r) for r in ("no_face", "multiple_faces", "face_not_verified")) >= 5

    consumer = KafkaConsumer(cfg.dead_letter_topic, bootstrap_servers=cfg.bootstrap_servers,
                             auto_offset_reset="earliest", consumer_timeout_ms=5000,
                             max_partition_fetch_bytes=16 * 1024 * 1024)
    dead = {}
    for record in consumer:
        headers = {k: v.decode() for k, v in record.headers}
        dead[(headers["source.topic"], int(headers["source.partition"]), int(headers["source.offset"]))] = \
            (headers["reason"], record.value)
    consumer.close()
    assert sorted(reason for reason, _ in dead.values()) == ["invalid_base64", "invalid_json", "invalid_username"]
    assert sorted(value for _, value in dead.values()) == sorted(INVALID)

    assert len(seen) == 2, seen  # one executor per worker, both ran tasks
    assert len({host for host, _ in seen.values()}) == 2 and all(tasks > 0 for _, tasks in seen.values())
    assert kafka_clients.consumer_lag(cfg)[0].lag == 0
