"""Session fixtures of the faults layer: the input, published once to the shared broker, and one
undisturbed run of the job over it that every disturbed run is compared with."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.harness import (Coords, JobProcess, Message, Output, build_messages, code_snapshot, publish, run_args,
                                  snapshot)


@dataclass(frozen=True)
class Baseline:
    code: Path  # the job's code every run of the session uses (harness.code_snapshot)
    bootstrap: str
    messages: list[Message]
    sent: dict[Coords, Message]
    output_dir: Path
    output: Output
    log: str


@pytest.fixture(scope="session")
def fault_messages() -> list[Message]:
    return build_messages()


@pytest.fixture(scope="session")
def baseline(kafka_broker, fault_messages, tmp_path_factory) -> Baseline:
    """The input on the shared broker and the output of one undisturbed run over it."""
    sent = publish(kafka_broker.bootstrap, fault_messages)
    tmp = tmp_path_factory.mktemp("baseline")
    code = code_snapshot(tmp / "code")
    out = tmp / "out"
    with JobProcess(code, run_args(kafka_broker.bootstrap, "baseline", out, rate=0), tmp / "job.log") as job:
        rc = job.wait(180)
        assert rc == 0, job.tail()
        log = job.log()
    output = snapshot(out)
    assert len(output.rows) == len(fault_messages), "one manifest row per message"
    accepted = {row[-1] for row in output.rows.values() if row[4] == "accepted"}
    assert len(accepted) >= 12 and set(output.files) == accepted  # crops only, each in the manifest
    assert not output.temps
    return Baseline(code, kafka_broker.bootstrap, fault_messages, sent, out, output, log)


@pytest.fixture
def fresh_group() -> str:
    return f"faults-{uuid.uuid4().hex[:8]}"

