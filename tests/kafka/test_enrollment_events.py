"""`reset-user` against the real broker: the user's files go, and the new status is announced."""

import json

import pytest

from stream_processor.cli import main
from stream_processor.demo.samples import astronaut, encode
from tests.support.streaming import read_topic

pytestmark = pytest.mark.kafka


def test_reset_user_publishes_the_new_generation(kafka_broker, tmp_path):
    train = tmp_path / "train"
    (train / "ada").mkdir(parents=True)
    (train / "ada" / "t-p0-o000000000001.png").write_bytes(encode(astronaut().image))
    flags = ["--bootstrap-servers", kafka_broker.bootstrap, "--topic", "reset-frames", "--output-dir", str(train)]
    assert main(["reset-user", "ada", *flags]) == 0
    assert main(["reset-user", "ada", *flags]) == 0
    assert not (train / "ada").exists()
    events = [(r.key.decode(), json.loads(r.value)) for r in read_topic(kafka_broker.bootstrap, "reset-frames.enrollment")]
    assert [(key, e["generation"], e["count"], e["state"]) for key, e in events] == \
        [("ada", 1, 0, "collecting"), ("ada", 2, 0, "collecting")]
    assert main(["reset-user", "../x", *flags]) == 2
