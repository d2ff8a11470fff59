"""Bounded memory: the peak RSS of the Python workers while a batch of large frames goes through
the batch function, next to the size of all the frames together. Not a timed benchmark.

    .venv/bin/python -m benchmarks.memory [--frames 200] [--compare 50] [--width 1920 --height 1080]

Builds a JSONL file of `--frames` messages (1920x1080 frames from stream_processor.demo.samples,
PNG and JPEG alternating, ~0.5-4 MB each; `--distinct` different pictures, reused under other
usernames) and runs `replay` over it (the stream's batch function) on local[2], once per size
(`--frames`, and `--compare` for a smaller batch), each in a fresh process so that no worker
carries a high-water mark over. While it runs, and once more before the SparkContext stops, it
reads VmHWM (peak resident set) of every Python worker (the `pyspark.daemon` processes and their
forked workers, descendants of the driver's JVM) from /proc.

Bounded means: the peak of a worker stays at its baseline (interpreter, OpenCV, NumPy) plus a few
frames, whatever the batch size. What makes it so (checked here by the numbers, by design in the
code): `analyze.analyze_all` is a generator (one frame in memory at a time); the record batches that
cross from the JVM are a few MiB (the bridge's PickleBatches: 4 MiB or 1024 records; Spark's
AutoBatchedPickler, ~1-10 MiB, for DataFrame rows; textFile lines one by one for replay); the
shuffle before the writes (`repartitionAndSortWithinPartitions`) holds only the analyses, whose
payload is the ~30 KB crop, never a frame; only manifest rows reach the driver.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

from tests.support.procs import cmdline, descendants

MIB = 1024 * 1024
USERS = 10


def _say(text: str) -> None:
    print(f"[memory {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


# --- /proc ------------------------------------------------------------------------------------

def status_kib(pid: int, key: str) -> Optional[int]:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakSampler(threading.Thread):
    """Polls VmHWM of this process's descendants: Python workers (by pid) and the JVM."""

    def __init__(self, every_s: float = 0.1):
        super().__init__(daemon=True)
        self.every_s = every_s
        self.workers: dict[int, int] = {}  # pid -> VmHWM KiB
        self.jvm = 0
        self._done = threading.Event()

    def sample(self) -> None:
        for pid in descendants(os.getpid()):
            hwm = status_kib(pid, "VmHWM")
            if hwm is None:
                continue
            args = cmdline(pid)
            program = Path(args[0]).name if args else ""
            if program.startswith("python") and any(a.startswith("pyspark.") for a in args):
                self.workers[pid] = max(self.workers.get(pid, 0), hwm)  # pyspark.daemon and its forks
            elif program == "java":
                self.jvm = max(self.jvm, hwm)

    def run(self) -> None:
        while not self._done.wait(self.every_s):
            self.sample()

    def stop(self) -> None:
        self._done.set()
        self.join()
        self.sample()


# --- one measurement (a child process) ------------------------------------------------------------

def measure(input_path: str, output_dir: str) -> dict:
    from stream_processor.config import Config
    from stream_processor.engines.replay import replay

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("memory-benchmark")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.python.worker.reuse", "true").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    sampler = PeakSampler()
    sampler.start()
    started = time.monotonic()
    try:
        summary = replay(spark, input_path, Config(output_dir=output_dir, max_images_per_user=1_000_000))
        seconds = time.monotonic() - started
    finally:
        sampler.stop()  # the last look happens while the workers still live
        spark.stop()
    return {"inputs": summary.inputs, "accepted": summary.accepted, "seconds": round(seconds, 1),
            "worker_peaks_kib": sorted(sampler.workers.values(), reverse=True),
            "jvm_peak_kib": sampler.jvm,
            "driver_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


# --- the input --------------------------------------------------------------------------------

def build_input(folder: Path, frames: int, distinct: int, width: int, height: int) -> tuple[Path, list[int]]:
    """The JSONL file and the size of each frame's image file (PNG and JPEG alternating)."""
    from stream_processor.demo.samples import encode, make_frame, message

    kinds = ("one", "one", "none", "two")
    images = []
    for i in range(distinct):
        image = make_frame(kinds[i % len(kinds)], 5100 + i, width, height).image
        images.append(encode(image, "png") if i % 2 == 0 else encode(image, "jpeg", quality=100))
    sizes = []
    path = folder / f"frames-{frames}.jsonl"
    with open(path, "wb") as out:
        for i in range(frames):
            data = images[i % distinct]
            sizes.append(len(data))
            out.write(message(f"user{i % USERS}", data) + b"\n")
    return path, sizes


def _run_child(input_path: Path, output_dir: Path) -> dict:
    result = subprocess.run([sys.executable, "-m", "benchmarks.memory", "--measure", str(input_path),
                             "--output-dir", str(output_dir)], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parent.parent)
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-5000:])
        raise SystemExit(f"the measurement of {input_path.name} failed ({result.returncode})")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200, help="frames in the batch (default 200)")
    parser.add_argument("--compare", type=int, default=50,
                        help="also measure a batch of this many frames, to show the peak does not grow; 0 = no")
    parser.add_argument("--distinct", type=int, default=20, help="different pictures among the frames (default 20)")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--measure", metavar="JSONL", help=argparse.SUPPRESS)
    parser.add_argument("--output-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.output_dir)))
        return 0

    sizes_wanted = [n for n in (args.compare, args.frames) if n > 0]
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp:
        rows = []
        for n in sizes_wanted:
            _say(f"building {n} frames of {args.width}x{args.height} ({args.distinct} distinct)")
            path, sizes = build_input(Path(tmp), n, min(args.distinct, n), args.width, args.height)
            _say(f"replay of {n} frames ({sum(sizes) / MIB:.0f} MiB of images, {path.stat().st_size / MIB:.0f} MiB "
                 f"of JSON lines) on local[2]")
            result = _run_child(path, Path(tmp) / f"out-{n}")
            rows.append((n, sizes, path.stat().st_size, result))
            path.unlink()

    pixels = args.width * args.height * 3
    print(f"\nPeak RSS (VmHWM) of the Python workers while `replay` runs a batch on local[2]; "
          f"frames {args.width}x{args.height}, PNG and JPEG alternating\n")
    print(f"{'frames':>7} {'images MiB':>11} {'decoded MiB':>12} {'per frame MiB':>14} {'workers':>8} "
          f"{'worker peak MiB':>16} {'peak / images':>14} {'JVM peak MiB':>13} {'seconds':>8}")
    for n, sizes, _, r in rows:
        peak = r["worker_peaks_kib"][0] / 1024 if r["worker_peaks_kib"] else float("nan")
        images = sum(sizes) / MIB
        print(f"{n:>7} {images:>11.0f} {n * pixels / MIB:>12.0f} {images / n:>14.1f} {len(r['worker_peaks_kib']):>8} "
              f"{peak:>16.0f} {peak / images:>14.2f} {r['jvm_peak_kib'] / 1024:>13.0f} {r['seconds']:>8.1f}")
        assert r["inputs"] == n, r
    if len(rows) == 2:
        small, big = (r[3]["worker_peaks_kib"][0] / 1024 for r in rows)
        print(f"\n{rows[1][0] / rows[0][0]:.0f}x the frames: the worker peak went from {small:.0f} to {big:.0f} MiB "
              f"({big - small:+.0f} MiB). All {rows[1][0]} frames together are "
              f"{sum(rows[1][1]) / MIB:.0f} MiB encoded, {rows[1][0] * pixels / MIB:.0f} MiB decoded: "
              "no worker ever held more than a few of them.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
