"""Quality gates and near-duplicate hash on real faces degraded by known amounts.

    .venv/bin/python -m benchmarks.gates [--split held-out|calibration] [--per-person 24]

Clean frames: `samples.person_frames` of each person of the split (sharp real faces at native
resolution, downscaled or mildly enlarged into 640x480 frames), JPEG quality 90. The people are
split in two: `CALIBRATION` tuned the defaults in config.py's [quality] section, the rest
(held out) checks them. From each clean frame one degraded copy per kind, by a known amount
drawn from the ranges below. Each frame goes through the job's detector
(`detect.detector_for(cfg).detect`); a frame reaches the gates when it holds exactly one box and
that box is on the true face. Then `quality.measure` + `quality.gate`, and for the clean frames
that pass, `quality.crop_hash` of `crop.crop_face(image, box, cfg.crop_margin, cfg.crop_size)`.
Prints the share rejected per kind, the near-duplicate rates and the CPU ms per frame of
measure + gate + hash (one OpenCV thread).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import dataclass
from typing import Callable, Optional

import cv2
import numpy as np

from stream_processor import quality
from stream_processor.config import Config, load_config
from stream_processor.crop import crop_face
from stream_processor.detect import detector_for, limit_opencv_threads
from stream_processor.records import Box, Reason
from stream_processor.samples import SampleFrame, exposed, motion_blurred, people, person_frames

# The people the defaults were calibrated on; everyone else is held out. Taken alternately from
# the people in order of their face's mean grey in the photo (58 to 159), so that both halves hold
# dim and bright faces, dark and light skin.
CALIBRATION = ("sample5-0", "sample1-0", "sample6-0", "sample4-1", "sample3-0", "sample6-3", "sample3-2", "sample3-1", "astronaut")

# Degradations, by known amounts. Blur is relative to the face's size (what a recognizer sees
# at any distance); exposure is a gain on the pixel values, as an exposure error would give.
GAUSS_SIGMA = (0.02, 0.05)  # x the face's side, px
MOTION_LENGTH = (0.08, 0.2)  # x the face's side, px, at any angle
DARK_GAIN = (0.12, 0.3)  # -1.7 to -3 EV, then sensor noise sigma 2-4
BRIGHT_GAIN = (2.2, 4.0)  # +1.1 to +2 EV, clipped at 255
# Near-copies of a kept frame: what a registration video gives 1/30 s later.
JITTER_SHIFT, JITTER_SCALE, JITTER_GAIN, JITTER_JPEG = 3, 0.03, 0.08, (70, 95)
CLEAN_JPEG = 90


def jpeg(image: np.ndarray, quality_: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality_)])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def blurred(frame: SampleFrame, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    side = max(frame.faces[0].w, frame.faces[0].h)
    if rng.random() < 0.5:
        sigma = side * rng.uniform(*GAUSS_SIGMA)
        return cv2.GaussianBlur(frame.image, (0, 0), sigma), f"gaussian sigma={sigma:.1f}px"
    length = side * rng.uniform(*MOTION_LENGTH)
    return motion_blurred(frame.image, length, rng.uniform(0, 180)), f"motion {length:.0f}px"


def underexposed(frame: SampleFrame, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    g = rng.uniform(*DARK_GAIN)
    return exposed(frame.image, g, rng.uniform(2, 4), int(rng.integers(1 << 30))), f"gain {g:.2f}"


def overexposed(frame: SampleFrame, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    g = rng.uniform(*BRIGHT_GAIN)
    return exposed(frame.image, g), f"gain {g:.2f}"


DEGRADATIONS: dict[str, tuple[Callable[[SampleFrame, np.random.Generator], tuple[np.ndarray, str]], Reason]] = {
    "blurred": (blurred, Reason.BLURRY),
    "under-exposed": (underexposed, Reason.UNDEREXPOSED),
    "over-exposed": (overexposed, Reason.OVEREXPOSED),
}


def jittered(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A near-copy: shifted <= 3 px, scaled +-3 % about the centre, brightness +-8 %, JPEG 70-95."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, rng.uniform(1 - JITTER_SCALE, 1 + JITTER_SCALE))
    m[:, 2] += rng.integers(-JITTER_SHIFT, JITTER_SHIFT + 1, size=2)
    moved = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return jpeg(exposed(moved, rng.uniform(1 - JITTER_GAIN, 1 + JITTER_GAIN)), int(rng.integers(JITTER_JPEG[0], JITTER_JPEG[1] + 1)))


def on_face(box: Box, face: Box) -> bool:
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    return box.x <= cx <= box.x + box.w and box.y <= cy <= box.y + box.h


@dataclass
class Result:
    kind: str
    person: str
    source: str
    detail: str
    box: Optional[Box]  # None: did not reach the gates (no box, several, or not on the face)
    scores: Optional[quality.QualityScores] = None
    reason: Optional[Reason] = None
    image: Optional[np.ndarray] = None


def split_people(split: str) -> list[str]:
    if split == "calibration":
        return [p for p in people() if p in CALIBRATION]
    return [p for p in people() if p not in CALIBRATION]


def run(cfg: Config, split: str, per_person: int, seed: int) -> dict[str, list[Result]]:
    detect = detector_for(cfg).detect
    settings = quality.QualitySettings.of(cfg)
    rng = np.random.default_rng(seed)
    out: dict[str, list[Result]] = {k: [] for k in ("clean", *DEGRADATIONS)}

    def check(kind: str, frame: SampleFrame, image: np.ndarray, detail: str) -> None:
        boxes = detect(image)
        if len(boxes) != 1 or not on_face(boxes[0], frame.faces[0]):
            out[kind].append(Result(kind, frame.people[0], frame.sources[0], detail, None))
            return
        scores = quality.measure(image, boxes[0])
        out[kind].append(Result(kind, frame.people[0], frame.sources[0], detail, boxes[0], scores, quality.gate(scores, settings), image))

    for person in split_people(split):
        for frame in person_frames(person, per_person, seed):
            check("clean", frame, jpeg(frame.image, CLEAN_JPEG), "")
            for kind, (degrade, _) in DEGRADATIONS.items():
                image, detail = degrade(frame, rng)
                check(kind, frame, jpeg(image, CLEAN_JPEG), detail)
    return out


def pct(n: int, d: int) -> str:
    return f"{100.0 * n / d:5.1f} % ({n}/{d})" if d else "  n/a"


def near_duplicates(cfg: Config, kept: list[Result], seed: int) -> dict[str, tuple[int, int]]:
    """(flagged, total) for jittered near-copies of kept frames, and for pairs of kept frames of
    different faces (different people, or different photos of one person)."""
    detect = detector_for(cfg).detect
    rng = np.random.default_rng([seed, 1])
    hashes = [quality.crop_hash(crop_face(r.image, r.box, cfg.crop_margin, cfg.crop_size)) for r in kept]
    near, near_n, missed = 0, 0, 0
    for r, h in zip(kept, hashes):
        for _ in range(2):
            image = jittered(r.image, rng)
            boxes = detect(image)
            if len(boxes) != 1:
                missed += 1
                continue
            near_n += 1
            copy = quality.crop_hash(crop_face(image, boxes[0], cfg.crop_margin, cfg.crop_size))
            near += quality.hamming(h, copy) <= cfg.min_crop_distance
    distinct = same_person = distinct_n = same_n = 0
    for (a, ha), (b, hb) in itertools.combinations(zip(kept, hashes), 2):
        flagged = quality.hamming(ha, hb) <= cfg.min_crop_distance
        if a.source != b.source:
            distinct_n += 1
            distinct += flagged
        else:
            same_n += 1
            same_person += flagged
    return {"near": (near, near_n), "near_missed": (missed, 0), "distinct": (distinct, distinct_n), "same_face": (same_person, same_n)}


def cost_ms(cfg: Config, kept: list[Result], rounds: int = 5) -> float:
    settings = quality.QualitySettings.of(cfg)
    crops = [crop_face(r.image, r.box, cfg.crop_margin, cfg.crop_size) for r in kept]
    start = time.process_time()
    for _ in range(rounds):
        for r, c in zip(kept, crops):
            quality.gate(quality.measure(r.image, r.box), settings)
            quality.crop_hash(c)
    return 1000.0 * (time.process_time() - start) / (rounds * len(kept))


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.gates", description=__doc__.split("\n\n")[0])
    p.add_argument("--split", choices=("held-out", "calibration"), default="held-out")
    p.add_argument("--per-person", type=int, default=24, help="clean frames per person")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--scores", action="store_true", help="also print score percentiles per kind (for calibrating)")
    args = p.parse_args(argv)
    limit_opencv_threads(1)
    cfg = load_config()
    who = split_people(args.split)
    print(f"gates: {args.split} split, {len(who)} people ({', '.join(who)}), {args.per_person} clean frames each")
    results = run(cfg, args.split, args.per_person, args.seed)
    reached = {k: [r for r in v if r.box is not None] for k, v in results.items()}
    print(f"{'kind':<14} {'reached gates':>14}  {'rejected by any gate':>22}  {'with its own reason':>22}  other reasons")
    for kind, rs in reached.items():
        own = DEGRADATIONS[kind][1] if kind in DEGRADATIONS else None
        rejected = [r for r in rs if r.reason is not None]
        others = {}
        for r in rejected:
            if r.reason != own:
                others[r.reason.value] = others.get(r.reason.value, 0) + 1
        own_text = pct(sum(r.reason == own for r in rs), len(rs)) if own else ""
        print(f"{kind:<14} {len(rs):>6} of {len(results[kind]):<5}  {pct(len(rejected), len(rs)):>22}  {own_text:>22}  {others or ''}")
    if args.scores:
        for kind, rs in reached.items():
            for name in ("sharpness", "brightness", "dark", "bright"):
                v = np.array([getattr(r.scores, name) for r in rs])
                qs = (0, 1, 3, 5, 10, 50, 90, 95, 97, 99, 100)
                print(f"  {kind:<14} {name:<10} " + " ".join(f"p{q}={np.percentile(v, q):.3g}" for q in qs))
    kept = [r for r in reached["clean"] if r.reason is None]
    nd = near_duplicates(cfg, kept, args.seed)
    print(f"near-duplicates (min_crop_distance={cfg.min_crop_distance}):")
    print(f"  jittered near-copies flagged    {pct(*nd['near'])}   (no single box after jitter: {nd['near_missed'][0]})")
    print(f"  distinct-face pairs not flagged {pct(nd['distinct'][1] - nd['distinct'][0], nd['distinct'][1])}")
    print(f"  same-face pairs flagged         {pct(*nd['same_face'])}   (frames of one photo: other pose, light, moment)")
    print(f"cost: measure + gate + crop_hash = {cost_ms(cfg, kept):.3f} ms per frame (CPU, one OpenCV thread)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
