"""A throwaway local standalone cluster (scripts/local-cluster.sh): a master and one or two
workers on free loopback ports, its state in a given folder, always stopped."""

from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Optional

from tests.support.ports import free_ports
from tests.support.procs import kill_leftovers, listening_addresses, pid_files

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "local-cluster.sh"


class LocalCluster:
    """`with LocalCluster(tmp / "spark") as cluster: cluster.url` -> "spark://127.0.0.1:PORT".
    `cores`: cores in all, over two workers when even, else one (default: the script's, two
    workers with half of the machine's cores each). `daemon_java_opts`: JVM options of the master
    and the workers (SPARK_DAEMON_JAVA_OPTS)."""

    def __init__(self, state: Path, cores: Optional[int] = None, start_timeout_s: int = 120,
                 daemon_java_opts: Optional[str] = None):
        self.state = state
        self.workers = 2 if cores is None or (cores >= 2 and cores % 2 == 0) else 1
        self.cores = cores
        self.master, self.master_ui, ui1, ui2 = free_ports(4)
        self.worker_uis = [ui1, ui2][:self.workers]
        self.url = f"spark://127.0.0.1:{self.master}"
        self.env = {**os.environ, "SPARK_LOCAL_STATE": str(state), "SPARK_MASTER_PORT": str(self.master),
                    "SPARK_MASTER_WEBUI_PORT": str(self.master_ui), "SPARK_WORKER_WEBUI_PORT": str(ui1),
                    "SPARK_CLUSTER_START_TIMEOUT": str(start_timeout_s)}
        if cores is not None:
            self.env.update(SPARK_WORKER_INSTANCES=str(self.workers), SPARK_WORKER_CORES=str(cores // self.workers))
        if daemon_java_opts is not None:
            self.env["SPARK_DAEMON_JAVA_OPTS"] = daemon_java_opts
        self.start_timeout_s = start_timeout_s
        self.started: Optional[subprocess.CompletedProcess[str]] = None  # what `start` printed, once it succeeded

    def run(self, command: str, timeout_s: Optional[float] = None) -> subprocess.CompletedProcess[str]:
        """scripts/local-cluster.sh `command` (start, stop, status) for this cluster."""
        return subprocess.run([str(SCRIPT), command], env=self.env, capture_output=True, text=True,
                              timeout=timeout_s or self.start_timeout_s + 60, stdin=subprocess.DEVNULL)

    def start(self) -> "LocalCluster":
        result = self.run("start")
        if result.returncode != 0:
            self.stop()
            raise RuntimeError(f"the local cluster did not start:\n{result.stdout}{result.stderr}")
        self.started = result
        return self

    def stop(self) -> None:
        """Stops it, then kills, by pid, anything still running from its state folder."""
        try:
            self.run("stop", timeout_s=120)
        finally:
            kill_leftovers(self.state)

    def pids(self) -> list[int]:
        return pid_files(self.state / "pids")

    def __enter__(self) -> "LocalCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def assert_stops_cleanly(cluster: LocalCluster) -> None:
    """`stop` stops the daemons and everything they ran: no pid file, no open port, `status` says
    none runs (3), a second `stop` has nothing to do, and no daemon, executor or Python worker
    outlives the cluster (anything left, under the cluster's parent folder, is killed)."""
    try:
        stopped = cluster.run("stop")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert not list((cluster.state / "pids").glob("*.pid"))
        for port in [cluster.master, cluster.master_ui, *cluster.worker_uis]:
            assert not listening_addresses(port), f"port {port} still open after stop"
        assert cluster.run("status").returncode == 3
        assert "not running" in cluster.run("stop").stdout
    finally:
        leftovers = kill_leftovers(cluster.state.parent)
    assert not leftovers, f"processes left after the cluster's stop: {leftovers}"


def get_json(url: str):
    """A Spark web UI's JSON (the master's /json/, a worker's, the application's REST API)."""
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.load(r)


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
