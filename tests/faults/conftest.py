"""Session fixtures of the faults layer: the undisturbed run that every disturbed run is compared
with (the session's one run of the job on the cluster, tests/support/undisturbed.py, which the
cluster layer checks too), the broker outage scenario, started in the background with the layer's
first test, and a fresh consumer group per test."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.harness import Coords, Message, Output, snapshot
from tests.faults.outage import OutageRun, RestartableBroker, run_outage
from tests.support.background import Background


@dataclass(frozen=True)
class Baseline:
    code: Path  # the job's code every run of the session uses (checkout.code_snapshot)
    bootstrap: str
    group: str  # the undisturbed run's consumer group: it committed every record
    messages: list[Message]
    sent: dict[Coords, Message]
    output_dir: Path
    output: Output
    log: str


@pytest.fixture(scope="session")
def baseline(undisturbed_run) -> Baseline:
    """The input on the shared broker and the output of the undisturbed run over it."""
    run = undisturbed_run
    assert run.returncode == 0, run.log[-5000:]
    output = snapshot(run.output_dir)
    assert len(output.rows) == len(run.messages), "one manifest row per message"
    accepted = {row[-1] for row in output.rows.values() if row[4] == "accepted"}
    assert len(accepted) >= 12 and set(output.files) == accepted  # crops only, each in the manifest
    assert not output.temps
    return Baseline(run.code, run.cfg.bootstrap_servers, run.cfg.group_id, run.messages, run.sent, run.output_dir,
                    output, run.log)


@pytest.fixture
def fresh_group() -> str:
    return f"faults-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def outage_broker():
    """The outage scenario's dedicated broker (tests/faults/outage.py starts it): stopped, its
    data folder removed, by the test or at the session's end."""
    broker = RestartableBroker()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def outage_run(outage_broker, baseline, tmp_path_factory) -> Background[OutageRun]:
    """The broker outage scenario (tests/faults/outage.py), running in the background."""
    tmp = tmp_path_factory.mktemp("outage")
    return Background(lambda: run_outage(outage_broker, baseline, tmp), "broker-outage")


@pytest.fixture(scope="session", autouse=True)
def start_outage_early(request) -> None:
    """Starts `outage_run` with the layer's first test when a selected test uses it: the scenario
    mostly waits, and runs beside the tests before its own (test_kafka_outage.py)."""
    if any("outage_run" in getattr(item, "fixturenames", ()) for item in request.session.items):
        request.getfixturevalue("outage_run")
