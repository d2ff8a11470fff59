"""Face proposals with landmarks from MediaPipe's short-range BlazeFace, run through `cv2.dnn`.

The frame is letterboxed to a square and scaled to 128x128 (RGB in [-1, 1], NHWC). The network
scores 896 anchors (a 16x16 grid with 2 anchors a cell, then 8x8 with 6) and regresses, for each,
a box and six keypoints (the eyes, image-left first, the nose tip, the mouth, the ears) in input
pixels from the anchor's centre. Overlapping detections are blended as MediaPipe does (weighted
non-maximum suppression), which steadies the keypoints.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from ..records import Box
from .face_model import checked

INPUT_SIDE = 128
_GRIDS = ((16, 2), (8, 6))  # cells per side, anchors per cell
_BLEND_IOU = 0.3  # detections overlapping more than this are one face, blended by score
# The smallest face (px of the 128 px input) the whole frame finds reliably: on real faces pasted
# into 640x480 frames, 24 px (120 px in the frame) scored >= 0.75 every time, 20 px most of the time.
RELIABLE_INPUT_FACE = 26
# A closer look at a proposal: the square of CLOSER x its side round it. On the tuning frames a
# 60-100 px face with a weak, too large hint box (0.05-0.2, 100-230 px) scores 0.85-0.96 there;
# 1.6 or 2.5 lose two-face and no-face frames.
CLOSER = 2.0
SQUARE_EDGE = 0.02  # of the square's side: a detection this near an edge inside the frame may be a cut face


@dataclass(frozen=True)
class Proposal:
    """A face BlazeFace sees: its box (a tight square on the inner face, source pixels), its
    score (0-1) and its keypoints (x, y in source pixels): eyes, nose, mouth, ears."""

    box: Box
    score: float
    keypoints: tuple[tuple[float, float], ...]

    @property
    def eyes(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The eye centres, the one on the image's left first."""
        a, b = self.keypoints[0], self.keypoints[1]
        return (a, b) if a[0] <= b[0] else (b, a)


@dataclass(frozen=True)
class Detections:
    """The network's raw detections: (n, 16) geometry (box corners, then 6 keypoints, in frame
    pixels) and n scores."""

    geometry: np.ndarray
    scores: np.ndarray

    def __add__(self, other: "Detections") -> "Detections":
        return Detections(np.concatenate([self.geometry, other.geometry]), np.concatenate([self.scores, other.scores]))

    def seen_closer(self, closer: "Detections") -> "Detections":
        """These detections, those of a face that a closer look saw too replaced by the closer
        look's, whose geometry is finer: blended with the whole frame's, it is not."""
        keep = ~np.any(_ious(self.geometry[:, :4], closer.geometry[:, :4]) > _BLEND_IOU, axis=1)
        return Detections(self.geometry[keep], self.scores[keep]) + closer

    def at_least(self, score: float) -> "Detections":
        """Only the detections scoring at least `score`."""
        keep = self.scores >= score
        return Detections(self.geometry[keep], self.scores[keep])

    def proposals(self) -> list[Proposal]:
        """One proposal per face, best first: overlapping detections blended as MediaPipe does."""
        return [_proposal(g, s) for g, s in _blended(self.geometry, self.scores)]


def _anchors() -> np.ndarray:
    centres = [((x + 0.5) / cells, (y + 0.5) / cells)
               for cells, per_cell in _GRIDS for y in range(cells) for x in range(cells) for _ in range(per_cell)]
    return np.array(centres, np.float32) * INPUT_SIDE


_ANCHORS = _anchors()


class BlazeFace:
    """One network per process; `propose` is not for concurrent threads (cv2.dnn keeps state)."""

    def __init__(self, model: Path) -> None:
        self._net = cv2.dnn.readNetFromONNX(str(checked(model)))
        # OpenCV 4.14 asserts in forward() on a MaxPool that feeds a channel-padding Concat when
        # layers are fused; unfused it runs, at the same cost.
        self._net.enableFusion(False)
        self._outputs = self._net.getUnconnectedOutLayersNames()
        self._lock = threading.Lock()

    def whole(self, image_bgr: np.ndarray, min_score: float) -> Detections:
        """Detections on the whole frame (BGR uint8), which finds faces down to about a fifth of
        its longer side."""
        height, width = image_bgr.shape[:2]
        return self._raw(image_bgr, 0, 0, max(height, width), min_score)

    def around(self, image_bgr: np.ndarray, box: Box, min_score: float) -> Detections:
        """Detections on the square of CLOSER x the box's side round it (black beyond the frame's
        edge, as in the letterbox), away from the square's edges inside the frame: a closer look,
        at which a small or cut-off face scores higher and its box and keypoints are finer."""
        height, width = image_bgr.shape[:2]
        side = max(2, round(CLOSER * max(box.w, box.h)))
        x, y = round(box.x + box.w / 2 - side / 2), round(box.y + box.h / 2 - side / 2)
        x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + side), min(height, y + side)
        square = np.zeros((side, side, 3), np.uint8)
        if x1 > x0 and y1 > y0:
            square[y0 - y:y1 - y, x0 - x:x1 - x] = image_bgr[y0:y1, x0:x1]
        return _inside(self._raw(square, x, y, side, min_score), x, y, side, width, height)

    @staticmethod
    def smallest_whole_face(image_bgr: np.ndarray) -> float:
        """The smallest face (px) the whole frame finds reliably; smaller ones need a closer look."""
        return RELIABLE_INPUT_FACE * max(image_bgr.shape[:2]) / INPUT_SIDE

    def _raw(self, image: np.ndarray, x0: int, y0: int, side: int, min_score: float) -> Detections:
        """Detections of the `side` square at (x0, y0) of the frame (`image` is that part, letterboxed
        to the square): (n, 16) geometry (box corners, 6 keypoints) in frame pixels, and scores."""
        height, width = image.shape[:2]
        scale = side / INPUT_SIDE
        px, py = (side - width) // 2, (side - height) // 2
        small = cv2.resize(image, (max(1, round(width / scale)), max(1, round(height / scale))), interpolation=cv2.INTER_AREA)
        square = np.zeros((INPUT_SIDE, INPUT_SIDE, 3), np.uint8)
        ox, oy = round(px / scale), round(py / scale)
        square[oy:oy + small.shape[0], ox:ox + small.shape[1]] = small[:INPUT_SIDE - oy, :INPUT_SIDE - ox]
        blob = cv2.cvtColor(square, cv2.COLOR_BGR2RGB).astype(np.float32)[None] * (2 / 255) - 1
        with self._lock:
            self._net.setInput(blob)
            scores_16, scores_8, boxes_16, boxes_8 = self._net.forward(self._outputs)
        logits = np.concatenate([scores_16.reshape(-1), scores_8.reshape(-1)])
        keep = np.flatnonzero(logits >= _logit(min_score))
        regs = np.concatenate([boxes_16.reshape(-1, 16), boxes_8.reshape(-1, 16)])[keep]
        centres = _ANCHORS[keep] + regs[:, :2]
        sizes = regs[:, 2:4]
        points = _ANCHORS[keep, None, :] + regs[:, 4:].reshape(-1, 6, 2)
        geometry = np.concatenate([centres - sizes / 2, centres + sizes / 2, points.reshape(-1, 12)], axis=1)
        geometry = geometry * scale + np.tile([x0 - ox * scale, y0 - oy * scale], 8)
        return Detections(geometry, 1 / (1 + np.exp(-logits[keep])))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def _inside(found: Detections, x: int, y: int, side: int, width: int, height: int) -> Detections:
    """The detections of the square (x, y, side) whose box lies inside it, away from its edges
    within the frame: a face the square cuts is not seen whole there."""
    geometry, scores = found.geometry, found.scores
    pad = SQUARE_EDGE * side
    lo_x, lo_y = (x + pad if x > 0 else -np.inf), (y + pad if y > 0 else -np.inf)
    hi_x = x + side - pad if x + side < width else np.inf
    hi_y = y + side - pad if y + side < height else np.inf
    ok = (geometry[:, 0] >= lo_x) & (geometry[:, 1] >= lo_y) & (geometry[:, 2] <= hi_x) & (geometry[:, 3] <= hi_y)
    return Detections(geometry[ok], scores[ok])


def _blended(geometry: np.ndarray, scores: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's weighted suppression: the best detection and all that overlap it become one,
    their geometry averaged by score, the best score kept."""
    order = np.argsort(-scores)
    geometry, scores = geometry[order], scores[order]
    ious = _ious(geometry[:, :4], geometry[:, :4])
    left = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not left[i]:
            continue
        overlap = left & (ious[i] > _BLEND_IOU)
        overlap[i] = True
        w = scores[overlap]
        out.append(((geometry[overlap] * w[:, None]).sum(0) / w.sum(), float(scores[i])))
        left &= ~overlap
    return out


def _ious(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box (x0, y0, x1, y1) of `a` with every box of `b`: an (len(a), len(b)) array."""
    a, b = a[:, None, :], b[None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter
    return inter / np.maximum(area, 1e-6)


def _proposal(g: np.ndarray, score: float) -> Proposal:
    x0, y0, x1, y1 = (float(v) for v in g[:4])
    box = Box(round(x0), round(y0), max(1, round(x1 - x0)), max(1, round(y1 - y0)))
    points = tuple((float(g[4 + 2 * k]), float(g[5 + 2 * k])) for k in range(6))
    return Proposal(box, round(score, 4), points)


@lru_cache(maxsize=2)
def blazeface(model: Path) -> BlazeFace:
    """The process's network for this file: each Python worker loads it once."""
    return BlazeFace(model)
