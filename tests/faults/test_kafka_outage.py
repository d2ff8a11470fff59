"""The Kafka broker goes away mid-stream and comes back (same data folder): the job rides it out
and its output is the baseline's. The scenario (tests/faults/outage.py) runs on a dedicated broker
and starts in the background with the layer's first test (tests/faults/conftest.py); this file's
name sorts after test_job_faults.py, so its test collects the scenario after the tests it ran beside."""

from __future__ import annotations

import pytest

from tests.faults.harness import TOPIC, assert_dead_letters, assert_same_output, committed_total, manifest_coverage, snapshot
from tests.faults.outage import GROUP

pytestmark = pytest.mark.faults


def test_broker_outage_mid_stream_the_job_recovers_with_the_same_output(outage_broker, outage_run, baseline):
    try:
        run = outage_run.result(timeout_s=900)  # the job survived the outage and stopped by itself (outage.py)
        print(f"broker down for {run.down_s:.0f} s")
        assert run.sent.keys() == baseline.sent.keys()
        assert_same_output(snapshot(run.output_dir), baseline.output)
        assert committed_total(outage_broker.bootstrap, GROUP) == manifest_coverage(run.output_dir)
        assert_dead_letters(outage_broker.bootstrap, f"{TOPIC}.dlq", run.sent)
    finally:
        outage_broker.stop()
