"""Session fixtures of the faults layer: the undisturbed run that every disturbed run is compared
with (the session's one run of the job on the cluster, tests/support/undisturbed.py, which the
cluster layer checks too), and a fresh consumer group per test."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.harness import Coords, Message, Output, snapshot


@dataclass(frozen=True)
class Baseline:
    code: Path  # the job's code every run of the session uses (harness.code_snapshot)
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
