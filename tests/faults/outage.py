"""The broker outage scenario (tests/faults/test_kafka_outage.py checks what it leaves): the faults'
input on a dedicated broker, so the other tests never see the outage; the job reads it; after its
first committed batch the broker stops, stays away OUTAGE_S, then starts again on the same ports
and data; the job must ride it out and stop by itself once everything is committed. One job of
each engine rides the same outage.

It mostly waits (for the broker to stop and come back, for the job's clients to reconnect), so it
runs in the background beside the layer's other tests (tests/faults/conftest.py, `outage_run`)."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.faults.harness import TOPIC, Coords, JobProcess, Message, committed_total, publish, run_args, wait_until
from tests.support.broker import LocalBroker

# The broker stays away this long after it stopped, then for its restart: several 1 s batch intervals,
# and longer than the job's lag query waits for it (kafka/clients.py: QUERY_TIMEOUT_MS, 5 s).
OUTAGE_S = 5
GROUP = "outage"


class RestartableBroker(LocalBroker):
    """A LocalBroker whose process can be stopped and started again on the same ports and data."""

    def stop_process(self) -> None:
        result = self._run("stop", timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr

    def start_process(self) -> None:
        result = self._run("start", timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr + self.log_tail()


ENGINES = ("dstream", "structured")


def group_of(engine: str) -> str:
    return GROUP if engine == "dstream" else f"{GROUP}-{engine}"


def dead_letter_topic(engine: str) -> str:
    return f"{TOPIC}.dlq.{engine}"


@dataclass(frozen=True)
class OutageRun:
    sent: dict[Coords, Message]  # the input by its coordinates on the dedicated broker
    output_dirs: dict[str, Path]  # engine -> its job's training set
    down_s: float  # from the broker's stop to the end of its restart


def run_outage(broker: RestartableBroker, baseline: Any, tmp: Path) -> OutageRun:
    """Starts `broker`, publishes the baseline's input to it and runs the job over it through the
    outage, once with each engine, side by side (the job's code and input: tests/faults/conftest.py,
    Baseline)."""
    broker.start()
    total = len(baseline.messages)
    sent = publish(broker.bootstrap, baseline.messages)
    outs = {engine: tmp / engine / "out" for engine in ENGINES}
    jobs = [JobProcess(baseline.code, run_args(broker.bootstrap, group_of(engine), outs[engine], rate=2,
                                               extra=["--engine", engine, "--dlq-topic", dead_letter_topic(engine)]),
                       tmp / f"{engine}.log")
            for engine in ENGINES]
    with contextlib.ExitStack() as running:
        for job in jobs:
            running.enter_context(job)
        def committed() -> list[int]:
            return [sum(committed_total(broker.bootstrap, group_of(engine)).values()) for engine in ENGINES]

        for job in jobs:
            wait_until(lambda: min(committed()) > 0, 120, "a first committed batch of each engine", job, 0.1)
        assert max(committed()) < total, f"a job was done before the outage: {committed()} of {total}"
        broker.stop_process()
        down = time.monotonic()
        time.sleep(OUTAGE_S)
        for job in jobs:
            assert job.proc.poll() is None, f"the job died with the broker:\n{job.tail()}"
        broker.start_process()
        down_s = time.monotonic() - down
        for job in jobs:
            assert job.wait(300) == 0, job.tail()
    return OutageRun(sent, outs, down_s)
