"""Fixtures of the kafka layer: the two commands whose tests mostly wait for a timeout of the
command (a refused login, an absent broker) start with the layer's first test when their test is
selected, and run while the tests before theirs do."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from tests.support.background import Background
from tests.support.broker import ROOT, scram_flags
from tests.support.ports import free_port


@dataclass(frozen=True)
class Finished:
    """A command that ran to its end: its output, and how long it took from its start."""

    args: list[str]
    result: subprocess.CompletedProcess
    took_s: float


def run_timed(args: list[str], **kwargs) -> Finished:
    started = time.monotonic()
    result = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, **kwargs)
    return Finished(args, result, time.monotonic() - started)


@pytest.fixture(scope="session")
def refused_login_run(kafka_broker, tmp_path_factory) -> Background[Finished]:
    """`run` with a wrong SCRAM password on the broker's SASL listener: the job's check waits up to
    15 s for the login before it gives up (tests/kafka/test_kafka_security.py)."""
    out = tmp_path_factory.mktemp("refused-login") / "out"
    args = [sys.executable, "-m", "stream_processor", "run", "--output-dir", str(out),
            *scram_flags(kafka_broker.sasl_bootstrap, "wrong-password")]
    return Background(lambda: run_timed(args, cwd=ROOT, timeout=120), "refused-login")


@pytest.fixture(scope="session")
def absent_broker_status() -> Background[Finished]:
    """`status` against a broker that is down (nothing listens on its port): it waits for the
    broker for 6 s (status.BROKER_TIMEOUT_MS) (tests/kafka/test_status_command.py)."""
    args = [sys.executable, "-m", "stream_processor", "status", "--bootstrap-servers", f"127.0.0.1:{free_port()}",
            "--topic", "gone"]
    return Background(lambda: run_timed(args, timeout=90), "absent-broker-status")


@pytest.fixture(scope="session", autouse=True)
def start_waiting_commands_early(request) -> None:
    """Starts `refused_login_run` and `absent_broker_status` with the layer's first test when a
    selected test uses them."""
    used = {name for item in request.session.items for name in getattr(item, "fixturenames", ())}
    for name in ("refused_login_run", "absent_broker_status"):
        if name in used:
            request.getfixturevalue(name)
