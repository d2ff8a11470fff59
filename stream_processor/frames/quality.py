"""Quality gates of a detected face and the perceptual hash of its crop: plain functions, no Spark.

`measure` scores the face region of the source frame, `gate` turns the scores into the first
failed gate's reason (or None), `crop_hash` is the 64-bit pHash of the grey crop that the
near-duplicate check compares with `hamming`. The defaults of the thresholds were calibrated by
benchmarks/gates.py on real faces degraded by known amounts (benchmarks/README.md, "gates.py").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import cv2
import numpy as np

from ..config import Config
from ..records import Box, Reason
from .imaging import to_gray

SHARPNESS_SIDE = 128  # px: the face is measured at this size, so that sharpness does not grow with the face
# Second derivatives along four directions: the 3x3 Laplacian split into its horizontal, vertical
# and (divided by the squared step, 2) diagonal parts.
_SECOND_DERIVATIVES = tuple(np.array(k, np.float32) for k in (
    [[0, 0, 0], [1, -2, 1], [0, 0, 0]],
    [[0, 1, 0], [0, -2, 0], [0, 1, 0]],
    [[0.5, 0, 0], [0, -1, 0], [0, 0, 0.5]],
    [[0, 0, 0.5], [0, -1, 0], [0.5, 0, 0]],
))
DARK, BRIGHT = 16, 240  # grey levels at or beyond which a pixel counts as clipped
HASH_SIDE = 32  # the crop is reduced to 32x32 grey; its DCT's top-left 8x8 make the 64-bit pHash


@dataclass(frozen=True)
class QualityScores:
    sharpness: float  # the least, over 4 directions, variance of the normalised grey face's 2nd derivative
    brightness: float  # mean grey of the face, 0-255
    dark: float  # share of the face's pixels at or below DARK
    bright: float  # share of the face's pixels at or above BRIGHT
    face_px: int  # the face box's shorter side in source pixels


@dataclass(frozen=True)
class QualitySettings:
    min_face_px: int
    min_sharpness: float
    min_brightness: float
    max_brightness: float
    max_dark: float
    max_bright: float

    @staticmethod
    def of(cfg: Config) -> "QualitySettings":
        return QualitySettings(cfg.min_face_px, cfg.min_sharpness, cfg.min_brightness, cfg.max_brightness,
                               cfg.max_dark_share, cfg.max_bright_share)


def measure(image_bgr: np.ndarray, box: Box) -> QualityScores:
    """Scores of the face in `box` (source pixels; clipped to the frame).

    Sharpness is a variance of the Laplacian that also sees motion blur: the grey face is resized
    to SHARPNESS_SIDE square and normalised to a standard deviation of 64 grey levels (so that it
    measures detail, not the face's size, brightness or contrast); then the Laplacian is split
    into its second derivatives along the rows, the columns and both diagonals, and the score is
    the least of their variances. Motion blur wipes out detail along one direction only, which the
    whole Laplacian's variance hardly shows (benchmarks/README.md, "gates.py").
    """
    height, width = image_bgr.shape[:2]
    x0, y0 = max(0, box.x), max(0, box.y)
    x1, y1 = min(width, box.x + box.w), min(height, box.y + box.h)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"face box {box} is outside the {width}x{height} frame")
    face = to_gray(image_bgr[y0:y1, x0:x1])
    side = SHARPNESS_SIDE
    interpolation = cv2.INTER_AREA if min(face.shape) > side else cv2.INTER_LINEAR
    small = cv2.resize(face, (side, side), interpolation=interpolation).astype(np.float32)
    mean, std = cv2.meanStdDev(small)
    normalised = (small - float(mean[0, 0])) * (64.0 / max(float(std[0, 0]), 1.0))
    sharpness = min(float(cv2.meanStdDev(cv2.filter2D(normalised, cv2.CV_32F, k)[1:-1, 1:-1])[1][0, 0]) ** 2
                    for k in _SECOND_DERIVATIVES)
    hist = cv2.calcHist([face], [0], None, [256], [0, 256]).ravel()
    n = float(face.size)
    brightness = float(np.dot(hist, np.arange(256))) / n
    return QualityScores(
        sharpness=round(sharpness, 3),
        brightness=round(brightness, 3),
        dark=round(float(hist[:DARK + 1].sum()) / n, 4),
        bright=round(float(hist[BRIGHT:].sum()) / n, 4),
        face_px=int(min(x1 - x0, y1 - y0)),
    )


def gate(scores: QualityScores, settings: QualitySettings) -> Optional[Reason]:
    """The first gate the face fails, in this order: size, exposure, sharpness; None if it passes.

    Exposure comes before sharpness: a dark or blown-out face also loses detail, and the reason
    should name the cause."""
    if scores.face_px < settings.min_face_px:
        return Reason.FACE_TOO_SMALL
    return gate_exposure_and_sharpness(scores, settings)


def gate_exposure_and_sharpness(scores: QualityScores, settings: QualitySettings) -> Optional[Reason]:
    """`gate` without the size gate: also for a region where no face was confirmed, or the whole
    frame, so that a frame too dark, too bright or too blurred to find a face in says so."""
    under = scores.brightness < settings.min_brightness or scores.dark > settings.max_dark
    over = scores.brightness > settings.max_brightness or scores.bright > settings.max_bright
    if under and over:  # clipped at both ends: the larger excess names it
        return Reason.OVEREXPOSED if scores.bright - settings.max_bright > scores.dark - settings.max_dark else Reason.UNDEREXPOSED
    if under:
        return Reason.UNDEREXPOSED
    if over:
        return Reason.OVEREXPOSED
    if scores.sharpness < settings.min_sharpness:
        return Reason.BLURRY
    return None


def crop_hash(crop_bgr: np.ndarray) -> int:
    """64-bit pHash of the grey crop: the signs of the 8x8 lowest frequencies (DC left out, its bit
    is the median's) of the 32x32 DCT, relative to their median. Survives a few px of shift, a few
    % of scale, brightness and JPEG; bit 63 is the top-left coefficient."""
    small = cv2.resize(to_gray(crop_bgr), (HASH_SIDE, HASH_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].ravel()
    bits = low > np.median(low[1:])
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def hamming(a: int, b: int) -> int:
    """Bits that differ between two hashes."""
    return (a ^ b).bit_count()


def near_duplicate(h: int, kept: Iterable[int], min_distance: int) -> bool:
    """Whether `h` is within `min_distance` bits of any hash in `kept` (min_distance 0: never)."""
    return min_distance > 0 and any((h ^ k).bit_count() <= min_distance for k in kept)


def hash_hex(h: int) -> str:
    """The hash as the manifest stores it: 16 lower-case hex digits."""
    return f"{h:016x}"
