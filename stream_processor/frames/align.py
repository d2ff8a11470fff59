"""Aligned face crops: the eye line levelled and the eyes at fixed places, as facenet's and
Frigate's alignment do; the eyes are BlazeFace's keypoints (detect.py). Eyes too close together
to align by (a degenerate detection) give the plain crop of crop.py.

The fixed places match where the eyes sit, on average, in the plain crop (the Haar box grown by
`margin`): so both kinds of crop show the face at the same place and scale, and another
detector finds it again in either (benchmarks/accuracy.py checks it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from .crop import crop_face, crop_region
from .detect import FaceFinding

# BlazeFace's eye keypoints in the confirming Haar box (medians over the tuning frames of
# benchmarks/real_faces.py): 0.355 x the box width apart, 0.405 x its height below its top, centred.
EYE_SPAN = 0.36
EYE_HEIGHT = 0.40
MIN_EYE_SPAN = 0.15  # x the box width: closer eyes are a degenerate detection, not aligned by


@dataclass(frozen=True)
class AlignedCrop:
    image: np.ndarray  # square, size x size (native size when size is 0)
    roll_deg: Optional[float]  # the eye line's angle in the frame (y down: positive = right eye lower)
    aligned: bool  # False: eyes too close to align by, the plain unrotated crop
    transform: np.ndarray  # 2x3 affine map from frame pixels to crop pixels


def eye_positions(size: int, margin: float) -> tuple[tuple[float, float], tuple[float, float]]:
    """Where the aligned crop puts the left and right eye (pixels of a `size` crop)."""
    grown = 1 + 2 * margin
    span, y = EYE_SPAN / grown * size, (margin + EYE_HEIGHT) / grown * size
    return (size / 2 - span / 2, y), (size / 2 + span / 2, y)


def align_face(image: np.ndarray, finding: FaceFinding, margin: float, size: int) -> AlignedCrop:
    """The face crop, rotated about the eyes' midpoint so their line is level and scaled so they
    land on `eye_positions`. Pixels beyond the frame repeat its edge (no black corners)."""
    (lx, ly), (rx, ry) = finding.eyes.left, finding.eyes.right
    if math.hypot(rx - lx, ry - ly) < MIN_EYE_SPAN * finding.box.w:
        return _plain(image, finding, margin, size)
    roll = math.degrees(math.atan2(ry - ly, rx - lx))
    out = size or round(finding.box.w * (1 + 2 * margin))
    (ex0, ey), (ex1, _) = eye_positions(out, margin)
    scale = (ex1 - ex0) / math.hypot(rx - lx, ry - ly)
    mx, my = (lx + rx) / 2, (ly + ry) / 2
    m = cv2.getRotationMatrix2D((mx, my), roll, scale)
    m[:, 2] += (out / 2 - mx, ey - my)
    transform = m.copy()
    # Cut out only the part of the frame the crop needs (shrunk with area averaging first when
    # the crop is smaller: warpAffine alone would alias).
    inverse = cv2.invertAffineTransform(m)
    corners = np.array([[0, 0, 1], [out, 0, 1], [0, out, 1], [out, out, 1]], np.float64) @ inverse.T
    height, width = image.shape[:2]
    x0, y0 = max(0, int(corners[:, 0].min()) - 2), max(0, int(corners[:, 1].min()) - 2)
    x1, y1 = min(width, int(corners[:, 0].max()) + 3), min(height, int(corners[:, 1].max()) + 3)
    if x1 <= x0 or y1 <= y0:
        return _plain(image, finding, margin, size)
    region = image[y0:y1, x0:x1]
    m[:, 2] += m[:, :2] @ np.array([x0, y0], np.float64)
    if scale < 0.8:
        region = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        shrink = np.array([region.shape[1] / (x1 - x0), region.shape[0] / (y1 - y0)])
        m[:, :2] /= shrink
    crop = cv2.warpAffine(np.ascontiguousarray(region), m, (out, out), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return AlignedCrop(crop, roll, True, transform)


def _plain(image: np.ndarray, finding: FaceFinding, margin: float, size: int) -> AlignedCrop:
    r = crop_region(image.shape[1], image.shape[0], finding.box, margin)
    s = (size or r.w) / r.w
    transform = np.array([[s, 0.0, -r.x * s], [0.0, s, -r.y * s]])
    return AlignedCrop(crop_face(image, finding.box, margin, size), None, False, transform)
