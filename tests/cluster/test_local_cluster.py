"""scripts/local-cluster.sh for real: a master and two workers on free loopback ports with their
state in a temporary folder (the session's cluster, tests/conftest.py, which the real job's
cluster tests beside this one and the faults layer use too); spark-submit.sh submits a small
stand-in job to it: both workers run an executor with the venv's Python, and SIGTERM reaches the
Python driver, which stops on its own terms. Nothing is left running: `stop` is checked when the
session's cluster stops (tests/support/cluster.py, assert_stops_cleanly)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from tests.support.cluster import get_json
from tests.support.procs import kill_leftovers, listening_addresses

pytestmark = pytest.mark.cluster

ROOT = Path(__file__).resolve().parents[2]

# The stand-in for `python -m stream_processor run`: uses both executors, then waits for SIGTERM
# and shows the SparkContext still works when it arrives. Its package also holds a kafka.py,
# which must not shadow kafka-python (the entry file must not put the package folder on sys.path).
FAKE_MAIN = '''
import os, signal, sys, time
import kafka
assert hasattr(kafka, "KafkaConsumer"), "stream_processor/kafka.py shadowed kafka-python"
from pyspark import SparkFiles
from pyspark.sql import SparkSession
print("ARGS", sys.argv[1:], flush=True)
sc = SparkSession.builder.appName("cluster-test").getOrCreate().sparkContext
def where(rows):
    import cv2
    n = sum(1 for _ in rows)
    time.sleep(0.5)
    yield os.environ.get("SPARK_EXECUTOR_ID", "?"), sys.executable, n
out = sc.parallelize(range(1000), 4).mapPartitions(where).collect()
print("COUNT", sum(r[2] for r in out), flush=True)
print("PYTHONS", sorted({r[1] for r in out}), flush=True)
print("CONFIG", os.path.exists(SparkFiles.get("stream_processor.toml")), flush=True)
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
print("WAITING", flush=True)
while not stop:
    time.sleep(0.1)
print("STOPPING", sc.parallelize(range(10)).count(), flush=True)
sc.stop()
'''


@pytest.fixture(scope="module")
def cluster(standalone_cluster):
    """The session's cluster: started once (what `start` printed is kept), checked here, then used
    by the stand-in job; its `stop` is checked at the session's end."""
    return standalone_cluster


def fake_checkout(tmp_path: Path) -> Path:
    """spark-submit.sh and conf/ of this checkout, the venv, the class archive, an empty jar and the
    stand-in job."""
    repo = tmp_path / "checkout"
    (repo / "stream_processor").mkdir(parents=True)
    shutil.copy2(ROOT / "spark-submit.sh", repo / "spark-submit.sh")
    shutil.copytree(ROOT / "conf", repo / "conf")
    (repo / ".venv").symlink_to(ROOT / ".venv")
    (repo / ".local").mkdir()
    (repo / ".local" / "cds").symlink_to(ROOT / ".local" / "cds")  # the JVMs' class archive
    (repo / "jars").mkdir()
    with zipfile.ZipFile(repo / "jars" / "empty.jar", "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    (repo / "stream_processor" / "__init__.py").write_text("")
    (repo / "stream_processor" / "__main__.py").write_text(FAKE_MAIN)
    (repo / "stream_processor" / "kafka.py").write_text("raise ImportError('shadowed kafka-python')\n")
    return repo


def wait_for_line(path: Path, text: str, proc: subprocess.Popen, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = path.read_text() if path.exists() else ""
        if text in out:
            return out
        if proc.poll() is not None:
            pytest.fail(f"spark-submit.sh exited {proc.returncode} before {text!r}:\n{out}")
        time.sleep(0.2)
    pytest.fail(f"no {text!r} within {timeout}s")


def test_start_gives_a_master_and_two_workers_on_loopback(cluster):
    started = cluster.started
    assert started is not None and started.returncode == 0
    url = cluster.url
    assert url in started.stdout
    for port in [cluster.master_ui, *cluster.worker_uis]:
        assert f"http://127.0.0.1:{port}" in started.stdout

    state = get_json(f"http://127.0.0.1:{cluster.master_ui}/json/")
    assert state["status"] == "ALIVE" and state["url"] == url
    alive = [w for w in state["workers"] if w["state"] == "ALIVE"]
    assert len(alive) == 2
    assert {w["host"] for w in alive} == {"127.0.0.1"}
    assert sorted(int(w["webuiaddress"].rsplit(":", 1)[1]) for w in alive) == cluster.worker_uis
    assert all(w["cores"] == max(1, (os.cpu_count() or 2) // 2) for w in alive)
    for port in [cluster.master, cluster.master_ui, *cluster.worker_uis]:
        addresses = listening_addresses(port)
        assert addresses and addresses <= {"127.0.0.1", "::ffff:127.0.0.1"}, (port, addresses)

    # Logs, pid files and work folders stay in SPARK_LOCAL_STATE.
    assert {p.name for p in (cluster.state / "pids").iterdir()} == {"master.pid", "worker-1.pid", "worker-2.pid"}
    assert {p.name for p in (cluster.state / "logs").iterdir()} == {"master.out", "worker-1.out", "worker-2.out"}
    assert cluster.run("status").returncode == 0
    again = cluster.run("start")
    assert again.returncode == 0 and "already running" in again.stdout


def test_spark_submit_runs_an_executor_on_each_worker_and_forwards_sigterm(cluster):
    if cluster.run("status").returncode != 0:
        pytest.skip("the cluster did not start (see the test before)")
    url = cluster.url
    repo = fake_checkout(cluster.state.parent)
    out_path = cluster.state.parent / "job.out"
    with open(out_path, "w") as out, open(cluster.state.parent / "job.err", "w") as err:
        job = subprocess.Popen([str(repo / "spark-submit.sh"), "--master", url, "--", "--output-dir", "/tmp/x"],
                               stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=cluster.env)
    try:
        text = wait_for_line(out_path, "WAITING", job, timeout=120)
        assert "COUNT 1000" in text
        assert "CONFIG True" in text
        assert "'--output-dir', '/tmp/x'" in text
        pythons = eval(text.split("PYTHONS ", 1)[1].splitlines()[0])  # a list literal we printed
        assert len(pythons) == 1 and Path(pythons[0]).parent.parent.resolve() == (ROOT / ".venv").resolve()
        for port in cluster.worker_uis:
            worker = get_json(f"http://127.0.0.1:{port}/json/")
            assert len(worker["executors"]) == 1, f"worker on :{port} runs {worker['executors']}"
        # SIGTERM to spark-submit.sh reaches the Python driver, whose SparkContext still works.
        job.send_signal(signal.SIGTERM)
        assert job.wait(timeout=90) == 0
        assert "STOPPING 10" in out_path.read_text()
    finally:
        if job.poll() is None:
            job.terminate()  # forwarded to the driver; spark-submit.sh escalates after STOP_GRACE_S
            try:
                job.wait(timeout=30)
            except subprocess.TimeoutExpired:
                job.kill()
                job.wait()
        # spark-submit runs in its own session: nothing of it may outlive spark-submit.sh.
        assert not kill_leftovers(repo), "spark-submit.sh left processes behind"
