"""The Kafka broker goes away mid-stream and comes back (same data folder): the job rides it out
and its output is the baseline's. The scenario (tests/faults/outage.py) runs on a dedicated broker
and starts in the background with the layer's first test (tests/faults/conftest.py); this file's
name sorts after test_job_faults.py, so its test collects the scenario after the tests it ran beside."""

from __future__ import annotations

import pytest

from tests.faults.harness import assert_dead_letters, assert_same_output, committed_total, manifest_coverage, snapshot
from tests.faults.outage import ENGINES, dead_letter_topic, group_of

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def outage(outage_broker, outage_run):
    try:
        yield outage_run.result(timeout_s=900)  # the jobs survived the outage and stopped by themselves (outage.py)
    finally:
        outage_broker.stop()


@pytest.mark.parametrize("engine", ENGINES)
def test_broker_outage_mid_stream_the_job_recovers_with_the_same_output(outage_broker, outage, baseline, engine):
    print(f"broker down for {outage.down_s:.0f} s")
    assert outage.sent.keys() == baseline.sent.keys()
    assert_same_output(snapshot(outage.output_dirs[engine]), baseline.output)
    assert committed_total(outage_broker.bootstrap, group_of(engine)) == manifest_coverage(outage.output_dirs[engine])
    assert_dead_letters(outage_broker.bootstrap, dead_letter_topic(engine), outage.sent)
