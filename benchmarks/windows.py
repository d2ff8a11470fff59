"""How far each threshold of the face decision can move before a target is missed
(docs/accuracy.md), on the tuning seeds of benchmarks/real_faces.py and benchmarks/webcam_faces.py.

    .venv/bin/python -m benchmarks.windows [--n 120]

Each frame's proposals (the whole frame, and a closer look at its best hint of a small face),
their Haar confirmation, flatness, saturation and eye votes are computed once with the job's
detector; then the decision of detect.py is replayed over them for each setting, one setting moved
at a time with the others at their defaults. It approximates `FaceDetector.find` (which looks
closer only when the whole frame shows no face, and leaves out the closer looks for a second
face), so its rates differ from benchmarks/accuracy.py's by a point or two; it is for the shape of
each window, not for the figures. The settings of those closer looks, the stretched flatness and
the confirmation's second look are swept apart (`--closer`), each value by running `find` itself
over the frames.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Optional

from stream_processor.config import Config
from stream_processor.frames import detect, drawing, landmarks
from stream_processor.frames.imaging import to_gray
from stream_processor.records import Box

from . import real_faces, webcam_faces

SETS = {"real": (real_faces, real_faces.TUNING_SEED), "webcam": (webcam_faces, webcam_faces.TUNING_SEED)}


@dataclass(frozen=True)
class Seen:
    """A proposal as the decision weighs it."""

    score: float
    confirmed: bool  # by the Haar cascade, held to the smallest face size
    face_confirmed: bool  # the same, or at CONFIRM_RETRY_WIDTH (a face's own check)
    flatness: float
    stretched_flatness: float
    saturation: float
    eye_votes: int
    box: Box


@dataclass(frozen=True)
class Rule:
    face_score: float
    other_face_score: float
    max_flatness: float
    min_saturation: float
    sure_face_score: float
    min_eye_votes: int


def seen(n: int) -> list[tuple[str, str, list[Seen]]]:
    """(set, kind, proposals) for n tuning frames of each kind of each set."""
    det = detect.detector_for(Config())
    out = []
    for name, (module, seed) in SETS.items():
        for kind in module.KINDS:
            for s in range(seed, seed + n):
                image = module.make_case(kind, s).image
                gray = to_gray(image)
                smallest = Config().min_face_fraction * min(image.shape[:2])
                side = smallest * detect._BLAZE_TO_HAAR
                whole = det._net.whole(image, detect.HINT_SCORE)
                hints = [p.box for p in whole.proposals() if side <= p.box.w < 2 * det._net.smallest_whole_face(image)]
                found = (whole.seen_closer(det._net.around(image, hints[0], detect.WEAK_SCORE)) if hints else whole).proposals()
                proposals = [Seen(p.score, big_enough(det._confirm(gray, p), smallest),
                                  big_enough(det._face_box(gray, p), smallest),
                                  drawing.flatness(image, p.box), drawing.stretched_flatness(image, p.box),
                                  drawing.saturation(image, p.box), det.eye_votes(gray, p), p.box)
                             for p in found if p.box.w >= side and p.score >= detect.WEAK_SCORE]
                out.append((name, "one" if kind == "rotated" else kind, proposals))
    return out


def big_enough(box: Optional[Box], smallest: float) -> bool:
    """A confirming Haar box, held to the smallest face size as the decision holds it."""
    return box is not None and min(box.w, box.h) >= smallest


def drawn(p: Seen, r: Rule) -> bool:
    return ((p.flatness > r.max_flatness and p.stretched_flatness > drawing.STRETCHED_FLATNESS)
            or (p.flatness > drawing.PALE_FLATNESS and p.saturation < r.min_saturation))


def keeps(proposals: list[Seen], r: Rule) -> bool:
    faces = [p for p in proposals if p.score >= r.face_score and not drawn(p, r) and p.face_confirmed
             and (p.score >= r.sure_face_score or p.eye_votes >= r.min_eye_votes)]
    if len(faces) != 1:
        return False
    face = faces[0]
    for p in proposals:
        if p is face or not detect._apart(p.box, face.box):
            continue
        if p.score >= detect.UNBACKED_FACE_SCORE:
            return False
        if p.score >= r.other_face_score and (p.confirmed or p.eye_votes >= detect.MIN_HINT_VOTES):
            return False
        if p.score < r.other_face_score and (p.eye_votes >= r.min_eye_votes
                                             or (p.eye_votes >= detect.MIN_HINT_VOTES and p.confirmed)):
            return False
    return True


def rates(frames: list[tuple[str, str, list[Seen]]], r: Rule) -> dict[str, float]:
    """Per set and kind: one-face frames kept, two-face and no-face frames dropped."""
    good: dict[str, list[int]] = {}
    for name, kind, proposals in frames:
        kept = keeps(proposals, r)
        counts = good.setdefault(f"{name} {kind}", [0, 0])
        counts[0] += kept if kind == "one" else not kept
        counts[1] += 1
    return {k: ok / n for k, (ok, n) in sorted(good.items())}


# The closer looks for a second face (detect.py, step 3; landmarks.CLOSER), the stretched flatness
# and the confirmation's second look: module settings, swept by running `find`.
CLOSER_SWEEPS = {(detect, "CLOSER_SCORE"): (0.03, 0.05, 0.08, 0.12), (detect, "CLOSER_LOOKS"): (1, 2, 3),
                 (detect, "CLOSER_VOTES"): (4, 5, 7, 9), (detect, "CUT_FACE_SCORE"): (0.65, 0.68, 0.7, 0.72, 0.75),
                 (detect, "EDGE_CUT"): (0.05, 0.1, 0.2), (landmarks, "CLOSER"): (1.6, 2.0, 2.5),
                 (drawing, "STRETCHED_FLATNESS"): (0.2, 0.3, 0.4, 0.5, 0.6),
                 (detect, "CONFIRM_RETRY_WIDTH"): (80, 88, 96, 128)}


def closer_windows(n: int) -> None:
    """Each closer-look setting moved in turn, the rates of `find` itself on the tuning frames."""
    det = detect.detector_for(Config())
    cases = [(name, "one" if kind == "rotated" else kind, module.make_case(kind, s).image)
             for name, (module, seed) in SETS.items() for kind in module.KINDS for s in range(seed, seed + n)]
    for (module, name), values in CLOSER_SWEEPS.items():
        default = getattr(module, name)
        for value in values:
            setattr(module, name, value)
            try:
                good: dict[str, list[int]] = {}
                for set_name, kind, image in cases:
                    kept = isinstance(det.find(image), detect.FaceFinding)
                    counts = good.setdefault(f"{set_name} {kind}", [0, 0])
                    counts[0] += kept if kind == "one" else not kept
                    counts[1] += 1
            finally:
                setattr(module, name, default)
            cells = "  ".join(f"{k} {100 * ok / total:5.1f}" for k, (ok, total) in sorted(good.items()))
            print(f"{name:<16} {value:<5} {'*' if value == default else ' '}  {cells}")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=120, help="tuning frames of each kind of each set")
    parser.add_argument("--closer", action="store_true",
                        help="only the module settings (the closer looks', STRETCHED_FLATNESS, CONFIRM_RETRY_WIDTH), by running find")
    args = parser.parse_args(argv)
    if args.closer:
        closer_windows(args.n)
        return 0
    cfg = Config()
    default = Rule(cfg.face_score, cfg.other_face_score, drawing.MAX_FLATNESS, drawing.MIN_SATURATION, cfg.sure_face_score,
                   detect.MIN_EYE_VOTES)
    frames = seen(args.n)
    sweeps = {"face_score": (0.6, 0.65, 0.7, 0.75, 0.8, 0.85), "other_face_score": (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8),
              "max_flatness": (0.3, 0.35, 0.4, 0.45, 0.5), "min_saturation": (0, 30, 50, 70, 90, 110),
              "sure_face_score": (0.0, 0.8, 0.85, 0.9, 0.95),
              "min_eye_votes": (6, 9, 12)}
    print("kept (one) or dropped (two, none), % of the tuning frames; one setting moved at a time")
    for field, values in sweeps.items():
        for value in values:
            rule = Rule(**{**default.__dict__, field: value})
            cells = "  ".join(f"{k} {100 * v:5.1f}" for k, v in rates(frames, rule).items())
            print(f"{field:<16} {value:<5} {'*' if value == getattr(default, field) else ' '}  {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
