"""A throwaway local Kafka broker for tests: free ports, a temporary data folder, always stopped.

Drives scripts/kafka-broker.sh, so the tests exercise the same start/stop path as `make demo`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

from tests.support.ports import free_ports
from tests.support.procs import pid_files

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "kafka-broker.sh"
SCRAM_USER = ("job", "job-secret")  # (name, password) on the session broker's SASL listener


def scram_flags(sasl_bootstrap: str, password: str) -> list[str]:
    """The command-line flags of a SCRAM-SHA-512 login as SCRAM_USER with `password`."""
    return ["--bootstrap-servers", sasl_bootstrap, "--security-protocol", "SASL_PLAINTEXT",
            "--sasl-mechanism", "SCRAM-SHA-512", "--sasl-username", SCRAM_USER[0], "--sasl-password", password]


class LocalBroker:
    """`with LocalBroker() as broker: broker.bootstrap` -> "127.0.0.1:PORT". With `scram_users`
    ({name: password}) it also has a SASL_PLAINTEXT listener with these SCRAM-SHA-512/256 users
    at `broker.sasl_bootstrap`."""

    def __init__(self, partitions: int = 2, keep_dir: bool = False, scram_users: Optional[dict[str, str]] = None,
                 heap_opts: Optional[str] = None):
        self.port, self.controller_port, self.sasl_port = free_ports(3)
        self.scram_users = dict(scram_users or {})
        self.heap_opts = heap_opts
        self.partitions = partitions
        self.keep_dir = keep_dir
        self.dir: Optional[Path] = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def sasl_bootstrap(self) -> str:
        assert self.scram_users, "LocalBroker(scram_users=...) has the SASL listener"
        return f"127.0.0.1:{self.sasl_port}"

    def _env(self) -> dict[str, str]:
        assert self.dir is not None
        return {**os.environ,
                "KAFKA_PORT": str(self.port),
                "KAFKA_CONTROLLER_PORT": str(self.controller_port),
                "KAFKA_DATA_DIR": str(self.dir / "data"),
                "KAFKA_LOG_DIR": str(self.dir / "logs"),
                "KAFKA_NUM_PARTITIONS": str(self.partitions),
                "KAFKA_SASL_PORT": str(self.sasl_port),
                "KAFKA_SCRAM_USERS": ",".join(f"{name}:{pw}" for name, pw in self.scram_users.items()),
                **({"KAFKA_HEAP_OPTS": self.heap_opts} if self.heap_opts else {})}

    def _run(self, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(SCRIPT), command], env=self._env(), capture_output=True, text=True,
                              timeout=timeout, check=False)

    def start(self) -> "LocalBroker":
        self.dir = Path(tempfile.mkdtemp(prefix="kafka-test-"))
        result = self._run("start", timeout=180)
        if result.returncode != 0:
            self.stop()
            raise RuntimeError(f"the local Kafka broker did not start:\n{result.stdout}{result.stderr}")
        return self

    def stop(self) -> None:
        if self.dir is None:
            return
        try:
            self._run("stop", timeout=60)
        finally:
            if not self.keep_dir:
                shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def pids(self) -> list[int]:
        return pid_files(self.dir / "data") if self.dir else []

    def log_tail(self, lines: int = 50) -> str:
        if self.dir is None:
            return ""
        log = self.dir / "logs" / "server.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""

    def __enter__(self) -> "LocalBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
