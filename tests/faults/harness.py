"""The faults layer's tools: one fixed input (frames of three users plus undecodable messages),
the job as a subprocess in its own session, and the comparison of two output folders.

Two runs are compared by what a reader of the output sees: every file of the training set and
the enrollment status and rejected examples of the state location (relative path -> bytes; temp
files of an interrupted write, `.*.tmp`, are listed apart), and the manifest rows deduplicated by
source coordinates, without `batch_time`. A record processed more than once must have the same
row every time (checked, not just the latest kept).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from stream_processor.config import Config
from stream_processor.demo.samples import encode, make_frame, message
from stream_processor.kafka import clients as kafka_clients
from stream_processor.operations import logs
from stream_processor.spark.batch import BatchSummary
from tests.support import spark_conf
from tests.support.output import state_of

ROOT = Path(__file__).resolve().parents[2]
PYTHON = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
TOPIC = "faults-frames"
PARTITIONS = 2
USERS = ("ada", "bob", "cyd")
COMPARED = ("topic", "partition", "offset", "username", "status", "reason", "faces", "x", "y", "w", "h", "path")
Coords = tuple[str, int, int]


# --- the input ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Message:
    partition: int
    value: bytes
    dead_reason: Optional[str]  # the reason of a message that must reach the dead letters
    time_ms: int = 0  # the record's timestamp: the same on every broker, as the status files count them


def _undecodable(frame_png: bytes) -> list[tuple[bytes, str]]:
    return [
        (b"definitely not json", "invalid_json"),
        (b'[{"username": "ada"}]', "invalid_json"),
        (json.dumps({"username": "../../etc", "imageData": "AAAA"}).encode(), "invalid_username"),
        (json.dumps({"username": "bob", "imageData": "%%%not base64%%%"}).encode(), "invalid_base64"),
        (message("cyd", frame_png[: len(frame_png) // 2]), "corrupt_image"),
        (message("ada", b"GIF89a" + bytes(64)), "unsupported_format"),
        (b"{}", "missing_field"),
    ]


def build_messages(frames: int = 24) -> list[Message]:
    """`frames` frames (one-face mostly, some two-face and no-face; JPEG, every 4th PNG) of three
    users, with seven undecodable messages spread among them; message i goes to partition i % 2.
    Last, a near-copy of one of bob's frames (2 px shifted), in its original's partition: the
    near-duplicate check is decided in source order within a partition, whatever the batches."""
    kinds = ["one", "one", "one", "two", "one", "none"]
    images = [make_frame(kinds[i % len(kinds)], 7100 + i).image for i in range(frames)]
    values: list[tuple[bytes, Optional[str]]] = [
        (message(USERS[i % 3], encode(img, "png" if i % 4 == 3 else "jpeg")), None) for i, img in enumerate(images)]
    original = values[1][0]  # bob's, one face
    for k, (value, reason) in enumerate(_undecodable(encode(images[0], "png"))):
        values.insert(3 + k * (len(values) // 6), (value, reason))
    out = [Message(i % PARTITIONS, value, reason) for i, (value, reason) in enumerate(values)]
    partition = next(m.partition for m in out if m.value == original)
    near_copy = np.roll(images[1], (2, 2), axis=(0, 1))
    out.append(Message(partition, message("bob", encode(near_copy, "jpeg")), None))
    start = int(time.time() * 1000)
    return [replace(m, time_ms=start + 100 * i) for i, m in enumerate(out)]


def publish(bootstrap: str, messages: Sequence[Message], topic: str = TOPIC) -> dict[Coords, Message]:
    """Creates `topic` and sends the messages in order, with their timestamps; on a fresh topic the
    coordinates are the same on every broker, so outputs of runs on different brokers compare file
    by file (enrollment status included)."""
    from tests.support.streaming import produce

    cfg = Config(bootstrap_servers=bootstrap, topic=topic)
    assert kafka_clients.ensure_topic(cfg, topic, partitions=PARTITIONS), f"topic {topic} already exists"
    metas = produce(cfg, topic, [(m.partition, None, m.value) for m in messages], [m.time_ms for m in messages])
    coords = {(meta.topic, meta.partition, meta.offset): m for meta, m in zip(metas, messages)}
    expected = {}
    for m in messages:
        expected.setdefault(m.partition, 0)
        expected[m.partition] += 1
    assert {p: sum(1 for c in coords if c[1] == p) for p in expected} == expected
    assert all(c[2] < expected[c[1]] for c in coords), "offsets must start at 0 on a fresh topic"
    return coords


# --- the output --------------------------------------------------------------------------------

@dataclass
class Output:
    files: dict[str, bytes]  # every file of the training set except temp files
    state: dict[str, bytes]  # the state location's users/ and rejected/ (status, examples)
    rows: dict[Coords, tuple]  # manifest rows by coordinates (COMPARED columns)
    raw_rows: int  # manifest rows before deduplication
    temps: list[str] = field(default_factory=list)

    @property
    def crops(self) -> dict[str, bytes]:
        return {k: v for k, v in self.files.items() if k.endswith(".png")}


def _files(root: Path, temps: list[str]) -> dict[str, bytes]:
    files = {}
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        rel = str(path.relative_to(root))
        if not path.is_file():
            continue
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            temps.append(rel)
        else:
            files[rel] = path.read_bytes()
    return files


def snapshot(output_dir: str | Path) -> Output:
    import pyarrow.dataset as ds

    root, state = Path(output_dir), state_of(output_dir)
    temps: list[str] = []
    files = _files(root, temps)
    kept = {f"{sub.name}/{rel}": data for sub in (state.users, state.rejected) for rel, data in _files(sub, temps).items()}
    rows: dict[Coords, tuple] = {}
    raw = 0
    if state.manifest.is_dir():
        for row in ds.dataset(str(state.manifest), format="parquet").to_table().to_pylist():
            raw += 1
            key = (row["topic"], row["partition"], row["offset"])
            value = tuple(row[c] for c in COMPARED)
            assert rows.setdefault(key, value) == value, \
                f"record {key} has two different manifest rows:\n  {rows[key]}\n  {value}"
    return Output(files, kept, rows, raw, temps)


def assert_same_output(got: Output, want: Output) -> None:
    missing, extra = sorted(set(want.files) - set(got.files)), sorted(set(got.files) - set(want.files))
    assert not missing and not extra, f"files missing: {missing}; files that should not exist: {extra}"
    changed = sorted(k for k in want.files if got.files[k] != want.files[k])
    assert not changed, f"files with other bytes: {changed}"
    assert sorted(got.state) == sorted(want.state), f"state files: {sorted(got.state)} != {sorted(want.state)}"
    changed = sorted(k for k in want.state if got.state[k] != want.state[k])
    assert not changed, f"state files with other bytes: {changed}"
    lost, added = sorted(set(want.rows) - set(got.rows)), sorted(set(got.rows) - set(want.rows))
    assert not lost and not added, f"manifest rows missing: {lost}; unexpected: {added}"
    differ = sorted(k for k in want.rows if got.rows[k] != want.rows[k])
    assert not differ, "manifest rows that differ:\n" + "\n".join(
        f"  {k}: {got.rows[k]} != {want.rows[k]}" for k in differ[:5])


def copy_output(src: Path, dst: Path) -> Path:
    """The training set and its state location (both at their default places)."""
    shutil.copytree(src, dst, symlinks=True)
    shutil.copytree(state_of(src).root, state_of(dst).root, symlinks=True)
    return dst


def manifest_coverage(output_dir: str | Path, topic: str = TOPIC, folder: Optional[Path] = None) -> dict[int, int]:
    """partition -> n such that offsets 0..n-1 all have a manifest row (in `folder`, default the
    output's manifest)."""
    import pyarrow.dataset as ds

    folder = folder or state_of(output_dir).manifest
    seen: dict[int, set[int]] = {}
    if folder.is_dir():
        for row in ds.dataset(str(folder), format="parquet").to_table(columns=["topic", "partition", "offset"]).to_pylist():
            if row["topic"] == topic:
                seen.setdefault(row["partition"], set()).add(row["offset"])
    coverage = {}
    for p in range(PARTITIONS):
        n = 0
        while n in seen.get(p, ()):
            n += 1
        coverage[p] = n
    return coverage


def dead_letters(bootstrap: str, topic: str) -> dict[Coords, tuple[str, bytes, dict]]:
    """The dead-letter topic, deduplicated by source coordinates: coords -> (reason, value, headers)."""
    from tests.support.streaming import read_topic

    found: dict[Coords, tuple[str, bytes, dict]] = {}
    for record in read_topic(bootstrap, topic):
        headers = {k: v.decode() for k, v in record.headers}
        coords = (headers["source.topic"], int(headers["source.partition"]), int(headers["source.offset"]))
        entry = (headers["reason"], record.value, headers)
        assert found.setdefault(coords, entry)[:2] == entry[:2], f"{coords} dead-lettered twice, differently"
    return found


def latest_events(bootstrap: str, topic: str) -> dict[str, dict]:
    """The last JSON event per key of a topic (the enrollment events), read to its end offsets
    (a key's events are in one partition, in offset order)."""
    from tests.support.streaming import read_topic

    return {record.key.decode(): json.loads(record.value) for record in read_topic(bootstrap, topic)}


def assert_dead_letters(bootstrap: str, dlq_topic: str, sent: dict[Coords, Message]) -> None:
    """Every undecodable message is on the dead-letter topic, unchanged, with its reason and its
    source coordinates (at least once: duplicates are allowed, and collapse by coordinates)."""
    found = dead_letters(bootstrap, dlq_topic)
    want = {c: (m.dead_reason, m.value) for c, m in sent.items() if m.dead_reason}
    assert {c: entry[:2] for c, entry in found.items()} == want
    assert all(set(h) >= {"reason", "source.topic", "source.partition", "source.offset", "detail"}
               for _, _, h in found.values())


# --- the job -----------------------------------------------------------------------------------

def wait_until(condition: Callable[[], object], timeout_s: float, what: str, job: "Optional[JobProcess]" = None,
               every_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if job is not None and job.proc is not None and job.proc.poll() is not None:
            raise AssertionError(f"the job exited ({job.proc.returncode}) before {what}:\n{job.tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}"
                                 + (f":\n{job.tail()}" if job else ""))
        time.sleep(every_s)


def job_env(code: Path, **extra: str) -> dict[str, str]:
    # No web UI, no progress bar: two cores are shared with the broker and the tests. The driver's
    # JVM options of conf/spark-defaults.conf, which a run started directly does not read.
    submit_args = ["--conf", "spark.ui.enabled=false", "--conf", "spark.ui.showConsoleProgress=false",
                   "--conf", f"{spark_conf.KEY}={spark_conf.driver_java_options()}", "pyspark-shell"]
    env = {**os.environ, "PYSPARK_PYTHON": PYTHON, "PYSPARK_DRIVER_PYTHON": PYTHON, "SPARK_LOCAL_IP": "127.0.0.1",
           "PYTHONPATH": str(code), "PYSPARK_SUBMIT_ARGS": shlex.join(submit_args)}
    env.update(extra)
    return env


# Every test publishes its whole input before the job starts, and the job stops only once idle
# *and* with the group's lag at 0 (driver.idle; unknown while the broker is away), so a short idle
# time cannot end a run early: it is only the tail each run waits after its last batch.
EXIT_WHEN_IDLE_S = 1


def run_args(bootstrap: str, group: str, output_dir: str | Path, rate: int = 3, topic: str = TOPIC,
             starting: str = "committed", extra: Sequence[str] = (),
             exit_when_idle_s: float = EXIT_WHEN_IDLE_S) -> list[str]:
    """The job's flags: batches of 1 s, at most `rate` records per partition each (0: no limit),
    JSON logs; it stops by itself once idle (exit_when_idle_s 0: only when told to)."""
    return ["--bootstrap-servers", bootstrap, "--topic", topic, "--group-id", group, "--output-dir", str(output_dir),
            "--starting-offsets", starting, "--batch-interval-s", "1", "--exit-when-idle", f"{exit_when_idle_s:g}",
            "--max-rate-per-partition", str(rate), "--log-format", "json", *extra]


class JobProcess:
    """The job (`python -m stream_processor run ...`, or any command) in its own session, its
    stdout and stderr in `log_path`. Leaving the `with` block kills whatever is left of it."""

    def __init__(self, code: Path, args: Sequence[str], log_path: Path, command: Optional[Sequence[str]] = None,
                 env: Optional[dict[str, str]] = None):
        self.code = code  # a checkout.code_snapshot: the working folder, on the Python path of driver and workers
        self.command = list(command or [PYTHON, "-m", "stream_processor", "run"]) + list(args)
        self.log_path = log_path
        self.env = env or job_env(code)
        self.proc: Optional[subprocess.Popen] = None

    def __enter__(self) -> "JobProcess":
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(self.command, cwd=self.code, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL to the whole session (the driver, its JVM, the Python workers)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        # The group outlives its leader when a child is slow to die: sweep until it is empty.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.1)

    def wait(self, timeout_s: float) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the job did not stop within {timeout_s:.0f}s:\n{self.tail()}") from None

    def entries(self) -> list[dict]:
        """The job's own log entries (it logs JSON: run_args), Spark's lines left out."""
        return [e for e in map(logs.parse_line, self.log().splitlines()) if e is not None]

    def summaries(self) -> list[BatchSummary]:
        """The summaries of the batches it has processed, in order."""
        return [s for s in map(logs.batch_summary, self.entries()) if s is not None]


def committed_total(bootstrap: str, group: str, topic: str = TOPIC) -> dict[int, int]:
    cfg = Config(bootstrap_servers=bootstrap, topic=topic, group_id=group)
    return {p: o for (t, p), o in kafka_clients.committed_offsets(cfg).items() if t == topic}
