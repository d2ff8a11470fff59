"""Throughput benchmark: the physical limit, the original design (seed) and the product (pipeline),
on the same frames, for PNG and JPEG, for each core count asked for.

    .venv/bin/python -m benchmarks.bench [--cores 2] [--frames 600] [--formats png jpeg] ...
    make bench BENCH_ARGS="--cores 1 2"

- limit:    stream_processor.output.analyze (analyze, then UserWriter into a temporary folder) in a tight
            loop in N plain processes: no Kafka, no Spark. Frames/s after warm-up.
- seed:     the original design re-created on the same PySpark: every frame collected to the
            driver (DataFrame.collect()) and handled there one by one: Haar cascade loaded per
            frame, PIL decode, full-frame detection (scaleFactor=1.3, minNeighbors=3,
            minSize=(3, 3)), the whole frame written with cv2.imwrite when exactly one face.
- pipeline: the product end to end: a Kafka broker and a standalone master with workers of N
            cores in all (started here on free ports, temporary state), a backlog of frames
            produced to the topic, the job submitted with spark-submit.sh; steady-state frames/s
            from the job's per-batch summary lines (first batch excluded), then end-to-end
            latency (Kafka record timestamp -> crop file mtime) while producing at --load x that
            rate. Once per engine (`--engines`, default both: the DStream and Structured
            Streaming), on the same frames, the limit and seed shared by both rows.

`--stand-in-ms MS` replaces the face decision, in the limit and the job alike, by a stand-in that
spends MS of CPU per frame (benchmarks/stand_in.py): Spark's own cost with a cheap core.

Prints a table and writes benchmarks/results/latest.json. Everything it starts is stopped at the
end, on failure and on Ctrl-C. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import math
import multiprocessing as mp
import os
import pickle
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from stream_processor.operations import logs
from tests.support.broker import LocalBroker
from tests.support.checkout import code_snapshot
from tests.support.cluster import LocalCluster
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / ".local" / "bench"
FORMATS = ("png", "jpeg")
ENGINES = ("dstream", "structured")
FRAME_KINDS = (0.7, 0.15, 0.15)  # one face, two faces, none: samples.mixed_frames weights
NO_CAP = 1_000_000_000  # every one-face frame is written: the cap would turn writes into rejections
# The benchmark cycles its frames with new offsets: the near-duplicate check would refuse every
# round after the first (and leave the latency phase no crop to time), so it is off, limit and job alike.
NO_NEAR_DUPLICATE_CHECK = 0
TOPIC_LABEL = "bench"


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# ---- the machine ------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem_gib = round(kb / 1024 / 1024, 1)
    return {"nproc": os.cpu_count(), "cpu_model": model, "mem_gib": mem_gib, "platform": platform.platform(),
            "python": platform.python_version(), "load_avg": list(os.getloadavg())}


# ---- the frames -------------------------------------------------------------------------------

def encoded_frames(n: int, seed: int) -> dict[str, list[bytes]]:
    """n frames from samples.mixed_frames(n, seed, 0.7, 0.15, 0.15) as PNG and JPEG files;
    cached in .local/bench/ (they take ~60 ms each to build)."""
    import hashlib

    version = hashlib.sha1((ROOT / "stream_processor" / "demo" / "samples.py").read_bytes()).hexdigest()[:10]
    path = CACHE / f"frames-{n}-{seed}-{version}.pkl"
    if path.exists():
        with open(path, "rb") as f:
            return pickle.load(f)
    from stream_processor.demo.samples import encode, mixed_frames

    say(f"building {n} frames (seed {seed}) from scikit-image's faces; cached in {path.relative_to(ROOT)}")
    out: dict[str, list[bytes]] = {"png": [], "jpeg": [], "kind": []}
    for frame in mixed_frames(n, seed, *FRAME_KINDS):
        out["png"].append(encode(frame.image, "png"))
        out["jpeg"].append(encode(frame.image, "jpeg", 90))
        out["kind"].append(frame.kind)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        pickle.dump(out, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(tmp, path)
    return out


def username(i: int, users: int) -> str:
    return f"user{i % users:02d}"


def messages(images: list[bytes], users: int) -> list[bytes]:
    """Kafka values in the video service's format; frame i belongs to user i % users."""
    from stream_processor.demo.samples import message

    return [message(username(i, users), image) for i, image in enumerate(images)]


# ---- limit: the core in N plain processes -------------------------------------------------------

def _chunks(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def python_message(offset: int, value: bytes) -> Any:
    """A well-formed message parsed in Python (json, base64, the username's allowlist): the
    limit's stand-in for the job's SQL step (stream_processor/spark/messages_sql.py), which checks more."""
    import base64

    from stream_processor.records import Message

    doc = json.loads(value)
    return Message(TOPIC_LABEL, 0, offset, None, doc["username"], doc.get("timestamp"),
                   base64.b64decode(doc["imageData"], validate=True), value=value)


def _core_loop(items: list[tuple[int, bytes]], cfg: Any, out_dir: str) -> int:
    """What an executor does with a batch, minus Spark: parse and analyze every frame, then write
    in user/source order (as after the shuffle by user), a fresh writer per chunk."""
    from dataclasses import replace

    from stream_processor.output.analyze import UserWriter, analyze
    from stream_processor.records import ACCEPTED

    accepted = 0
    cfg = replace(cfg, output_dir=out_dir, state_dir=out_dir + "-state")
    for chunk in _chunks(items, 32):
        analyses = [analyze(python_message(i, v), cfg) for i, v in chunk]
        writer = UserWriter(cfg)
        try:
            for a in sorted(analyses, key=lambda a: a.order_key):
                accepted += writer.finish(a).status == ACCEPTED
        finally:
            writer.close()
    return accepted


def _use_stand_in(ms: float) -> None:
    """With --stand-in-ms, this process's core decides with the fixed-cost stand-in."""
    if ms > 0:
        import stream_processor.output.analyze as core

        from benchmarks import stand_in

        stand_in.install(ms, core)


def _limit_worker(k: int, n: int, msgs_path: str, cfg: Any, out_dir: str, warmup: int, min_s: float,
                  stand_in_ms: float, barrier: Any, results: Any) -> None:
    from stream_processor.frames.detect import detector_for

    with open(msgs_path, "rb") as f:
        msgs = pickle.load(f)
    mine = [(i, v) for i, v in enumerate(msgs) if i % n == k]
    detector_for(cfg)  # loads the models; OpenCV gets one thread, as on an executor
    _use_stand_in(stand_in_ms)
    _core_loop(mine[:warmup], cfg, os.path.join(out_dir, f"_warmup{k}"))
    barrier.wait()
    started, cpu = time.perf_counter(), time.process_time()
    def cycled() -> Iterator[tuple[int, bytes]]:  # each round over the frames: new offsets, new files
        for r in itertools.count():
            for i, v in mine:
                yield i + r * len(msgs), v

    frames, done, accepted = cycled(), 0, 0
    while done < len(mine) or time.perf_counter() - started < min_s:
        chunk = list(itertools.islice(frames, 32))
        accepted += _core_loop(chunk, cfg, out_dir)
        done += len(chunk)
    results.put((k, done, accepted, time.perf_counter() - started, time.process_time() - cpu))


def measure_limit(msgs_path: Path, frames: int, procs: int, cfg: Any, tmp: Path, warmup: int,
                  min_s: float = 20.0, stand_in_ms: float = 0.0) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = tmp / f"limit-{procs}-{time.monotonic_ns()}"
    out.mkdir(parents=True)
    barrier, results = ctx.Barrier(procs), ctx.Queue()
    workers = [ctx.Process(target=_limit_worker, daemon=True,
                           args=(k, procs, str(msgs_path), cfg, str(out), warmup, min_s, stand_in_ms, barrier, results))
               for k in range(procs)]
    try:
        for w in workers:
            w.start()
        got = [results.get(timeout=max(600, frames * 2 + 3 * min_s)) for _ in workers]
        for w in workers:
            w.join(30)
    finally:
        for w in workers:
            if w.is_alive():
                w.terminate()
        shutil.rmtree(out, ignore_errors=True)
    done = sum(g[1] for g in got)
    wall = max(g[3] for g in got)
    return {"limit_fps": done / wall, "limit_frames": done, "limit_accepted": sum(g[2] for g in got),
            "limit_seconds": wall, "limit_cpu_ms_per_frame": 1e3 * sum(g[4] for g in got) / done}


def _stage_worker(msgs_path: str, cfg: Any, out_dir: str, count: int, stand_in_ms: float, results: Any) -> None:
    """CPU ms per frame by stage, one process, one OpenCV thread (the limit's per-core view).
    CPU time, not wall time: on a busy machine it stays what a quiet one would show."""
    from stream_processor.frames.align import align_face
    from stream_processor.frames.crop import encode_png
    from stream_processor.frames.detect import FaceRejection, detector_for
    from stream_processor.frames.imaging import decode_image
    from stream_processor.frames.quality import QualitySettings, crop_hash, gate, measure
    from stream_processor.frames.usernames import normalize_username
    from stream_processor.output.storage import UserFolder, crop_name

    with open(msgs_path, "rb") as f:
        msgs = pickle.load(f)[:count]
    detector = detector_for(cfg)
    if stand_in_ms > 0:
        from benchmarks.stand_in import StandInDetector

        detector = StandInDetector(stand_in_ms)
    settings = QualitySettings.of(cfg)
    t = {"parse": 0.0, "decode": 0.0, "detect": 0.0, "gates": 0.0, "crop_write": 0.0}
    folders: dict[str, UserFolder] = {}
    for rnd in range(2):  # the first round warms up
        for k in t:
            t[k] = 0.0
        clock = time.process_time
        for i, value in enumerate(msgs):
            t0 = clock()
            frame = python_message(i, value)
            username = normalize_username(frame.username)
            t1 = clock()
            image = decode_image(frame.image, cfg.max_image_pixels)
            t2 = clock()
            found = detector.find(image)  # BlazeFace proposes, Haar confirms
            t3 = clock()
            gates = 0.0
            if not isinstance(found, FaceRejection):
                face = align_face(image, found, cfg.crop_margin, cfg.crop_size).image
                g0 = clock()
                gate(measure(image, found.box), settings)  # timed only: every one-face frame is written
                crop_hash(face)
                gates = clock() - g0
                folder = folders.get(username)
                if folder is None:
                    folder = folders[username] = UserFolder(out_dir, username, cfg.max_images_per_user)
                folder.write(crop_name(TOPIC_LABEL, rnd, i), encode_png(face))
            t4 = clock()
            t["parse"] += t1 - t0
            t["decode"] += t2 - t1
            t["detect"] += t3 - t2
            t["gates"] += gates
            t["crop_write"] += t4 - t3 - gates
    ms = {k: 1e3 * v / len(msgs) for k, v in t.items()}
    ms["total"] = sum(ms.values())
    results.put(ms)


def measure_stages(msgs_path: Path, cfg: Any, tmp: Path, count: int, stand_in_ms: float = 0.0) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    out = tmp / f"stages-{time.monotonic_ns()}"
    out.mkdir(parents=True)
    results = ctx.Queue()
    w = ctx.Process(target=_stage_worker, args=(str(msgs_path), cfg, str(out), count, stand_in_ms, results), daemon=True)
    try:
        w.start()
        ms = results.get(timeout=600)
        w.join(30)
    finally:
        if w.is_alive():
            w.terminate()
        shutil.rmtree(out, ignore_errors=True)
    return ms


def stand_in_checkout(root: Path, dest: Path, ms: float) -> Path:
    """A copy of `root`'s job whose core decides with benchmarks/stand_in.py's fixed-cost
    stand-in: the job that --stand-in-ms submits. The product's code holds no hook for it."""
    code_snapshot(dest, root)
    shutil.copy2(ROOT / "benchmarks" / "stand_in.py", dest / "stream_processor" / "_stand_in.py")
    with open(dest / "stream_processor" / "output" / "analyze.py", "a") as core:
        core.write(f"\n\nfrom .._stand_in import install as _install  # benchmarks/bench.py --stand-in-ms\n"
                   f"_install({ms!r}, globals())\n")
    return dest


# ---- seed: the original design ------------------------------------------------------------------

SEED_CODE = r'''
import base64, io, json, os, sys, time, uuid
import cv2, numpy as np
from PIL import Image
from pyspark.sql import SparkSession

args = json.loads(sys.argv[1])
cores = args["cores"]
if cores <= (os.cpu_count() or 1):  # N cores of this machine: the driver and OpenCV too
    os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:cores]))
spark = (SparkSession.builder.master(f"local[{cores}]").appName("bench-seed")
         .config("spark.driver.memory", "2g").config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
CASCADE = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
out = args["out"]

def process(row):
    """One frame, as the original driver loop did it."""
    cascade = cv2.CascadeClassifier(CASCADE)  # loaded again for every image
    image = Image.open(io.BytesIO(base64.b64decode(row["imageData"])))
    frame = cv2.cvtColor(np.array(image.convert("RGB")), cv2.COLOR_RGB2BGR)
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    faces = cascade.detectMultiScale(gray, scaleFactor=1.3, minNeighbors=3, minSize=(3, 3))
    if len(faces) == 1:
        folder = os.path.join(out, row["username"])
        os.makedirs(folder, exist_ok=True)
        cv2.imwrite(os.path.join(folder, f"{uuid.uuid4().hex}.jpg"), frame)  # the whole frame
        return 1
    return 0

def batch(path):
    df = spark.read.schema("username string, imageData string, timestamp string").json(path)
    rows = df.collect()  # every frame to the driver
    return len(rows), sum(process(r) for r in rows)

batch(args["warmup"])
started = time.perf_counter()
frames = written = 0
for path in args["files"]:
    n, w = batch(path)
    frames += n
    written += w
elapsed = time.perf_counter() - started
print("SEED_RESULT " + json.dumps({"frames": frames, "written": written, "seconds": elapsed}), flush=True)
spark.stop()
'''


def measure_seed(msgs: list[bytes], cores: int, tmp: Path, frames: int, batch: int, py: str) -> dict[str, Any]:
    work = tmp / f"seed-{cores}-{time.monotonic_ns()}"
    (work / "in").mkdir(parents=True)
    files = []
    chosen = msgs[:frames]
    for b, chunk in enumerate(_chunks(chosen, batch)):
        path = work / "in" / f"batch{b:04d}.json"
        path.write_bytes(b"\n".join(chunk) + b"\n")
        files.append(str(path))
    warm = work / "in" / "warmup.json"
    warm.write_bytes(b"\n".join(msgs[-min(8, len(msgs)):]) + b"\n")
    script = work / "seed.py"
    script.write_text(SEED_CODE)
    arg = json.dumps({"cores": cores, "files": files, "warmup": str(warm), "out": str(work / "out")})
    env = {**os.environ, "PYSPARK_PYTHON": py, "PYSPARK_DRIVER_PYTHON": py}
    proc = subprocess.Popen([py, str(script), arg], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True, cwd=work)
    try:
        stdout, stderr = proc.communicate(timeout=max(900, frames * 5))
    finally:
        if proc.poll() is None:
            _killpg(proc.pid)
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    found = [line for line in stdout.splitlines() if line.startswith("SEED_RESULT ")]
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"the seed run failed (rc {proc.returncode}):\n{stderr[-3000:]}")
    r = json.loads(found[-1].split(" ", 1)[1])
    return {"seed_fps": r["frames"] / r["seconds"], "seed_frames": r["frames"], "seed_written": r["written"],
            "seed_seconds": r["seconds"]}


# ---- services for the pipeline ------------------------------------------------------------------

def _killpg(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def start_broker() -> LocalBroker:
    broker = LocalBroker(heap_opts="-Xmx768m -Xms256m")
    say(f"starting a Kafka broker on {broker.bootstrap}")
    return broker.start()


def start_cluster(tmp: Path, cores: int) -> LocalCluster:
    """A master and workers with `cores` cores in all (two workers when even)."""
    cluster = LocalCluster(tmp / f"spark-{cores}", cores=cores, start_timeout_s=180)
    say(f"starting a local cluster: {cluster.workers} worker(s) x {cores // cluster.workers} core(s) at {cluster.url}")
    return cluster.start()


class JavaProducer:
    """Kafka's Java producer driven through Py4J. kafka-python computes the v2 record batch
    CRC32C in pure Python (~80 ms for a 700 kB PNG message) unless the optional `crc32c`
    package is installed; that would make the benchmark's producer, not the job, the
    bottleneck on a 2-core machine. The Java client costs ~1 ms per message."""

    def __init__(self, bootstrap: str, max_bytes: int) -> None:
        from py4j.java_gateway import GatewayParameters, JavaGateway, launch_gateway
        import pyspark

        jars = Path(pyspark.__file__).parent / "jars"
        cp = [str(p) for p in sorted((ROOT / "jars").glob("kafka-clients-*.jar"))]
        cp += [str(p) for p in sorted(jars.glob("slf4j-api-*.jar"))]
        py4j_jar = next(iter(sorted(jars.glob("py4j-*.jar"))), None)
        if not cp or py4j_jar is None:
            raise RuntimeError("kafka-clients (jars/) or py4j's jar not found: run `make setup`")
        port, self._proc = launch_gateway(jarpath=str(py4j_jar), classpath=os.pathsep.join(cp), die_on_exit=True,
                                          javaopts=["-Xmx2g"], return_proc=True)
        self.gateway = JavaGateway(gateway_parameters=GatewayParameters(port=port, auto_convert=True))
        jvm = self.gateway.jvm
        props = jvm.java.util.Properties()
        for k, v in {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": "5",
                     "max.request.size": str(max_bytes), "buffer.memory": str(256 << 20),
                     "max.block.ms": "120000", "compression.type": "none"}.items():
            props.setProperty(k, v)
        ser = jvm.org.apache.kafka.common.serialization.ByteArraySerializer
        self.jvm = jvm
        self.producer = jvm.org.apache.kafka.clients.producer.KafkaProducer(props, ser(), ser())

    def records(self, topic: str, values: list[bytes]) -> list[Any]:
        """One Java ProducerRecord per value, made once: a send then passes a reference, not the
        value's bytes, through Py4J (a 700 kB frame costs ~10 ms of this process's CPU to pass,
        which would slow the producer on a 2-core machine). No timestamp: the producer stamps
        each send with the current time."""
        make = self.jvm.org.apache.kafka.clients.producer.ProducerRecord
        return [make(topic, v) for v in values]

    def send(self, record: Any) -> Any:
        return self.producer.send(record)

    def flush(self) -> None:
        self.producer.flush()

    @staticmethod
    def metadata(future: Any) -> tuple[int, int, int]:
        md = future.get()
        return md.partition(), md.offset(), md.timestamp()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.producer.close()
        with contextlib.suppress(Exception):
            self.gateway.shutdown()
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)


# ---- CPU accounting: robust to a busy machine, unlike frames/s ----------------------------------

_CLK = os.sysconf("SC_CLK_TCK")
CPU_GROUPS = (
    ("executor_jvm", ("CoarseGrainedExecutorBackend",)),
    ("driver_jvm", ("deploy.SparkSubmit",)),  # before driver_python: its command line names the launcher too
    ("executor_python", ("pyspark.daemon", "pyspark.worker")),
    ("driver_python", ("run_stream_processor.py",)),
    ("spark_daemons", ("deploy.worker.Worker", "deploy.master.Master")),
    ("broker", ("kafka.Kafka",)),
)


def _proc_table() -> dict[int, tuple[int, float, str]]:
    """pid -> (ppid, CPU seconds of it and its reaped children, command line)."""
    table = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        f = stat.rsplit(")", 1)[1].split()
        table[int(d.name)] = (int(f[1]), sum(int(x) for x in f[11:15]) / _CLK, cmd)
    return table


def cpu_sample(roots: list[int]) -> dict[str, float]:
    """CPU seconds so far of the processes under `roots`, by group (CPU_GROUPS)."""
    procs = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    totals = {g: 0.0 for g, _ in CPU_GROUPS}
    seen: set[int] = set()
    todo = [r for r in roots if r in procs]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        _, cpu, cmd = procs[pid]
        group = next((g for g, keys in CPU_GROUPS if any(k in cmd for k in keys)), None)
        if group is not None:
            totals[group] += cpu  # a live child's CPU is its own; a reaped one's is in its parent's
        todo.extend(children.get(pid, []))
    return totals


@dataclass
class BatchLine:
    logged: float  # epoch seconds when the driver logged the summary (after the batch's work)
    inputs: int
    accepted: int
    seconds: float


class Job:
    """spark-submit.sh running the job; its output goes to a file that a thread parses."""

    def __init__(self, cmd: list[str], env: dict[str, str], log: Path, cpu_roots: Callable[[], list[int]]) -> None:
        self.log = log
        self.batches: list[BatchLine] = []
        self.cpu: list[dict[str, float]] = []  # CPU seconds by group when each batch line was read
        self._cpu_roots = cpu_roots
        self._out = open(log, "wb")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, cwd=ROOT)
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._follow, daemon=True)
        self._reader.start()

    def _follow(self) -> None:
        with open(self.log, "r", errors="replace") as f:
            buf = ""
            while True:
                chunk = f.readline()
                if not chunk:
                    if self._stop.is_set():
                        return
                    time.sleep(0.1)
                    continue
                buf += chunk
                if not buf.endswith("\n"):
                    continue
                entry = logs.parse_line(buf)
                buf = ""
                summary = logs.batch_summary(entry) if entry else None
                if summary is not None:
                    self.cpu.append(cpu_sample([self.proc.pid] + self._cpu_roots()))
                    self.batches.append(BatchLine(logs.logged_at(entry).timestamp(), summary.inputs,
                                                  summary.accepted, summary.seconds))

    def consumed(self) -> int:
        return sum(b.inputs for b in self.batches)

    def wait_consumed(self, n: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.consumed() < n:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the job exited (rc {self.proc.returncode}) after {self.consumed()} of {n} "
                                   f"records:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the job consumed {self.consumed()} of {n} records in {timeout:.0f} s:\n{self.tail()}")
            time.sleep(0.2)

    def tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self, grace: float = 90.0) -> None:
        """SIGTERM to spark-submit.sh (it asks the driver to stop gracefully), then the hard way."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace)
        if self.proc.poll() is None:
            for pid in _submit_sessions(self.proc.pid):
                _killpg(pid)
            _killpg(self.proc.pid)
            self.proc.wait(30)
        self._stop.set()
        self._reader.join(5)
        self._out.close()


def _submit_sessions(parent: int) -> list[int]:
    """Children of spark-submit.sh that lead their own session (the spark-submit JVM)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            ppid, sid = int(fields[1]), int(fields[3])
            pid = int(stat.parent.name)
            if ppid == parent and sid == pid:
                found.append(pid)
    return found


def steady_rate(batches: list[BatchLine], cpu: list[dict[str, float]], warmup_s: float) -> dict[str, Any]:
    """Frames/s in steady state: the records of the batches that ended more than `warmup_s`
    after the first batch (never the first batch: Python workers, cascades, JIT), over the time
    from the end of the batch before them to the end of the last one (a short remainder batch
    at the end is left out); and the CPU time that the job's processes and the broker spent
    per frame meanwhile."""
    start = 0
    while start + 1 < len(batches) and batches[start + 1].logged < batches[0].logged + warmup_s:
        start += 1
    steady = batches[start + 1:]
    if steady and len(steady) > 2 and steady[-1].inputs < statistics.median(b.inputs for b in steady) / 2:
        steady = steady[:-1]
    if len(steady) < 2:
        raise RuntimeError(f"only {len(steady)} batches after the warm-up: give a longer --pipeline-seconds "
                           "or a smaller --max-rate-per-partition")
    end = start + len(steady)
    span = batches[end].logged - batches[start].logged
    frames = sum(b.inputs for b in steady)
    used = {g: cpu[end][g] - cpu[start][g] for g in cpu[start]}
    return {"pipeline_fps": frames / span, "pipeline_busy_fps": frames / sum(b.seconds for b in steady),
            "pipeline_batches": len(steady), "pipeline_warmup_batches": start + 1,
            "pipeline_frames_timed": frames, "pipeline_seconds": span,
            "pipeline_cpu_ms_per_frame": 1e3 * sum(used.values()) / frames,
            "pipeline_cpu_ms_by_process": {g: round(1e3 * v / frames, 2) for g, v in used.items()},
            "batch_sizes": [b.inputs for b in batches], "batch_seconds": [round(b.seconds, 2) for b in batches]}


def percentile(values: list[float], p: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values), p))


@dataclass
class PipelineSettings:
    batch_interval_s: float
    partitions: int
    max_rate_per_partition: int
    latency_s: float
    load: float
    backlog: int = 0  # records in the backlog (the frames, cycled); 0 = one of each
    warmup_s: float = 20.0
    confs: list[str] = field(default_factory=list)
    job_args: list[str] = field(default_factory=list)
    root: Path = ROOT  # the checkout whose spark-submit.sh (and so whose code) is submitted
    engine: str = "dstream"


def measure_pipeline(fmt: str, cores: int, msgs: list[bytes], users: int, s: PipelineSettings, broker: LocalBroker,
                     cluster: LocalCluster, producer: JavaProducer, tmp: Path, py: str, keep_logs: bool,
                     result: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Fills and returns `result` as it goes: an interrupted run keeps what was measured."""
    from stream_processor.config import Config
    from stream_processor.kafka import clients as kafka_clients
    from stream_processor.output.storage import crop_name

    topic = f"bench-{fmt}-c{cores}-{s.engine}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    cfg = Config(bootstrap_servers=broker.bootstrap, topic=topic, group_id=topic)
    kafka_clients.ensure_topic(cfg, topic, partitions=s.partitions)
    kafka_clients.ensure_topic(cfg, cfg.dead_letter_topic)
    backlog = max(len(msgs), s.backlog)
    say(f"{fmt}: producing a backlog of {backlog} records ({len(msgs)} frames, cycled) to {topic} "
        f"({s.partitions} partitions)")
    records = producer.records(topic, msgs)
    for chunk in _chunks(list(range(backlog)), 500):
        futures = [producer.send(records[i % len(msgs)]) for i in chunk]
        producer.flush()
        for f in futures:
            producer.metadata(f)
    out = tmp / f"out-{topic}"
    log = tmp / f"job-{topic}.log"
    ui_port = free_port()
    cmd = [str(s.root / "spark-submit.sh"), "--master", cluster.url, "--conf", f"spark.ui.port={ui_port}"]
    for c in s.confs:
        cmd += ["--conf", c]
    cmd += ["--", "--bootstrap-servers", broker.bootstrap, "--topic", topic, "--group-id", topic,
            "--starting-offsets", "earliest", "--output-dir", str(out), "--batch-interval-s", str(s.batch_interval_s),
            "--max-rate-per-partition", str(s.max_rate_per_partition), "--max-images-per-user", str(NO_CAP),
            "--min-crop-distance", str(NO_NEAR_DUPLICATE_CHECK),
            "--exit-when-idle", "120", "--log-format", "json", "--engine", s.engine] + s.job_args
    env = {**cluster.env, "PYSPARK_PYTHON": py, "PYSPARK_DRIVER_PYTHON": py, "STOP_GRACE_S": "60"}
    say(f"{fmt}: submitting the job, {s.engine} engine (batch interval {s.batch_interval_s} s, maxRatePerPartition "
        f"{s.max_rate_per_partition}); log {log}")
    job = Job(cmd, env, log, lambda: cluster.pids() + broker.pids())
    result = {} if result is None else result
    result.update({"topic_partitions": s.partitions, "max_rate_per_partition": s.max_rate_per_partition,
                   "pipeline_backlog": backlog, "pipeline_warmup_s": s.warmup_s})
    try:
        job.wait_consumed(backlog, timeout=300 + backlog)
        rate = steady_rate(list(job.batches), list(job.cpu), s.warmup_s)
        result.update(rate)
        result["pipeline_accepted"] = sum(b.accepted for b in job.batches)
        say(f"{fmt}: pipeline {rate['pipeline_fps']:.1f} frames/s over {rate['pipeline_batches']} batches "
            f"(busy {rate['pipeline_busy_fps']:.1f}); batch sizes {rate['batch_sizes']}; "
            f"CPU ms/frame {rate['pipeline_cpu_ms_per_frame']:.1f} {rate['pipeline_cpu_ms_by_process']}")
        if s.latency_s > 0:
            result.update(_latency(fmt, topic, records, users, s, job, producer, out, rate["pipeline_fps"], crop_name))
    finally:
        job.stop()
        result["job_rc"] = job.proc.returncode
        if keep_logs:
            result["job_log"] = str(log)
    shutil.rmtree(out, ignore_errors=True)
    return result


def _latency(fmt: str, topic: str, msgs: list[Any], users: int, s: PipelineSettings, job: Job,
             producer: JavaProducer, out: Path, max_fps: float, crop_name: Callable) -> dict[str, Any]:
    rate = s.load * max_fps
    count = max(1, int(rate * s.latency_s))
    say(f"{fmt}: latency: producing {count} frames at {rate:.1f}/s ({s.load:.0%} of the measured maximum)")
    before = job.consumed()
    sent: list[tuple[int, Any]] = []
    started = time.monotonic()
    start_wall = time.time()
    for j in range(count):
        due = started + j / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        i = j % len(msgs)
        sent.append((i, producer.send(msgs[i])))
    sending_s = time.monotonic() - started
    producer.flush()
    meta = [(i, *producer.metadata(f)) for i, f in sent]
    job.wait_consumed(before + count, timeout=120 + count)
    time.sleep(1.0)
    lat = []
    skip_until = start_wall + 2 * s.batch_interval_s  # the switch from the backlog
    for i, partition, offset, ts_ms in meta:
        if ts_ms / 1000 < skip_until:
            continue
        path = out / username(i, users) / crop_name(topic, partition, offset)
        with contextlib.suppress(FileNotFoundError):
            lat.append(path.stat().st_mtime - ts_ms / 1000)
    if not lat:
        raise RuntimeError("no crops found for the latency phase")
    return {"latency_p50_s": percentile(lat, 50), "latency_p95_s": percentile(lat, 95),
            "latency_max_s": max(lat), "latency_samples": len(lat), "latency_rate_fps": rate,
            "latency_produced_fps": count / sending_s}


# ---- the run ------------------------------------------------------------------------------------

def _fmt(v: Any, spec: str = ".1f") -> str:
    return "-" if v is None else format(v, spec)


def table(rows: list[dict[str, Any]], batch_interval: float) -> str:
    head = (f"{'cores':>5} {'fmt':<5} {'engine':<10} {'limit':>7} {'seed':>6} {'pipeline':>8} {'vs limit':>8} {'vs seed':>7} "
            f"{'p50 s':>6} {'p95 s':>6}   ms/frame: parse decode detect gates crop+write")
    lines = [f"frames/s; latency at {rows[0].get('load', 0.7) if rows else 0.7:.0%} of the pipeline's maximum, "
             f"batch interval {batch_interval} s", head]
    for r in rows:
        st = r.get("stage_ms") or {}
        lines.append(
            f"{r['cores']:>5} {r['format']:<5} {r.get('engine', '-'):<10} {_fmt(r.get('limit_fps_mean')):>7} {_fmt(r.get('seed_fps')):>6} "
            f"{_fmt(r.get('pipeline_fps')):>8} {_fmt(r.get('pipeline_vs_limit'), '.2f'):>8} "
            f"{_fmt(r.get('pipeline_vs_seed'), '.1f'):>7} {_fmt(r.get('latency_p50_s'), '.2f'):>6} "
            f"{_fmt(r.get('latency_p95_s'), '.2f'):>6}   "
            f"{_fmt(st.get('parse'), '5.1f')} {_fmt(st.get('decode'), '6.1f')} {_fmt(st.get('detect'), '6.1f')} "
            f"{_fmt(st.get('gates'), '5.1f')} {_fmt(st.get('crop_write'), '10.1f')}")
    lines += ["CPU ms per frame: the limit (mean of before and after), the pipeline, Spark's own (pipeline less the "
              "local broker less the limit), the limit's share of the pipeline's CPU (cpu_efficiency), by process",
              f"{'cores':>5} {'fmt':<5} {'engine':<10} {'limit':>6} {'pipeline':>8} {'spark own':>9} {'efficiency':>10}   by process"]
    for r in rows:
        lines.append(
            f"{r['cores']:>5} {r['format']:<5} {r.get('engine', '-'):<10} {_fmt(r.get('limit_cpu_ms_per_frame_mean'), '.1f'):>6} "
            f"{_fmt(r.get('pipeline_cpu_ms_per_frame'), '.1f'):>8} {_fmt(r.get('spark_own_cpu_ms_per_frame'), '.1f'):>9} "
            f"{_fmt(r.get('cpu_efficiency'), '.2f'):>10}   {r.get('pipeline_cpu_ms_by_process', '')}")
    return "\n".join(lines)


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.splitlines()[0])
    p.add_argument("--cores", type=int, nargs="+", default=[os.cpu_count() or 2],
                   help="core counts to measure: limit with N processes, seed on local[N], pipeline on a cluster of N cores")
    p.add_argument("--frames", type=int, default=600, help="frames (default 600)")
    p.add_argument("--formats", nargs="+", choices=FORMATS, default=list(FORMATS))
    p.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES), help="the job's engines, each a pipeline row")
    p.add_argument("--seed", type=int, default=7, help="seed of samples.mixed_frames")
    p.add_argument("--users", type=int, default=8, help="frame i belongs to user i %% USERS")
    p.add_argument("--only", nargs="+", choices=("limit", "seed", "pipeline"), default=["limit", "seed", "pipeline"])
    p.add_argument("--warmup", type=int, default=10, help="frames each limit process handles before timing")
    p.add_argument("--limit-seconds", type=float, default=20.0,
                   help="the limit loops over its frames (new offsets each round) for at least this long")
    p.add_argument("--stage-frames", type=int, default=120, help="frames for the ms-per-stage breakdown")
    p.add_argument("--seed-frames", type=int, default=150, help="frames the seed handles (it is slow), of the same frames")
    p.add_argument("--seed-batch", type=int, default=50, help="frames per collect() in the seed")
    p.add_argument("--batch-interval", type=float, default=5.0,
                   help="the job's batch interval, s (default 5, the product's default)")
    p.add_argument("--partitions", type=int, default=0, help="topic partitions; 0 = the core count")
    p.add_argument("--max-rate-per-partition", type=int, default=0,
                   help="the job's maxRatePerPartition; 0 = 1.5 x the limit's rate / partitions")
    p.add_argument("--pipeline-seconds", type=float, default=60.0,
                   help="steady-state time the backlog should last (frames cycled; sized by the limit's rate)")
    p.add_argument("--warmup-seconds", type=float, default=20.0,
                   help="pipeline batches ending this soon after the first one are warm-up (as is the first)")
    p.add_argument("--latency-seconds", type=float, default=40.0, help="length of the latency phase; 0 skips it")
    p.add_argument("--load", type=float, default=0.7, help="latency phase rate as a share of the measured maximum")
    p.add_argument("--limit-fps", type=float, default=0.0, help="with --only pipeline: the rate to size batches by")
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark conf for the job")
    p.add_argument("--job-args", default="", help="extra job flags, one string, e.g. '--scale-factor 1.2'")
    p.add_argument("--stand-in-ms", type=float, default=0.0,
                   help="replace the face decision, in the limit and the job alike, by a stand-in that spends this many "
                        "ms of CPU per frame and always finds one face: Spark's own cost with a cheap core")
    p.add_argument("--root", type=Path, default=ROOT,
                   help="submit the job from this checkout (to compare versions; default: this one)")
    p.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (job logs)")
    return p.parse_args(argv)


def attempt(row: dict[str, Any], what: str, measure: Callable[[], dict[str, Any]]) -> bool:
    """Runs one measurement into `row`; a failure is recorded there (and printed), not raised."""
    try:
        row.update(measure())
        return True
    except Exception as exc:  # noqa: BLE001 - one failed measurement must not lose the others
        text = f"{type(exc).__name__}: {exc}"
        row.setdefault("errors", {})[what] = text[-4000:]
        say(f"{row['format']}, {row['cores']} cores: {what} FAILED: {text[-2000:]}")
        return False


def _on_sigterm(*_: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    sys.path.insert(0, str(ROOT))
    from stream_processor.config import Config

    py = str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
    cfg = Config(max_images_per_user=NO_CAP, min_crop_distance=NO_NEAR_DUPLICATE_CHECK)
    info = machine()
    say(f"machine: {info['nproc']} cores, {info['cpu_model']}, load average {info['load_avg']}")
    frames = encoded_frames(args.frames, args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    rows: list[dict[str, Any]] = []
    report: dict[str, Any] = {
        "machine": info, "started": datetime.now().isoformat(timespec="seconds"), "frames": args.frames,
        "frame_seed": args.seed, "frame_kinds": dict(zip(("one", "two", "none"), FRAME_KINDS)), "users": args.users,
        "cores": args.cores, "formats": args.formats, "engines": args.engines, "batch_interval_s": args.batch_interval, "load": args.load,
        "detector": {k: getattr(cfg, k) for k in ("min_face_fraction", "face_score", "other_face_score", "scale_factor", "min_neighbors")},
        "job_confs": args.conf, "job_args": args.job_args, "stand_in_ms": args.stand_in_ms, "results": rows}
    root = args.root.resolve()
    if args.stand_in_ms > 0:
        say(f"the face decision replaced by a stand-in of {args.stand_in_ms} ms of CPU per frame (--stand-in-ms)")
    interrupted = False
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: None if args.keep else shutil.rmtree(tmp, ignore_errors=True))
        try:
            msgs = {fmt: messages(frames[fmt], args.users) for fmt in args.formats}
            paths = {}
            for fmt in args.formats:
                paths[fmt] = tmp / f"messages-{fmt}.pkl"
                with open(paths[fmt], "wb") as f:
                    pickle.dump(msgs[fmt], f, protocol=pickle.HIGHEST_PROTOCOL)
            broker = producer = None
            if "pipeline" in args.only:
                broker = start_broker()
                stack.callback(broker.stop)
                producer = JavaProducer(broker.bootstrap, cfg.max_message_bytes + (1 << 20))
                stack.callback(producer.close)
            if args.stand_in_ms > 0 and "pipeline" in args.only:
                root = stand_in_checkout(root, tmp / "stand-in-checkout", args.stand_in_ms)
            for cores in args.cores:
                cluster = None
                if "pipeline" in args.only:
                    try:
                        cluster = start_cluster(tmp, cores)
                        stack.callback(cluster.stop)
                    except Exception as exc:  # noqa: BLE001 - recorded in the rows, the run goes on
                        say(f"the cluster of {cores} cores did not start: {exc}")
                        cluster = exc
                for fmt in args.formats:
                    row: dict[str, Any] = {"cores": cores, "format": fmt, "frames": args.frames, "load": args.load,
                                           "batch_interval_s": args.batch_interval, "engine": args.engines[0]}
                    rows.append(row)
                    limit = partial(measure_limit, paths[fmt], args.frames, cores, cfg, tmp, args.warmup, args.limit_seconds,
                                    args.stand_in_ms)
                    if "limit" in args.only:
                        # attempt() calls each closure at once, inside this iteration (B023 does not apply).
                        if attempt(row, "stages", lambda: {"stage_ms": measure_stages(  # noqa: B023
                                paths[fmt], cfg, tmp, min(args.stage_frames, args.frames), args.stand_in_ms)}):  # noqa: B023
                            say(f"{fmt}: CPU ms per frame by stage: "
                                + ", ".join(f"{k} {v:.1f}" for k, v in row["stage_ms"].items()))
                        if attempt(row, "limit", limit):
                            say(f"{fmt}: limit {row['limit_fps']:.1f} frames/s with {cores} processes, "
                                f"CPU {row['limit_cpu_ms_per_frame']:.1f} ms/frame")
                    if "seed" in args.only:
                        if attempt(row, "seed", lambda: measure_seed(msgs[fmt], cores, tmp, min(args.seed_frames, args.frames),  # noqa: B023
                                                                     args.seed_batch, py)):
                            say(f"{fmt}: seed {row['seed_fps']:.1f} frames/s")
                    if "pipeline" in args.only:
                        partitions = args.partitions or cores
                        sizing = row.get("limit_fps") or args.limit_fps or 30.0 * cores
                        rate = args.max_rate_per_partition or max(1, math.ceil(1.5 * sizing / partitions))
                        first = rate * partitions * args.batch_interval
                        shared = dict(row)  # the limit, stages and seed: one measurement for every engine
                        for k, engine in enumerate(args.engines):
                            if k > 0:
                                row = {**shared, "engine": engine}
                                rows.append(row)
                            settings = PipelineSettings(
                                batch_interval_s=args.batch_interval, partitions=partitions, max_rate_per_partition=rate,
                                latency_s=args.latency_seconds, load=args.load, confs=args.conf,
                                job_args=shlex.split(args.job_args), root=root, engine=engine,
                                backlog=int(first + sizing * (args.warmup_seconds + args.pipeline_seconds)),
                                warmup_s=args.warmup_seconds)

                            def pipeline() -> dict[str, Any]:
                                if isinstance(cluster, Exception):  # noqa: B023 - attempt() calls it at once
                                    raise RuntimeError(f"no cluster: {cluster}")  # noqa: B023
                                return measure_pipeline(fmt, cores, msgs[fmt], args.users, settings, broker, cluster,  # noqa: B023
                                                        producer, tmp, py, args.keep, result=row)  # noqa: B023
                            attempt(row, f"pipeline ({engine})", pipeline)
                    if "limit" in args.only and "pipeline" in args.only and "limit_fps" in row:
                        # This machine's speed drifts by 10-20% within minutes: the limit again,
                        # right after the pipelines, and each pipeline compared with the mean of both.
                        if attempt(row, "limit after", lambda: {f"{k}_after": v for k, v in limit().items()}):  # noqa: B023
                            say(f"{fmt}: limit after the pipeline {row['limit_fps_after']:.1f} frames/s, "
                                f"CPU {row['limit_cpu_ms_per_frame_after']:.1f} ms/frame")
                            for other in rows:
                                if (other["cores"], other["format"]) == (cores, fmt):
                                    other.update({k: v for k, v in row.items() if k.endswith("_after")})
                if isinstance(cluster, LocalCluster):
                    cluster.stop()
        except KeyboardInterrupt:
            interrupted = True
            say("interrupted: stopping what the benchmark started")
    for row in rows:
        for key in ("limit_fps", "limit_cpu_ms_per_frame"):  # before and, when measured, after the pipeline
            if row.get(key):
                row[f"{key}_mean"] = statistics.fmean([row[key], row.get(f"{key}_after") or row[key]])
        if row.get("pipeline_fps") and row.get("limit_fps"):
            row["pipeline_vs_limit"] = row["pipeline_fps"] / row["limit_fps_mean"]
            row["pipeline_vs_limit_before"] = row["pipeline_fps"] / row["limit_fps"]
        if row.get("pipeline_cpu_ms_per_frame") and row.get("limit_cpu_ms_per_frame"):
            row["cpu_efficiency"] = row["limit_cpu_ms_per_frame_mean"] / row["pipeline_cpu_ms_per_frame"]
            # Spark's own: what the pipeline spends beyond the core's work, the local broker left out
            broker = row.get("pipeline_cpu_ms_by_process", {}).get("broker", 0.0)
            row["spark_own_cpu_ms_per_frame"] = row["pipeline_cpu_ms_per_frame"] - broker - row["limit_cpu_ms_per_frame_mean"]
        if row.get("pipeline_fps") and row.get("seed_fps"):
            row["pipeline_vs_seed"] = row["pipeline_fps"] / row["seed_fps"]
    for fmt in args.formats:  # the largest core count's row per format, at the top level too
        done = [r for r in rows if r["format"] == fmt]
        if done:
            report[fmt] = max(done, key=lambda r: r["cores"])
    report["machine"]["load_avg_end"] = list(os.getloadavg())
    report["finished"] = datetime.now().isoformat(timespec="seconds")
    report["interrupted"] = interrupted
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(table(rows, args.batch_interval))
    print(f"written: {args.output}")
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
