"""Precision first: the face decision, alignment and per-stage cost on held-out frames.

    .venv/bin/python -m benchmarks.accuracy [--n 200] [--seed N] [--set real|samples|both] [--source png|jpeg]

Frames: `real` = benchmarks/real_faces.py (real sharp faces at native resolution: one face,
faces turned in-plane by 5-20 degrees, two faces with the second smaller, cut off or turned,
no face with face-like textures), held-out seeds from 4_000_000 (tuning used 3_000_000+);
`samples` = `stream_processor.samples.make_frame` (one, two, none) from seed 2_000_000.
Each frame is decoded, decided by `FaceDetector.find` and cropped by `align_face` with the
Config defaults, as the job does. Exits 1 when a target is missed.

Figures: one-face frames kept (target >= 95 %), two-face and no-face frames dropped (>= 98.5 %),
every accepted crop on the true face, the turned frames' residual roll (median <= 3, p90 <= 6
degrees), crops in which two detectors that the job does not use find the face again on the crop
alone (>= 99 %): OpenCV's haarcascade_frontalface_default, and uPresent's trainer's own res10 SSD
as its embeddings.py runs it (benchmarks/trainer_detector.py), its box on the face (with crops
grown by 0.2 it often took a corner of the face instead), and ms per frame on one core:
today's detect (`TODAY`: issue 10's baseline settings, 14.8 ms on a quiet core) against detect +
verify + align (<= +5 ms there; on a slower machine the extra is scaled by 14.8 / today's ms).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from stream_processor.align import AlignedCrop, align_face
from stream_processor.config import Config
from stream_processor.crop import crop_face
from stream_processor.detect import DetectorSettings, FaceDetector, FaceFinding, FaceRejection, detector_for
from stream_processor.records import Box

from . import real_faces, trainer_detector

SAMPLES_SEED = 2_000_000
TARGET_KEEP, TARGET_DROP, TARGET_REDETECT = 0.95, 0.985, 0.99
TARGET_ROLL_MEDIAN, TARGET_ROLL_P90, TARGET_EXTRA_MS = 3.0, 6.0, 5.0
TODAY_MS = 14.8  # issue 10's today's detect on one quiet core: the extra is scaled to it
REDETECT_CASCADE = "haarcascade_frontalface_default.xml"
# Issue 10's "today": the detector as it was when its 14.8 ms were measured. The cost target is
# an increment over this, whatever the main pass's settings are now.
TODAY = DetectorSettings(max_side=320, min_face_fraction=0.2, scale_factor=1.1, min_neighbors=3)
# CPU time of this process: with OpenCV on one thread it is the cost on one core.
clock = time.process_time


def on_face(box: Box, truth: Box) -> bool:
    """IoU >= 0.3, or the true face's centre inside the box."""
    cx, cy = truth.x + truth.w / 2, truth.y + truth.h / 2
    if box.x <= cx <= box.x + box.w and box.y <= cy <= box.y + box.h:
        return True
    iw = min(box.x + box.w, truth.x + truth.w) - max(box.x, truth.x)
    ih = min(box.y + box.h, truth.y + truth.h) - max(box.y, truth.y)
    inter = max(0, iw) * max(0, ih)
    return inter / (box.w * box.h + truth.w * truth.h - inter) >= 0.3


def box_in_crop(crop: AlignedCrop, box: Box) -> Box:
    """Where the frame's `box` lands in the crop (its centre moved, its size scaled)."""
    m = crop.transform
    cx, cy = m @ np.array([box.x + box.w / 2, box.y + box.h / 2, 1.0])
    s = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
    return Box(round(cx - box.w * s / 2), round(cy - box.h * s / 2), round(box.w * s), round(box.h * s))


def trainer_takes_the_face(crop: AlignedCrop, box: Box) -> bool:
    """Does uPresent's trainer find a face in the crop, on the face (not a bit of it)?"""
    found = trainer_detector.detect(crop.image)
    return found is not None and on_face(found, box_in_crop(crop, box))


@lru_cache(maxsize=1)
def _today() -> FaceDetector:
    return FaceDetector(TODAY)


@lru_cache(maxsize=1)
def _redetector() -> cv2.CascadeClassifier:
    return cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / REDETECT_CASCADE))


def redetected(crop: np.ndarray) -> bool:
    """Does a detector the job does not use find a face on the crop alone (at least a third of
    the crop wide, as the trainer's SSD needs a sizeable face)?"""
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    side = min(gray.shape)
    faces = _redetector().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=3, minSize=(side // 3, side // 3))
    return len(faces) > 0


def scaled_to_today(today_ms: float, extra_ms: float) -> float:
    """The extra cost on a machine where today's detect takes TODAY_MS, not `today_ms`."""
    return extra_ms * TODAY_MS / today_ms


@dataclass
class Kind:
    frames: int = 0
    accepted: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    failures: list[int] = field(default_factory=list)  # seeds handled wrongly


@dataclass
class Run:
    kinds: dict[str, Kind] = field(default_factory=dict)
    crops: int = 0
    on_face: int = 0
    redetected: int = 0
    trainer_redetected: int = 0  # by uPresent's trainer's detector (trainer_detector.py), on the face
    aligned: int = 0
    residual_roll: list[float] = field(default_factory=list)  # turned frames, accepted
    ms: dict[str, list[float]] = field(default_factory=lambda: {
        "today's detect": [], "find (detect+verify)": [], "align+crop": [], "plain crop": []})

    def rate(self, kind: str, accepted: bool) -> Optional[float]:
        k = self.kinds.get(kind)
        if not k or not k.frames:
            return None
        return (k.accepted if accepted else k.frames - k.accepted) / k.frames

    def checks(self) -> list[tuple[str, bool]]:
        out = []
        for kind, accepted, target in (("one", True, TARGET_KEEP), ("two", False, TARGET_DROP), ("none", False, TARGET_DROP)):
            r = self.rate(kind, accepted)
            if r is not None:
                out.append((f"{kind} {'kept' if accepted else 'dropped'} >= {target:.1%}", r >= target))
        out.append(("every crop on the true face", self.on_face == self.crops))
        if self.residual_roll:
            out.append((f"residual roll median <= {TARGET_ROLL_MEDIAN}", statistics.median(self.residual_roll) <= TARGET_ROLL_MEDIAN))
            out.append((f"residual roll p90 <= {TARGET_ROLL_P90}", float(np.percentile(self.residual_roll, 90)) <= TARGET_ROLL_P90))
        if self.crops:
            for by, n in ((REDETECT_CASCADE, self.redetected), ("the trainer's res10 SSD", self.trainer_redetected)):
                out.append((f"re-detected by {by} >= {TARGET_REDETECT:.0%}", n / self.crops >= TARGET_REDETECT))
        today, extra = self.extra_ms()
        if today:
            out.append((f"detect+verify+align <= today's {TODAY_MS} ms + {TARGET_EXTRA_MS} ms",
                        scaled_to_today(today, extra) <= TARGET_EXTRA_MS))
        return out

    def extra_ms(self) -> tuple[float, float]:
        mean = {k: statistics.fmean(v) * 1e3 if v else 0.0 for k, v in self.ms.items()}
        return mean["today's detect"], mean["find (detect+verify)"] + mean["align+crop"] - mean["today's detect"] - mean["plain crop"]


def evaluate(run: Run, image: np.ndarray, kind: str, faces: tuple[Box, ...], roll: Optional[float], seed: int, cfg: Config) -> None:
    detector = detector_for(cfg)
    t0 = clock()
    _today().detect(image)
    t1 = clock()
    found = detector.find(image)
    t2 = clock()
    run.ms["today's detect"].append(t1 - t0)
    run.ms["find (detect+verify)"].append(t2 - t1)
    k = run.kinds.setdefault(kind, Kind())
    k.frames += 1
    if isinstance(found, FaceRejection):
        k.reasons[found.reason.value] = k.reasons.get(found.reason.value, 0) + 1
        if kind in ("one", "rotated"):
            k.failures.append(seed)
        return
    assert isinstance(found, FaceFinding)
    k.accepted += 1
    if kind in ("two", "none"):
        k.failures.append(seed)
    t0 = clock()
    crop_face(image, found.box, cfg.crop_margin, cfg.crop_size)
    t1 = clock()
    crop = align_face(image, found, cfg.crop_margin, cfg.crop_size)
    t2 = clock()
    run.ms["plain crop"].append(t1 - t0)
    run.ms["align+crop"].append(t2 - t1)
    if kind in ("one", "rotated"):
        run.crops += 1
        run.on_face += on_face(found.box, faces[0])
        run.redetected += redetected(crop.image)
        run.trainer_redetected += trainer_takes_the_face(crop, found.box)
        run.aligned += crop.aligned
        if kind == "rotated" and roll is not None:
            run.residual_roll.append(abs(roll - (crop.roll_deg if crop.aligned else 0.0)))


def _decoded(image: np.ndarray, source: str) -> np.ndarray:
    ok, buf = cv2.imencode(".png" if source == "png" else ".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90] if source == "jpeg" else [])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def run_real(n: int, seed: int, cfg: Config, source: str) -> Run:
    run = Run()
    for kind in real_faces.KINDS:
        for s in range(seed, seed + n):
            case = real_faces.make_case(kind, s)
            evaluate(run, _decoded(case.image, source), kind, case.faces, case.roll, s, cfg)
    return run


def run_samples(n: int, seed: int, cfg: Config, source: str) -> Run:
    from stream_processor.samples import make_frame

    run = Run()
    for kind in ("one", "two", "none"):
        for s in range(seed, seed + n):
            frame = make_frame(kind, s)
            evaluate(run, _decoded(frame.image, source), kind, frame.faces, None, s, cfg)
    return run


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:5.1f}% ({part}/{whole})" if whole else "n/a"


def report(name: str, run: Run) -> bool:
    print(f"== {name}")
    for kind, k in run.kinds.items():
        verb = "kept" if kind in ("one", "rotated") else "dropped"
        good = k.accepted if verb == "kept" else k.frames - k.accepted
        print(f"  {kind:<8} {verb:<8} {_pct(good, k.frames)}   rejections {dict(sorted(k.reasons.items()))}"
              + (f"   wrong seeds {k.failures[:12]}" if k.failures else ""))
    print(f"  crops on the true face: {_pct(run.on_face, run.crops)}; aligned: {_pct(run.aligned, run.crops)}; "
          f"found again on the crop alone by {REDETECT_CASCADE}: {_pct(run.redetected, run.crops)}, "
          f"by the trainer's res10 SSD, on the face: {_pct(run.trainer_redetected, run.crops)}")
    if run.residual_roll:
        rr = run.residual_roll
        print(f"  turned frames, residual roll of the crops: median {statistics.median(rr):.2f} deg, "
              f"p90 {np.percentile(rr, 90):.2f}, max {max(rr):.2f} (n={len(rr)})")
    print("  ms per frame (CPU time, one OpenCV thread):")
    for stage, v in run.ms.items():
        if v:
            print(f"    {stage:<22} {statistics.fmean(v) * 1e3:6.2f} (p50 {statistics.median(v) * 1e3:.2f}, "
                  f"p95 {np.percentile(v, 95) * 1e3:.2f})")
    today, extra = run.extra_ms()
    print(f"    detect+verify+align vs today's detect+crop: {extra:+.2f} ms here, {(today + extra) / today:.2f} x; "
          f"{scaled_to_today(today, extra):+.1f} ms where today's detect takes {TODAY_MS} ms")
    met = True
    for what, ok in run.checks():
        print(f"  {'ok  ' if ok else 'MISS'} {what}")
        met &= ok
    return met


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="frames of each kind")
    parser.add_argument("--seed", type=int, help=f"first seed (default {real_faces.HELD_OUT_SEED} for real, {SAMPLES_SEED} for samples)")
    parser.add_argument("--set", choices=("real", "samples", "both"), default="both")
    parser.add_argument("--source", choices=("png", "jpeg"), default="png",
                        help="the frame the detector sees: decoded PNG, or JPEG at quality 90")
    args = parser.parse_args(argv)
    cfg = Config()
    detector_for(cfg)  # also limits OpenCV to one thread, as on an executor
    met = True
    if args.set in ("real", "both"):
        met &= report("real sharp faces (benchmarks/real_faces.py)",
                      run_real(args.n, args.seed or real_faces.HELD_OUT_SEED, cfg, args.source))
    if args.set in ("samples", "both"):
        met &= report("stream_processor.samples frames", run_samples(args.n, args.seed or SAMPLES_SEED, cfg, args.source))
    print("targets: " + ("met" if met else "MISSED"))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
