"""Face detection: an OpenCV-bundled frontal-face Haar cascade on a downscaled grayscale copy.

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

from .config import Config
from .records import Box

CASCADE_FILE = "haarcascade_frontalface_alt2.xml"
_WINDOW = 24  # the cascade's training window: nothing smaller can be found
# Boxes of two visible faces hardly overlap (a box covers the inner face), so boxes that share a
# fifth of the smaller one's area are one face seen twice, at a shifted position or scale.
_DUPLICATE_OVERLAP = 0.2


def limit_opencv_threads(n: int = 1) -> None:
    """Spark already runs one task per core: OpenCV's own thread pool on top would oversubscribe."""
    cv2.setNumThreads(max(0, int(n)))


@dataclass(frozen=True)
class DetectorSettings:
    max_side: int  # 0 = detect at full size
    min_face_fraction: float
    scale_factor: float
    min_neighbors: int
    cascade: str = CASCADE_FILE  # a file in cv2.data.haarcascades

    @staticmethod
    def of(cfg: Config) -> "DetectorSettings":
        return DetectorSettings(cfg.detect_max_side, cfg.min_face_fraction, cfg.scale_factor, cfg.min_neighbors)


@dataclass(frozen=True)
class _Hit:
    box: Box
    votes: int


class FaceDetector:
    """Finds frontal faces; boxes are in the source image's pixels, one box per face.

    Not for sharing between threads (OpenCV's cascade keeps per-call state): one per process.
    """

    def __init__(self, settings: DetectorSettings) -> None:
        self.settings = settings
        self._cascade = _cascade(settings.cascade)

    def detect(self, image_bgr: np.ndarray) -> list[Box]:
        """Grey, BGR or BGRA uint8 images; one too small for the cascade has no face."""
        image = _checked(image_bgr)
        height, width = image.shape[:2]
        if min(height, width) < _WINDOW:
            return []
        small = _downscaled(_gray(image), self.settings.max_side)
        sy, sx = height / small.shape[0], width / small.shape[1]
        min_side = self.settings.min_face_fraction * min(height, width)
        min_small = max(_WINDOW, int(min_side / max(sx, sy)))
        if min_small > min(small.shape):
            return []
        rects, votes = self._cascade.detectMultiScale2(
            small,
            scaleFactor=self.settings.scale_factor,
            minNeighbors=self.settings.min_neighbors,
            minSize=(min_small, min_small),
        )
        hits = [
            _Hit(_to_source(r, sx, sy, width, height), int(v))
            for r, v in zip(np.asarray(rects).reshape(-1, 4), np.asarray(votes).reshape(-1))
        ]
        hits = [h for h in hits if min(h.box.w, h.box.h) >= min_side]
        return sorted((h.box for h in _suppress_duplicates(hits)), key=lambda b: (b.y, b.x))


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


def _checked(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4))):
        raise ValueError(f"expected a grey, BGR or BGRA image, got shape {image.shape}")
    return image


def _gray(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)


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
