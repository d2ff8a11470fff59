"""Whether a face proposal is a drawing of a face, not a face (the face decision's step 2,
detect.py): a drawn face fools both detectors, BlazeFace and the Haar cascade, but its box is
mostly one colour, or flat and colourless like pencil on paper. Skin, even flat-lit or dark, is
neither (docs/accuracy.md has the measurements and each threshold's window)."""

from __future__ import annotations

import cv2
import numpy as np

from ..records import Box
from .imaging import cut, to_gray

MAX_FLATNESS = 0.4  # tuning seeds: real faces < 0.27 (darker tones up to 0.58), smileys >= 0.4
# ... and with the box's grey range stretched to 0-255: darker tones <= 0.26 (one 0.35), smileys >= 0.34.
STRETCHED_FLATNESS = 0.3
# Picasso's line drawing is 0.35-0.48 flat with a saturation of 10-50; the real faces that flat
# are the darker tones, saturated 88-174.
PALE_FLATNESS, MIN_SATURATION = 0.3, 70
FLAT_SIDE, FLAT_LEVELS = 48, 8


def flatness(image_bgr: np.ndarray, box: Box) -> float:
    """The share of the box's pixels (at FLAT_SIDE px, blurred) within FLAT_LEVELS grey levels, in
    every colour channel, of the box's most common colour: drawings are mostly one colour."""
    return _flatness(cut(image_bgr, box, FLAT_SIDE))


def saturation(image_bgr: np.ndarray, box: Box) -> float:
    """The median colour saturation (HSV S, 0-255) of the box's pixels at FLAT_SIDE px."""
    return _saturation(cut(image_bgr, box, FLAT_SIDE))


def stretched_flatness(image_bgr: np.ndarray, box: Box) -> float:
    """The flatness of the box with its grey range stretched to 0-255 (`_stretched`)."""
    return _flatness(_stretched(cut(image_bgr, box, FLAT_SIDE)))


def drawn(image: np.ndarray, box: Box) -> bool:
    """A drawing of a face, not a face: mostly one colour (a smiley), even with its contrast
    stretched (a dark face is flat too, until then), or rather flat and with little colour (pencil
    on paper). Skin, even flat-lit or dark, has colour."""
    patch = cut(image, box, FLAT_SIDE)
    flat = _flatness(patch)
    if flat > MAX_FLATNESS and _flatness(_stretched(patch)) > STRETCHED_FLATNESS:
        return True
    return flat > PALE_FLATNESS and _saturation(patch) < MIN_SATURATION


def _stretched(patch: np.ndarray) -> np.ndarray:
    """The patch with its grey range (5th to 95th percentile) stretched to 0-255: a dark face's
    shading comes back, a drawing's fill stays one colour."""
    lo, hi = np.percentile(to_gray(patch), (5, 95))
    gain = 255.0 / max(hi - lo, 1.0)
    return np.clip((patch.astype(np.float32) - lo) * gain, 0, 255).astype(np.uint8)


def _flatness(patch: np.ndarray) -> float:
    pixels = cv2.GaussianBlur(patch, (3, 3), 0).reshape(-1, 3).astype(np.int16)
    bins = (pixels[:, 0] >> 3) * 1024 + (pixels[:, 1] >> 3) * 32 + (pixels[:, 2] >> 3)
    centre = pixels[bins == np.bincount(bins).argmax()].mean(axis=0)
    return float(np.mean(np.all(np.abs(pixels - centre) <= FLAT_LEVELS, axis=1)))


def _saturation(patch: np.ndarray) -> float:
    return float(np.median(cv2.cvtColor(patch, cv2.COLOR_BGR2HSV)[:, :, 1]))
