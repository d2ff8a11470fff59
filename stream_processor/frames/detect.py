"""The face decision (`FaceDetector.find`): two detectors of different kinds must agree on exactly
one face (docs/accuracy.md).

1. BlazeFace, a landmark DNN (landmarks.py), proposes faces with their eye keypoints on the whole
   frame; where it shows none but a hint of a face too small for that (down to min_face_fraction),
   it looks again closer, at the square round the best hint (what it sees there replaces the whole
   frame's coarser view of the same face).
2. A proposal scoring at least `face_score` is a face when the Haar cascade confirms it on its
   region turned upright by the eye keypoints (a Haar box with IoU >= CONFIRM_IOU; the region
   looked at once more, finer, when not), it is not drawn (drawing.py: a drawing of a face fools
   both detectors), and, when it scores below `sure_face_score`, the eye cascade sees an eye at a
   keypoint (a mask scores that high too).
3. Exactly one face, and no other face: another proposal scoring at least UNBACKED_FACE_SCORE,
   or at least `other_face_score` that the Haar cascade or a hint of an eye backs, or a weaker
   one (from WEAK_SCORE) with an eye, or with a hint of one that the cascade confirms. Then closer
   looks at the best hints of another face (a second face that is small or cut off by the frame's
   edge scores low on the whole frame): there, one scoring at least `face_score` that either
   cascade backs, or one cut off by the edge scoring at least CUT_FACE_SCORE that is not drawn.
The face's box is the confirming Haar box, in source pixels; its eyes are BlazeFace's keypoints.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..config import Config
from ..records import Box, Reason
from .drawing import drawn
from .face_model import model_path
from .imaging import cut, to_gray, warped
from .landmarks import BlazeFace, Proposal, blazeface

CASCADE_FILE = "haarcascade_frontalface_alt2.xml"
EYE_CASCADE_FILE = "haarcascade_eye.xml"
CONFIRM_WIDTH = 80  # px: the proposal's region (2x its box) is confirmed at this width
CONFIRM_RETRY_WIDTH = 96  # px: a face's region that is not, once more at this one (shadows, glasses, enlarged)
CONFIRM_GROW = 0.5  # of the box's side, on each side
CONFIRM_IOU = 0.25
CONFIRM_MIN_FACE = 0.4  # of the region's width: the smallest Haar box looked for
MIN_FRAME_SIDE = 24  # px: a frame smaller than the cascade's window has no face to find
WEAK_SCORE = 0.2  # the weakest proposal looked at for a second face on the whole frame
# A face too small for the whole frame (down to min_face_fraction) is looked for closer only where
# the whole frame shows a hint of one: every such face of the tuning frames scored >= 0.15.
HINT_SCORE = 0.12
# Closer looks for a second face beside the one found (docs/accuracy.md has each one's window): a
# 60-100 px second face often scores only 0.05-0.12 on the whole frame, but its hint is nearly
# always the best one apart from the face.
CLOSER_SCORE, CLOSER_LOOKS = 0.05, 2  # the weakest hint looked at, and how many
CLOSER_MIN = 0.3  # the weakest detection blended into a closer look's proposals
CLOSER_VOTES = 5  # eye votes that back a closer proposal
# Half a face, cut off by the frame's edge, is seen by neither cascade: on the tuning frames such
# faces scored 0.71-0.89 at a closer look, textures cut off there up to 0.68.
CUT_FACE_SCORE, EDGE_CUT = 0.7, 0.1  # EDGE_CUT: the share of its box beyond the edge
# Another proposal this strong needs no backing: beside a face, textures scored up to 0.70 on the
# tuning frames; second faces that neither cascade sees (darker skin, turned) 0.78-0.91.
UNBACKED_FACE_SCORE = 0.75
LIKELY_FACE_SCORE = 0.5  # an unconfirmed proposal this strong is where a face likely is (its quality says why)
EYE_SQUARE = 0.45  # of the proposal's width: the square around each eye keypoint
EYE_SIDE = 40  # px: that square's size for the eye cascade
MIN_EYE_VOTES = 9  # an eye, for a weak proposal or a face BlazeFace is not sure of
MIN_HINT_VOTES = 3  # a hint of an eye, for a confident other proposal
# Boxes of two visible faces hardly overlap, so boxes that share a fifth of the smaller one's area
# are one face seen twice.
_SAME_FACE_OVERLAP = 0.2


def limit_opencv_threads(n: int = 1) -> None:
    """Spark already runs one task per core: OpenCV's own thread pool on top would oversubscribe."""
    cv2.setNumThreads(max(0, int(n)))


@dataclass(frozen=True)
class DetectorSettings:
    model: Path
    min_face_fraction: float  # of the frame's shorter side: smaller faces are not looked for
    face_score: float
    sure_face_score: float  # below it, a face must also show an eye
    other_face_score: float
    scale_factor: float  # the Haar cascade's, when it confirms
    min_neighbors: int

    @staticmethod
    def of(cfg: Config) -> "DetectorSettings":
        return DetectorSettings(model_path(cfg.face_model), cfg.min_face_fraction, cfg.face_score,
                                cfg.sure_face_score, cfg.other_face_score, cfg.scale_factor, cfg.min_neighbors)


@dataclass(frozen=True)
class Eyes:
    """Eye centres in source-frame pixels: the one on the image's left, then the other."""

    left: tuple[float, float]
    right: tuple[float, float]


@dataclass(frozen=True)
class FaceFinding:
    """Exactly one face that both detectors agree on, and its eyes."""

    box: Box
    eyes: Eyes
    score: float
    faces: int = 1


@dataclass(frozen=True)
class FaceRejection:
    """No usable single face: `reason` is no_face or multiple_faces. `region`: where a face likely
    is (an unconfirmed proposal's box), so that its quality can say why it was not confirmed."""

    reason: Reason
    faces: int
    detail: str = ""
    region: Optional[Box] = None


class FaceDetector:
    """Not for sharing between threads (OpenCV's cascades keep per-call state): one per process."""

    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings
        self._net: BlazeFace = blazeface(settings.model)
        self._cascade = _cascade(CASCADE_FILE)
        self._eye_cascade = _cascade(EYE_CASCADE_FILE)

    def find(self, image_bgr: np.ndarray) -> FaceFinding | FaceRejection:
        """The whole frame first. When it shows no face, a closer look at its best hint of one (a
        face too small for the whole frame); when it shows a face, closer looks at the best hints
        of another (a small or cut-off second face scores low on the whole frame)."""
        image = _bgr(image_bgr)
        if min(image.shape[:2]) < MIN_FRAME_SIDE:
            return FaceRejection(Reason.NO_FACE, 0)
        gray = to_gray(image)
        min_side = self.settings.min_face_fraction * min(image.shape[:2]) * _BLAZE_TO_HAAR
        whole = self._net.whole(image, CLOSER_SCORE)
        weighed = whole.at_least(HINT_SCORE)  # the weaker detections are only hints of a face
        found = self._decide(image, gray, _at_least(weighed.proposals(), min_side, WEAK_SCORE))
        if isinstance(found, FaceRejection) and found.reason is Reason.MULTIPLE_FACES:
            return found
        largest = 2 * self._net.smallest_whole_face(image)
        hints = [p for p in _at_least(whole.proposals(), min_side) if p.box.w < largest and _unlike(found, p)]
        if isinstance(found, FaceRejection) and found.reason is Reason.NO_FACE and hints and hints[0].score >= HINT_SCORE:
            closer = self._net.around(image, hints[0].box, WEAK_SCORE)
            region = found.region
            found = self._decide(image, gray, _at_least(weighed.seen_closer(closer).proposals(), min_side, WEAK_SCORE))
            if isinstance(found, FaceRejection) and found.region is None:  # a blurred face may score less closer
                found = replace(found, region=region)
            hints = [p for p in hints[1:] if _unlike(found, p)]
        if isinstance(found, FaceFinding):
            return self._alone(image, gray, found, [p.box for p in hints[:CLOSER_LOOKS]], min_side)
        return found

    def _alone(self, image: np.ndarray, gray: np.ndarray, found: FaceFinding, hints: list[Box],
               min_side: float) -> FaceFinding | FaceRejection:
        """`found`, unless a closer look at a hint of another face shows one (the module's
        docstring, step 3)."""
        height, width = gray.shape
        for box in hints:
            for q in _at_least(self._net.around(image, box, CLOSER_MIN).proposals(), min_side):
                if not _apart(q.box, found.box):
                    continue
                cut_off = _outside(q.box, width, height) >= EDGE_CUT and q.score >= CUT_FACE_SCORE and not drawn(image, q.box)
                if cut_off or (q.score >= self.settings.face_score
                           and (self.eye_votes(gray, q) >= CLOSER_VOTES or self._confirm(gray, q) is not None)):
                    return FaceRejection(Reason.MULTIPLE_FACES, 2, f"another face at {q.box} (score {q.score:.2f}, closer)")
        return found

    def _decide(self, image: np.ndarray, gray: np.ndarray, proposals: list[Proposal]) -> FaceFinding | FaceRejection:
        if not proposals:
            return FaceRejection(Reason.NO_FACE, 0)
        smallest = self.settings.min_face_fraction * min(image.shape[:2])
        confirmed = [(p, box) for p in proposals if p.score >= self.settings.face_score and not drawn(image, p.box)
                     and (box := self._face_box(gray, p)) is not None and min(box.w, box.h) >= smallest
                     and (p.score >= self.settings.sure_face_score or self._has_an_eye(gray, p))]
        if not confirmed:
            likely = proposals[0].box if proposals[0].score >= LIKELY_FACE_SCORE else None
            return FaceRejection(Reason.NO_FACE, 0, "no face that both detectors see", likely)
        if len(confirmed) > 1:
            return FaceRejection(Reason.MULTIPLE_FACES, len(confirmed), f"another face at {confirmed[1][1]}")
        face, box = confirmed[0]
        for other in proposals:
            if other is not face and _apart(other.box, face.box) and self._another_face(gray, other):
                return FaceRejection(Reason.MULTIPLE_FACES, 2, f"another face at {other.box} (score {other.score:.2f})")
        left, right = face.eyes
        return FaceFinding(box, Eyes(left, right), face.score)

    def _another_face(self, gray: np.ndarray, proposal: Proposal) -> bool:
        """A proposal scored as high as a face (at UNBACKED_FACE_SCORE); a confident one that a
        second look backs (the Haar cascade, or a hint of an eye: BlazeFace alone scores textures
        that high); a weak one with an eye, or with a hint of one that the Haar cascade confirms (a
        face cut off by the frame's edge scores low)."""
        if proposal.score >= UNBACKED_FACE_SCORE:
            return True
        votes = self.eye_votes(gray, proposal)
        if proposal.score >= self.settings.other_face_score:
            return votes >= MIN_HINT_VOTES or self._confirm(gray, proposal) is not None
        return votes >= MIN_EYE_VOTES or (votes >= MIN_HINT_VOTES and self._confirm(gray, proposal) is not None)

    def _face_box(self, gray: np.ndarray, proposal: Proposal) -> Optional[Box]:
        """The Haar box that confirms a proposal as the face: its region at CONFIRM_WIDTH, or, when
        the cascade finds none there, once more at CONFIRM_RETRY_WIDTH."""
        return self._confirm(gray, proposal) or self._confirm(gray, proposal, CONFIRM_RETRY_WIDTH)

    def _confirm(self, gray: np.ndarray, proposal: Proposal, width: int = CONFIRM_WIDTH) -> Optional[Box]:
        """The Haar box (source pixels) that agrees with `proposal`, or None. The region is turned
        so that the proposal's eyes are level: the cascade sees only upright faces."""
        b = proposal.box
        side = (1 + 2 * CONFIRM_GROW) * max(b.w, b.h)
        scale = width / side
        (lx, ly), (rx, ry) = proposal.eyes
        centre = (b.x + b.w / 2, b.y + b.h / 2)
        m = cv2.getRotationMatrix2D(centre, float(np.degrees(np.arctan2(ry - ly, rx - lx))), scale)
        m[:, 2] += (width / 2 - centre[0], width / 2 - centre[1])
        region = warped(gray, m, width, scale)
        # The face fills about half the region: smaller windows are not this face (and cost the most).
        smallest = round(CONFIRM_MIN_FACE * width)
        rects = self._cascade.detectMultiScale(region, scaleFactor=self.settings.scale_factor,
                                               minNeighbors=self.settings.min_neighbors, minSize=(smallest, smallest))
        back = cv2.invertAffineTransform(m)
        upright = Box(round(width / 2 - b.w * scale / 2), round(width / 2 - b.h * scale / 2),
                      round(b.w * scale), round(b.h * scale))
        best, best_iou = None, CONFIRM_IOU
        for x, y, w, h in np.asarray(rects).reshape(-1, 4):
            iou = _iou(Box(int(x), int(y), int(w), int(h)), upright)
            if iou >= best_iou:
                cx, cy = back @ np.array([x + w / 2, y + h / 2, 1.0])
                size = w / scale
                best, best_iou = Box(round(cx - size / 2), round(cy - size / 2), round(size), round(size)), iou
        return None if best is None else _clipped(best, gray.shape[1], gray.shape[0])

    def _has_an_eye(self, gray: np.ndarray, proposal: Proposal) -> bool:
        """Whether the eye cascade sees an eye at either eye keypoint of the proposal."""
        return self.eye_votes(gray, proposal) >= MIN_EYE_VOTES

    def eye_votes(self, gray: np.ndarray, proposal: Proposal) -> int:
        """The eye cascade's votes for the likelier eye, at the proposal's eye keypoints."""
        side = max(4, round(EYE_SQUARE * proposal.box.w))
        votes = 0
        for x, y in proposal.eyes:
            square = cut(gray, Box(round(x - side / 2), round(y - side / 2), side, side), EYE_SIDE)
            _, counts = self._eye_cascade.detectMultiScale2(square, scaleFactor=1.1, minNeighbors=1)
            votes = max(votes, int(np.max(counts)) if len(counts) else 0)
        return votes


def _outside(box: Box, width: int, height: int) -> float:
    """The share of the box's area beyond the frame's edges."""
    inside = _clipped(box, width, height)
    return 1 - inside.w * inside.h / (box.w * box.h)


def _unlike(found: FaceFinding | FaceRejection, proposal: Proposal) -> bool:
    """Whether `proposal` may be a face other than the one found (any, when none was)."""
    return not isinstance(found, FaceFinding) or _apart(proposal.box, found.box)


def _at_least(proposals: list[Proposal], side: float, score: float = 0.0) -> list[Proposal]:
    return [p for p in proposals if p.box.w >= side and p.score >= score]


# BlazeFace's box is a tight inner-face square, about 0.9x the Haar box: sizes set in Haar terms
# (min_face_fraction, min_face_px) are compared with a proposal's width through this factor.
_BLAZE_TO_HAAR = 0.9


_CASCADES: dict[str, cv2.CascadeClassifier] = {}
_DETECTORS: dict[DetectorSettings, FaceDetector] = {}
_LOCK = threading.Lock()


def _cascade(name: str) -> cv2.CascadeClassifier:
    path = str(Path(cv2.data.haarcascades) / name)
    with _LOCK:
        cascade = _CASCADES.get(path)
        if cascade is None:
            cascade = cv2.CascadeClassifier(path)
            if cascade.empty():
                raise RuntimeError(f"cannot load the Haar cascade {path}")
            _CASCADES[path] = cascade
        return cascade


def detector_for(cfg: Config, threads: Optional[int] = 1) -> FaceDetector:
    """The process's detector for these settings; the first call also sets OpenCV's thread count
    (`threads`; None leaves it alone)."""
    settings = DetectorSettings.of(cfg)
    with _LOCK:
        detector = _DETECTORS.get(settings)
    if detector is None:
        if threads is not None and not _DETECTORS:
            limit_opencv_threads(threads)
        detector = FaceDetector(settings)
        with _LOCK:
            detector = _DETECTORS.setdefault(settings, detector)
    return detector


def _bgr(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(f"expected a grey, BGR or BGRA image, got shape {image.shape}")


def _clipped(box: Box, width: int, height: int) -> Box:
    x0, y0 = max(0, box.x), max(0, box.y)
    x1, y1 = min(width, box.x + box.w), min(height, box.y + box.h)
    return Box(x0, y0, max(1, x1 - x0), max(1, y1 - y0))


def _iou(a: Box, b: Box) -> float:
    iw = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    ih = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / (a.w * a.h + b.w * b.h - inter)


def _apart(candidate: Box, face: Box) -> bool:
    """Another face, not the same one seen shifted or at another scale: they share less than a
    fifth of the smaller box."""
    iw = min(candidate.x + candidate.w, face.x + face.w) - max(candidate.x, face.x)
    ih = min(candidate.y + candidate.h, face.y + face.h) - max(candidate.y, face.y)
    if iw <= 0 or ih <= 0:
        return True
    return iw * ih / min(candidate.w * candidate.h, face.w * face.h) < _SAME_FACE_OVERLAP
