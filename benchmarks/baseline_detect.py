"""The face decision before issue 20, kept verbatim as the baseline that benchmarks/accuracy.py
times the new decision against ("cost vs today's find"): Haar cascades only, an asymmetric
decision (`FaceDetector.find`): one confident face, no other plausible face in a more sensitive
look, and the face verified by its eyes. Not used by the job.

The cascade is `haarcascade_frontalface_alt2.xml`, not `..._default.xml`: on the real-face
sample frames (benchmarks/accuracy.py) alt2 found more faces (default missed a dark-skinned,
low-contrast face most of the time), raised a fraction of default's false alarms, and ran
faster; with default no setting reached the two-face and no-face rejection targets together.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from stream_processor.frames.imaging import to_gray
from stream_processor.records import Box, Reason

CASCADE_FILE = "haarcascade_frontalface_alt2.xml"
_WINDOW = 24  # the cascade's training window: nothing smaller can be found
# Boxes of two visible faces hardly overlap (a box covers the inner face), so boxes that share a
# fifth of the smaller one's area are one face seen twice, at a shifted position or scale.
_DUPLICATE_OVERLAP = 0.2
_IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])

# The second, more sensitive look (measured with benchmarks/accuracy.py on its tuning seeds):
# - frontal candidates of the same pass with too few votes to be confident (min_neighbors) that
#   show a pair of eyes (votes alone fire on textures: gravel, the astronaut's suit);
# - the frame's left and right edges mirrored outwards, so that a face the edge cuts off is
#   completed by its own mirror image (faces are nearly symmetric), at SECOND_LOOK_SIDE px;
# - the frame turned by +-TURNED_LOOK_DEG, for heads tilted beyond the cascade's ~10 degrees.
# The edge and turned looks keep every candidate (minNeighbors 1) that shows a pair of eyes, cut
# from the full-size frame as the look saw it: on the tuning seeds that found more second faces
# (two-face frames dropped 93.0 -> 95.5 %) and fewer false ones (one-face kept 96.5 -> 98.5 %)
# than vote thresholds alone. A finer look (SECOND_LOOK_SIDE 240: 97.5 %) costs 1.8x as much.
SECOND_LOOK_SIDE = 160
EDGE_PAD = 0.25  # of the frame's shorter side
EDGE_LOOK = (1.15, 1)  # scaleFactor, minNeighbors: every candidate, kept only with a pair of eyes
TURNED_LOOK_DEG = (-20.0, 20.0)
TURNED_LOOK = (1.2, 1)  # every candidate, kept only with a pair of eyes
# Verification: a plausible pair of eyes in the face box's upper part, looked for at this face
# width with the plain eye cascade, then the eyeglasses one.
EYE_FILES = ("haarcascade_eye.xml", "haarcascade_eye_tree_eyeglasses.xml")
EYE_FACE_WIDTH = 120
EYE_BAND = (0.12, 0.62)  # rows of the face box searched, as fractions of its height
EYE_SCALE_FACTOR = 1.15
EYE_NEIGHBORS = 3


@dataclass(frozen=True)
class DetectorSettings:
    max_side: int  # 0 = detect at full size
    min_face_fraction: float
    scale_factor: float
    min_neighbors: int
    cascade: str = CASCADE_FILE  # a file in cv2.data.haarcascades


@dataclass(frozen=True)
class _Hit:
    box: Box
    votes: int


@dataclass(frozen=True)
class Eyes:
    """Eye centres in source-frame pixels: the one on the image's left, then the other."""

    left: tuple[float, float]
    right: tuple[float, float]


@dataclass(frozen=True)
class FaceFinding:
    """Exactly one face, found confidently, alone and verified; `eyes` when they were found."""

    box: Box
    eyes: Optional[Eyes]
    faces: int = 1


@dataclass(frozen=True)
class FaceRejection:
    """No usable single face: `reason` is no_face, multiple_faces or face_not_verified."""

    reason: Reason
    faces: int
    detail: str = ""
    box: Optional[Box] = None  # the unverified face, for face_not_verified


class FaceDetector:
    """Finds frontal faces; boxes are in the source image's pixels, one box per face.

    Not for sharing between threads (OpenCV's cascade keeps per-call state): one per process.
    """

    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings
        self._cascade = _cascade(settings.cascade)
        self._eye_cascades = [_cascade(name) for name in EYE_FILES]

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        """Grey, BGR or BGRA uint8 images; one too small for the cascade has no face."""
        image = _checked(image_bgr)
        if min(image.shape[:2]) < _WINDOW:
            return []
        gray = to_gray(image)
        hits = self._hits(gray, self.settings.min_neighbors)
        return [h.box for h in self._confident(hits, gray.shape)]

    def find(self, image_bgr: np.ndarray) -> FaceFinding | FaceRejection:
        """The asymmetric decision: accept only one confident face that a more sensitive second
        look finds alone and whose eyes confirm it (docs/accuracy.md)."""
        image = _checked(image_bgr)
        if min(image.shape[:2]) < _WINDOW:
            return FaceRejection(Reason.NO_FACE, 0)
        gray = to_gray(image)
        hits = self._hits(gray, 1)  # every candidate; the confident ones are among them
        confident = self._confident(hits, gray.shape)
        if len(confident) != 1:
            reason = Reason.NO_FACE if not confident else Reason.MULTIPLE_FACES
            return FaceRejection(reason, len(confident))
        face = confident[0].box
        others = [h.box for h in hits if _apart(h.box, face) and self._eyes(gray, h.box)]
        others = others or self._second_look(gray, face)
        if others:
            return FaceRejection(Reason.MULTIPLE_FACES, 1 + len(_distinct(others)), f"another face at {others[0]}")
        eyes = self._eyes(gray, face)
        if eyes is None:
            return FaceRejection(Reason.NO_FACE, 1, "face_not_verified: no pair of eyes in the face", face)
        return FaceFinding(face, eyes)

    def _hits(self, gray: np.ndarray, neighbors: int) -> list[_Hit]:
        """Candidates of the frontal cascade with their votes, at least the smallest face size;
        with few `neighbors` one pass serves the confident and the sensitive look."""
        height, width = gray.shape
        small = _downscaled(gray, self.settings.max_side)
        sx, sy = width / small.shape[1], height / small.shape[0]
        min_side = self.settings.min_face_fraction * min(height, width)
        min_small = max(_WINDOW, int(min_side / max(sx, sy)))
        if min_small > min(small.shape):
            return []
        rects, votes = self._cascade.detectMultiScale2(
            small,
            scaleFactor=self.settings.scale_factor,
            minNeighbors=neighbors,
            minSize=(min_small, min_small),
        )
        hits = [
            _Hit(_to_source(r, sx, sy, width, height), int(v))
            for r, v in zip(np.asarray(rects).reshape(-1, 4), np.asarray(votes).reshape(-1))
        ]
        return [h for h in hits if min(h.box.w, h.box.h) >= min_side]

    def _confident(self, hits: list[_Hit], shape: tuple[int, ...]) -> list[_Hit]:
        """Faces with more than `min_neighbors` votes (OpenCV's rule for its own grouping), at
        least the smallest face size, one box per face, top to bottom."""
        min_side = self.settings.min_face_fraction * min(shape[:2])
        kept = [h for h in hits if h.votes > self.settings.min_neighbors and min(h.box.w, h.box.h) >= min_side]
        return sorted(_suppress_duplicates(kept), key=lambda h: (h.box.y, h.box.x))

    def _second_look(self, gray: np.ndarray, face: Box) -> list[Box]:
        """Faces the main pass cannot see: cut off by the left or right edge, or tilted."""
        height, width = gray.shape
        small = _downscaled(gray, SECOND_LOOK_SIDE)
        scale = width / small.shape[1]
        min_small = max(_WINDOW, int(self.settings.min_face_fraction * min(height, width) / scale))
        found: list[Box] = []
        pad = round(EDGE_PAD * min(small.shape))
        for left in (True, False):
            strip = small[:, :2 * pad] if left else small[:, -2 * pad:]
            padded = cv2.copyMakeBorder(strip, 0, 0, pad * left, pad * (not left), cv2.BORDER_REFLECT)
            x0 = -pad if left else small.shape[1] - 2 * pad
            for x, y, w, h in self._look(padded, min_small, EDGE_LOOK):
                box = Box(round((x + x0) * scale), round(y * scale), round(w * scale), round(h * scale))
                mirrored = Box(-box.x - box.w if left else 2 * width - box.x - box.w, box.y, box.w, box.h)
                # not the face itself or its mirror image, and with eyes (the mirror completes a cut-off pair)
                if _apart(box, face) and _apart(mirrored, face) and self._eyes_at(gray, _IDENTITY, box.x, box.y, box.w):
                    found.append(box)
        centre = (small.shape[1] / 2, small.shape[0] / 2)
        for angle in TURNED_LOOK_DEG:
            m = cv2.getRotationMatrix2D(centre, angle, 1.0)
            turned = cv2.warpAffine(small, m, small.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
            back = cv2.invertAffineTransform(m)
            upright = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)  # the same turn at full size
            for x, y, w, h in self._look(turned, min_small, TURNED_LOOK):
                cx, cy = back @ np.array([x + w / 2, y + h / 2, 1.0])
                side = w * scale
                box = Box(round(cx * scale - side / 2), round(cy * scale - side / 2), round(side), round(side))
                if _apart(box, face) and self._eyes_at(gray, upright, x * scale, y * scale, round(side)):
                    found.append(box)
        return found

    def _eyes_at(self, gray: np.ndarray, view: np.ndarray, x: float, y: float, side: int) -> bool:
        """Eyes in a second look's candidate: the square at (x, y) of the frame as that look saw
        it (`view`: frame to look, 2x3), cut from the full-size frame, mirrored beyond its edges."""
        m = view.copy()
        m[:, 2] -= (x, y)
        patch = cv2.warpAffine(gray, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        return self._eyes(patch, Box(0, 0, side, side)) is not None

    def _look(self, small: np.ndarray, min_small: int, how: tuple[float, int]) -> np.ndarray:
        if min_small > min(small.shape):
            return np.empty((0, 4), int)
        rects = self._cascade.detectMultiScale(
            np.ascontiguousarray(small), scaleFactor=how[0], minNeighbors=how[1], minSize=(min_small, min_small),
        )
        return np.asarray(rects).reshape(-1, 4)

    def _eyes(self, gray: np.ndarray, box: Box) -> Optional[Eyes]:
        """A plausible pair of eyes in a band of the face box (level within about 30 degrees,
        0.25-0.6 x the box width apart), or None."""
        y0 = box.y + round(box.h * EYE_BAND[0])
        band = gray[y0:box.y + round(box.h * EYE_BAND[1]), box.x:box.x + box.w]
        scale = EYE_FACE_WIDTH / box.w
        size = (EYE_FACE_WIDTH, max(1, round(band.shape[0] * scale)))
        roi = cv2.resize(band, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        for cascade in self._eye_cascades:
            rects = cascade.detectMultiScale(
                roi, scaleFactor=EYE_SCALE_FACTOR, minNeighbors=EYE_NEIGHBORS,
                minSize=(round(0.12 * EYE_FACE_WIDTH),) * 2, maxSize=(round(0.4 * EYE_FACE_WIDTH),) * 2,
            )
            pair = _eye_pair(np.asarray(rects).reshape(-1, 4), EYE_FACE_WIDTH)
            if pair is not None:
                (lx, ly), (rx, ry) = pair
                return Eyes((float(box.x + lx / scale), float(y0 + ly / scale)), (float(box.x + rx / scale), float(y0 + ry / scale)))
        return None


_CASCADES: dict[str, cv2.CascadeClassifier] = {}
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


def _checked(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4))):
        raise ValueError(f"expected a grey, BGR or BGRA image, got shape {image.shape}")
    return image


def _downscaled(gray: np.ndarray, max_side: int) -> np.ndarray:
    height, width = gray.shape
    longest = max(height, width)
    if max_side <= 0 or longest <= max_side:
        return gray
    s = max_side / longest
    size = (max(1, round(width * s)), max(1, round(height * s)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


def _to_source(rect: np.ndarray, sx: float, sy: float, width: int, height: int) -> Box:
    x, y, w, h = (int(v) for v in rect)
    x0, y0 = max(0, round(x * sx)), max(0, round(y * sy))
    x1, y1 = min(width, round((x + w) * sx)), min(height, round((y + h) * sy))
    return Box(x0, y0, x1 - x0, y1 - y0)


def _overlap(a: Box, b: Box) -> float:
    """The share of the smaller box's area that lies inside the other (1.0 when nested)."""
    iw = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    ih = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    if iw <= 0 or ih <= 0:
        return 0.0
    return iw * ih / min(a.w * a.h, b.w * b.h)


def _suppress_duplicates(hits: list[_Hit]) -> list[_Hit]:
    """One box per face: of overlapping boxes keep the one the cascade supports most."""
    kept: list[_Hit] = []
    for hit in sorted(hits, key=lambda h: (-h.votes, -h.box.w * h.box.h, h.box.x, h.box.y)):
        if all(_overlap(hit.box, k.box) < _DUPLICATE_OVERLAP for k in kept):
            kept.append(hit)
    return kept


def _apart(candidate: Box, face: Box) -> bool:
    """Another face, not the same one seen shifted or at another scale."""
    return _overlap(candidate, face) < _DUPLICATE_OVERLAP


def _distinct(boxes: list[Box]) -> list[Box]:
    kept: list[Box] = []
    for box in boxes:
        if all(_overlap(box, k) < _DUPLICATE_OVERLAP for k in kept):
            kept.append(box)
    return kept


def _eye_pair(rects: np.ndarray, width: int) -> Optional[tuple[tuple[float, float], tuple[float, float]]]:
    """Of the eye candidates (x, y, w, h in a face `width` px wide), the pair most like two eyes:
    one each side of the middle, 0.25-0.6 x width apart, at most ~30 degrees off level, similar
    sizes; the pair nearest the usual spacing (0.4 x width) wins."""
    centres = [(x + w / 2, y + h / 2, w) for x, y, w, h in rects]
    best, best_cost = None, None
    for lx, ly, lw in centres:
        for rx, ry, rw in centres:
            dx, dy = rx - lx, ry - ly
            if not (lx < width / 2 < rx and 0.25 * width <= dx <= 0.6 * width and abs(dy) <= 0.6 * dx):
                continue
            if max(lw, rw) > 1.6 * min(lw, rw):
                continue
            cost = abs(dx - 0.4 * width) + abs(dy)
            if best_cost is None or cost < best_cost:
                best, best_cost = ((lx, ly), (rx, ry)), cost
    return best
