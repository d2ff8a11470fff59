"""Identity survives the crop: an independent face embedder tells people apart on the job's crops
at least as well as on the source photos (docs/accuracy.md; issue 10).

    # once: the embedder, face-api 1.7.15 on TensorFlow.js 4.22's WASM backend, into .local/identity
    mkdir -p .local/identity && cp benchmarks/identity/package*.json .local/identity/ \\
        && npm ci --prefix .local/identity --no-audit --no-fund
    .venv/bin/python -m benchmarks.identity [--frames 6]

The embedder is face-api's own pipeline (SSD MobileNet detector, 68-point landmarks, aligned
150 px chip, 128-D ResNet descriptor): the job's code plays no part in it. Faces: the labelled
faces of benchmarks/real_faces.py (`SOURCES`: three photos of Obama, one of Biden, the
astronaut, 13 faces of face-api's group photos, each taken as a different person).
- **photos**: each face embedded in its source photo (face-api finds every face there; the one
  on the labelled box is taken).
- **crops**: for each face, `--frames` held-out frames of benchmarks/real_faces.py (`one` and
  `rotated`, seeds from HELD_OUT_SEED) through `analyze.analyze` as the job runs it (decode, find,
  quality gates, aligned crop), each crop embedded on its own (the crops face-api finds no face in
  are counted, as the trainer would drop them).

Pairs are only ever made of two different photos (two crops of one photo are not a pair), and
"same" means the same person. Printed for both: balanced pair accuracy (mean of the same-pair
and different-pair accuracies) at face-api's usual distance threshold 0.6 and at the best
threshold, and nearest-neighbour identification (each item of a person with several photos
against the items of the other photos). Only Obama has several photos: the same-person pairs are
few (3 photo pairs), so read the numbers with that in mind; the script prints the counts.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from stream_processor.config import Config
from stream_processor.demo.samples import encode, message
from stream_processor.output.analyze import analyze
from stream_processor.records import Box, Message

from . import real_faces

ROOT = Path(__file__).resolve().parent.parent
EMBED_JS = ROOT / "benchmarks" / "identity" / "embed.js"
NODE_MODULES = ROOT / ".local" / "identity" / "node_modules"
THRESHOLD = 0.6  # face-api's (and dlib's) distance for "same person"


def person(source: real_faces.Source) -> str:
    name = Path(source.photo).stem
    if name.startswith("obama"):
        return "obama"
    if source.photo.startswith("face-api/"):
        return f"{name}@{source.box.x},{source.box.y}"
    return name


@dataclass(frozen=True)
class Item:
    person: str
    photo: str  # pairs are made of two different photos only
    descriptor: Optional[np.ndarray]  # None: face-api found no face


def embed(images: list[tuple[str, np.ndarray, bool]]) -> dict[str, list[dict]]:
    """face-api's faces for (id, RGB image, all faces?) through benchmarks/identity/embed.js."""
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for i, (key, rgb, every) in enumerate(images):
            raw = Path(tmp) / f"{i}.rgb"
            raw.write_bytes(np.ascontiguousarray(rgb, np.uint8).tobytes())
            jobs.append({"id": key, "path": str(raw), "height": rgb.shape[0], "width": rgb.shape[1], "all": every})
        (Path(tmp) / "jobs.json").write_text(json.dumps({"items": jobs}))
        out = Path(tmp) / "out.json"
        subprocess.run(["node", str(EMBED_JS), str(Path(tmp) / "jobs.json"), str(out)], check=True,
                       env={"NODE_PATH": str(NODE_MODULES), "PATH": _path()})
        return {r["id"]: r["faces"] for r in json.loads(out.read_text())["results"]}


def _path() -> str:
    node = shutil.which("node")
    return str(Path(node).parent) if node else "/usr/bin"


def _iou(a: Box, b: Box) -> float:
    iw = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    ih = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    inter = max(0, iw) * max(0, ih)
    return inter / (a.w * a.h + b.w * b.h - inter)


def photo_items() -> list[Item]:
    photos = sorted({s.photo for s in real_faces.SOURCES})
    faces = embed([(p, real_faces.photo(p)[:, :, ::-1], True) for p in photos])
    items = []
    for s in real_faces.SOURCES:
        best = max(faces[s.photo], key=lambda f: _iou(Box(*(round(v) for v in f["box"])), s.box), default=None)
        ok = best is not None and _iou(Box(*(round(v) for v in best["box"])), s.box) >= 0.3
        items.append(Item(person(s), s.photo, np.array(best["descriptor"]) if ok else None))
    return items


def crop_items(frames: int, cfg: Config) -> tuple[list[Item], dict[str, int]]:
    """Up to `frames` held-out frames per labelled face, through the job's analysis."""
    wanted = {s: frames for s in real_faces.SOURCES}
    crops: list[tuple[real_faces.Source, np.ndarray]] = []
    counts = {"frames": 0, "crops": 0}
    seed = real_faces.HELD_OUT_SEED
    while any(wanted.values()) and seed < real_faces.HELD_OUT_SEED + 50 * frames * len(wanted):
        case = real_faces.make_case(("one", "rotated")[seed % 2], seed)
        seed += 1
        if not wanted.get(case.source):
            continue
        wanted[case.source] -= 1
        counts["frames"] += 1
        png = encode(case.image, "png")  # the message as the SQL step leaves it (records.Message)
        result = analyze(Message("identity", 0, seed, None, "student", None, png, value=message("student", png)), cfg)
        if result.crop is not None:
            counts["crops"] += 1
            crops.append((case.source, cv2.imdecode(np.frombuffer(result.crop, np.uint8), cv2.IMREAD_COLOR)))
    faces = embed([(str(i), image[:, :, ::-1], False) for i, (_, image) in enumerate(crops)])
    items = [Item(person(s), s.photo, np.array(faces[str(i)][0]["descriptor"]) if faces[str(i)] else None)
             for i, (s, _) in enumerate(crops)]
    return items, counts


@dataclass(frozen=True)
class Scores:
    same_pairs: int
    different_pairs: int
    balanced_at_threshold: float
    balanced_best: float
    best_threshold: float
    nn_queries: int
    nn_correct: int


def scores(items: list[Item]) -> Scores:
    usable = [i for i in items if i.descriptor is not None]
    same, different = [], []
    for a, b in itertools.combinations(usable, 2):
        if a.photo != b.photo:
            (same if a.person == b.person else different).append(float(np.linalg.norm(a.descriptor - b.descriptor)))
    same_d, diff_d = np.array(same), np.array(different)

    def balanced(t: float) -> float:
        return 0.5 * (float(np.mean(same_d <= t)) + float(np.mean(diff_d > t)))

    candidates = np.unique(np.concatenate([same_d, diff_d]))
    best = max(candidates, key=balanced) if len(candidates) else THRESHOLD
    queries = correct = 0
    photos_of = {p: {i.photo for i in usable if i.person == p} for p in {i.person for i in usable}}
    for q in usable:
        if len(photos_of[q.person]) < 2:
            continue
        gallery = [g for g in usable if g.photo != q.photo]
        nearest = min(gallery, key=lambda g: float(np.linalg.norm(q.descriptor - g.descriptor)))
        queries += 1
        correct += nearest.person == q.person
    return Scores(len(same_d), len(diff_d), balanced(THRESHOLD), balanced(float(best)), float(best), queries, correct)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=6, help="held-out frames per labelled face")
    args = parser.parse_args(argv)
    if not NODE_MODULES.is_dir() or shutil.which("node") is None:
        print(f"node and {NODE_MODULES} are needed: see the command in this file's docstring", file=sys.stderr)
        return 2
    if not real_faces.available():
        print("the face photos are missing: scripts/fetch-faces.sh", file=sys.stderr)
        return 2
    cfg = Config()
    photos = photo_items()
    crops, counts = crop_items(args.frames, cfg)
    found = sum(i.descriptor is not None for i in crops)
    print(f"photos: {len(photos)} faces, face-api found {sum(i.descriptor is not None for i in photos)} on their boxes")
    print(f"crops: {counts['frames']} held-out frames, {counts['crops']} crops written by the job, "
          f"face-api found a face in {found}")
    print("| | photos | crops |\n|---|---|---|")
    a, b = scores(photos), scores(crops)
    print(f"| pairs same / different person | {a.same_pairs} / {a.different_pairs} | {b.same_pairs} / {b.different_pairs} |")
    print(f"| balanced pair accuracy at distance {THRESHOLD} | {a.balanced_at_threshold:.3f} | {b.balanced_at_threshold:.3f} |")
    print(f"| balanced pair accuracy, best threshold | {a.balanced_best:.3f} (at {a.best_threshold:.3f}) | "
          f"{b.balanced_best:.3f} (at {b.best_threshold:.3f}) |")
    print(f"| nearest-neighbour identification | {a.nn_correct}/{a.nn_queries} | {b.nn_correct}/{b.nn_queries} |")
    held = b.balanced_at_threshold >= a.balanced_at_threshold and b.nn_correct * max(a.nn_queries, 1) >= a.nn_correct * b.nn_queries
    print("identity survives the crop: " + ("yes" if held else "NO"))
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
