"""The Kafka broker goes away mid-stream and comes back (same data folder): the job rides it out
and its output is the baseline's. A dedicated broker, so the other tests never see the outage."""

from __future__ import annotations

import threading
import time

import pytest

from tests.faults.harness import (TOPIC, JobProcess, assert_dead_letters, assert_same_output, committed_total,
                                  manifest_coverage, publish, run_args, snapshot, wait_until)
from tests.support.broker import LocalBroker

pytestmark = pytest.mark.faults
# The broker stays away this long after it stopped, then for its restart: several 1 s batch intervals,
# and longer than the job's lag query waits for it (kafka_clients._KeptLag.TIMEOUT_MS, 5 s).
OUTAGE_S = 5


class RestartableBroker(LocalBroker):
    """A LocalBroker whose process can be stopped and started again on the same ports and data."""

    def stop_process(self) -> None:
        result = self._run("stop", timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr

    def start_process(self) -> None:
        result = self._run("start", timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr + self.log_tail()


@pytest.fixture(scope="session")
def outage_broker():
    """The dedicated broker, started in the background: listed before `baseline`, it starts while
    the baseline runs. Stopped (and its data folder removed) by the test or at the session's end."""
    broker, failed = RestartableBroker(), []

    def start():
        try:
            broker.start()
        except Exception as exc:  # noqa: BLE001 - reported in the test's thread
            failed.append(exc)

    thread = threading.Thread(target=start, name="outage-broker", daemon=True)
    thread.start()

    def ready() -> RestartableBroker:
        thread.join(240)
        assert not thread.is_alive() and not failed, f"the dedicated broker did not start: {failed}"
        return broker

    try:
        yield ready
    finally:
        thread.join(240)
        broker.stop()


def test_broker_outage_mid_stream_the_job_recovers_with_the_same_output(outage_broker, baseline, tmp_path):
    total = len(baseline.messages)
    broker = outage_broker()
    try:
        sent = publish(broker.bootstrap, baseline.messages)
        assert sent.keys() == baseline.sent.keys()
        out = tmp_path / "out"
        with JobProcess(baseline.code, run_args(broker.bootstrap, "outage", out, rate=3), tmp_path / "job.log") as job:
            wait_until(lambda: 0 < sum(committed_total(broker.bootstrap, "outage").values()) < total - 6, 120,
                       "a first committed batch", job, 0.1)
            broker.stop_process()
            down = time.monotonic()
            time.sleep(OUTAGE_S)
            assert job.proc.poll() is None, f"the job died with the broker:\n{job.tail()}"
            broker.start_process()
            print(f"broker down for {time.monotonic() - down:.0f} s")
            assert job.wait(300) == 0, job.tail()
        assert_same_output(snapshot(out), baseline.output)
        assert committed_total(broker.bootstrap, "outage") == manifest_coverage(out)
        assert_dead_letters(broker.bootstrap, f"{TOPIC}.dlq", sent)
    finally:
        broker.stop()
