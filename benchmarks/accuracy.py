"""Detector accuracy and per-stage cost on real-face sample frames.

    .venv/bin/python -m benchmarks.accuracy [--one 300 --two 150 --none 150] [--source png|jpeg]

Frames come from `stream_processor.samples` with seeds from 1_000_000 up (the unit tests use
seeds below 1000). Detection runs with the Config defaults unless a flag overrides one. Exits 1
when a target is missed: keep >= 90% of one-face frames, reject >= 97% of two-face and of no-face
frames, every kept crop on the true face.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from stream_processor.config import Config
from stream_processor.crop import crop_face, encode_png
from stream_processor.detect import detector_for
from stream_processor.records import Box
from stream_processor.samples import SampleFrame, encode, make_frame

EVAL_SEED = 1_000_000
TARGET_KEEP, TARGET_REJECT = 0.90, 0.97


@dataclass
class Tally:
    frames: int = 0
    detections: dict[int, int] = field(default_factory=dict)  # faces found -> frames
    on_face: int = 0
    failures: list[tuple[int, int]] = field(default_factory=list)  # (seed, faces found)

    def add(self, seed: int, found: int, ok: bool) -> None:
        self.frames += 1
        self.detections[found] = self.detections.get(found, 0) + 1
        if not ok:
            self.failures.append((seed, found))


def on_face(box: Box, truth: Box) -> bool:
    """IoU >= 0.3, or the true face's centre inside the box."""
    cx, cy = truth.x + truth.w / 2, truth.y + truth.h / 2
    if box.x <= cx <= box.x + box.w and box.y <= cy <= box.y + box.h:
        return True
    iw = min(box.x + box.w, truth.x + truth.w) - max(box.x, truth.x)
    ih = min(box.y + box.h, truth.y + truth.h) - max(box.y, truth.y)
    inter = max(0, iw) * max(0, ih)
    return inter / (box.w * box.h + truth.w * truth.h - inter) >= 0.3


def _ms(samples: list[float]) -> str:
    if not samples:
        return "n/a"
    return f"{statistics.fmean(samples) * 1e3:6.2f} ms (p50 {statistics.median(samples) * 1e3:.2f}, p95 {np.percentile(samples, 95) * 1e3:.2f})"


def _pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:5.1f}% ({part}/{whole})" if whole else "n/a"


def run(cfg: Config, counts: dict[str, int], source: str, dump: Optional[Path]) -> bool:
    detector = detector_for(cfg)  # also limits OpenCV to one thread: "ms on one core"
    tallies = {kind: Tally() for kind in counts}
    kept_on_face = kept = 0
    t_png: list[float] = []
    t_jpeg: list[float] = []
    t_detect: list[float] = []
    t_crop: list[float] = []
    for kind, n in counts.items():
        for i in range(n):
            seed = EVAL_SEED + i
            sample = make_frame(kind, seed)
            png, jpeg = encode(sample.image, "png"), encode(sample.image, "jpeg", 90)
            t0 = time.perf_counter()
            from_png = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
            t1 = time.perf_counter()
            from_jpeg = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            t2 = time.perf_counter()
            image = from_png if source == "png" else from_jpeg
            boxes = detector.detect(image)
            t3 = time.perf_counter()
            t_png.append(t1 - t0)
            t_jpeg.append(t2 - t1)
            t_detect.append(t3 - t2)
            ok = (len(boxes) == 1) == (kind == "one")
            if len(boxes) == 1:
                t4 = time.perf_counter()
                encode_png(crop_face(image, boxes[0], cfg.crop_margin, cfg.crop_size))
                t_crop.append(time.perf_counter() - t4)
                if kind == "one":
                    kept += 1
                    hit = on_face(boxes[0], sample.faces[0])
                    kept_on_face += hit
                    ok = ok and hit
            tallies[kind].add(seed, len(boxes), ok)
            if dump is not None and not ok:
                _dump(dump, sample, seed, boxes)
    one, two, none = tallies.get("one", Tally()), tallies.get("two", Tally()), tallies.get("none", Tally())
    kept_one = one.detections.get(1, 0)
    rejected_two = two.frames - two.detections.get(1, 0)
    rejected_none = none.frames - none.detections.get(1, 0)
    print(f"settings: detect_max_side={cfg.detect_max_side} min_face_fraction={cfg.min_face_fraction} "
          f"scale_factor={cfg.scale_factor} min_neighbors={cfg.min_neighbors} crop_margin={cfg.crop_margin} "
          f"crop_size={cfg.crop_size}; frames 640x480 decoded from {source.upper()}")
    print(f"one-face frames kept (exactly one face): {_pct(kept_one, one.frames)}   faces found: {dict(sorted(one.detections.items()))}")
    print(f"two-face frames rejected:               {_pct(rejected_two, two.frames)}   faces found: {dict(sorted(two.detections.items()))}")
    print(f"no-face frames rejected:                {_pct(rejected_none, none.frames)}   faces found: {dict(sorted(none.detections.items()))}")
    print(f"kept crops on the true face:            {_pct(kept_on_face, kept)}")
    print("ms per frame, one OpenCV thread:")
    print(f"  decode PNG   {_ms(t_png)}")
    print(f"  decode JPEG  {_ms(t_jpeg)}")
    print(f"  detect       {_ms(t_detect)}")
    print(f"  crop+encode  {_ms(t_crop)}  (frames with one face)")
    for kind, tally in tallies.items():
        if tally.failures:
            shown = ", ".join(f"{s}:{f}" for s, f in tally.failures[:20])
            print(f"  {kind}: failures (seed:faces) {shown}{' ...' if len(tally.failures) > 20 else ''}")
    met = (
        (not one.frames or kept_one / one.frames >= TARGET_KEEP)
        and (not two.frames or rejected_two / two.frames >= TARGET_REJECT)
        and (not none.frames or rejected_none / none.frames >= TARGET_REJECT)
        and kept_on_face == kept
    )
    print("targets: " + ("met" if met else "MISSED"))
    return met


def _dump(folder: Path, sample: SampleFrame, seed: int, boxes: list[Box]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    image = sample.image.copy()
    for b in sample.faces:
        cv2.rectangle(image, (b.x, b.y), (b.x + b.w, b.y + b.h), (0, 255, 0), 2)
    for b in boxes:
        cv2.rectangle(image, (b.x, b.y), (b.x + b.w, b.y + b.h), (0, 0, 255), 2)
    cv2.imwrite(str(folder / f"{sample.kind}-{seed}-{len(boxes)}.jpg"), image)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", type=int, default=300)
    parser.add_argument("--two", type=int, default=150)
    parser.add_argument("--none", type=int, default=150)
    parser.add_argument("--source", choices=("png", "jpeg"), default="png", help="which decoded frame the detector sees (JPEG at quality 90)")
    parser.add_argument("--dump", type=Path, help="write the frames that failed here, true faces green, detections red")
    for name in ("detect_max_side", "min_face_fraction", "scale_factor", "min_neighbors", "crop_margin", "crop_size"):
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=type(getattr(Config(), name)))
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k in Config.__dataclass_fields__ and v is not None}
    cfg = replace(Config(), **overrides)
    counts = {"one": args.one, "two": args.two, "none": args.none}
    return 0 if run(cfg, counts, args.source, args.dump) else 1


if __name__ == "__main__":
    sys.exit(main())
