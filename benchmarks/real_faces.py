"""Frames of real, sharp faces at native resolution for benchmarks/accuracy.py and the unit tests.

Faces: 17 photos in `.local/faces` (face_recognition's Obama and Biden pictures, the women of
face-api's group photos) and scikit-image's astronaut. Each face's box is what the frame
detector (haarcascade_frontalface_alt2, full size) finds on the photo, and its eye centres what
`FaceDetector._eyes` finds there; both were checked by eye and are listed below as labels.
Left out: face-api sample2's face (eyes closed, head bowed) and sample4's (blurred), which stay
listed as `_OTHER_FACES` so that no patch cuts into them.

Kinds of frames (640x480, on scikit-image photos without faces):
- `one`: one face, 150-300 px, its eye line within 3 degrees of level;
- `rotated`: one face whose eye line is turned in-plane by 5-20 degrees either way;
- `two`: a face as in `one` and a second face that is smaller (down to the smallest face the
  job keeps), 15-35 % cut off by the frame's edge, or turned by 10-25 degrees;
- `none`: no face, but face-like textures: a cat's face, upside-down faces, drawn smileys, the
  LFW non-face patches.
Deterministic from the seed; `TUNING_SEED` and `HELD_OUT_SEED` blocks never overlap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from stream_processor.records import Box

FACES_DIR = Path(__file__).resolve().parent.parent / ".local" / "faces"
KINDS = ("one", "rotated", "two", "none")
TUNING_SEED = 3_000_000
HELD_OUT_SEED = 4_000_000
WIDTH, HEIGHT = 640, 480
FACE_MIN, FACE_MAX = 150, 300
SMALLEST_FACE = 96  # the job's smallest face in a 640x480 frame: min_face_fraction 0.2 x 480


@dataclass(frozen=True)
class Source:
    """A labelled face: photo (under .local/faces, or "astronaut"), box, eye centres (left, right)."""

    photo: str
    box: Box
    eyes: tuple[float, float, float, float]  # left x, y, right x, y in photo pixels


SOURCES = (
    Source("face-api/sample1.jpg", Box(364, 363, 244, 244), (436, 456, 510, 457)),
    Source("face-api/sample3.jpg", Box(1027, 225, 275, 275), (1113, 318, 1214, 338)),
    Source("face-api/sample3.jpg", Box(1480, 314, 249, 249), (1550, 408, 1656, 401)),
    Source("face-api/sample3.jpg", Box(556, 342, 239, 239), (626, 430, 718, 431)),
    Source("face-api/sample5.jpg", Box(1089, 217, 187, 187), (1155, 291, 1226, 292)),
    Source("face-api/sample5.jpg", Box(783, 122, 199, 199), (842, 192, 916, 204)),
    Source("face-api/sample5.jpg", Box(1359, 409, 244, 244), (1444, 509, 1518, 494)),
    Source("face-api/sample5.jpg", Box(639, 454, 164, 164), (681, 511, 743, 514)),
    Source("face-api/sample5.jpg", Box(354, 891, 244, 244), (419, 991, 517, 980)),
    Source("face-api/sample6.jpg", Box(1445, 284, 267, 267), (1531, 372, 1627, 393)),
    Source("face-api/sample6.jpg", Box(1155, 338, 236, 236), (1226, 426, 1325, 429)),
    Source("face-api/sample6.jpg", Box(623, 356, 239, 239), (703, 456, 792, 448)),
    Source("face-api/sample6.jpg", Box(243, 509, 258, 258), (315, 607, 423, 598)),
    Source("face_recognition/biden.jpg", Box(430, 203, 325, 325), (534, 321, 647, 347)),
    Source("face_recognition/obama.jpg", Box(353, 101, 279, 279), (443, 211, 545, 211)),
    Source("face_recognition/obama2.jpg", Box(136, 240, 343, 343), (247, 369, 359, 374)),
    Source("face_recognition/obama3.jpg", Box(637, 260, 320, 320), (737, 387, 856, 399)),
    Source("astronaut", Box(168, 56, 118, 118), (202, 100, 246, 103)),
)
_OTHER_FACES = {
    "face-api/sample2.jpg": (Box(889, 261, 198, 198),),
    "face-api/sample4.jpg": (Box(940, 205, 215, 215), Box(251, 212, 240, 240)),
}
_BACKGROUNDS = ("coffee", "rocket", "brick", "grass", "gravel", "moon", "page", "text",
                "hubble_deep_field", "immunohistochemistry", "retina", "stereo_motorcycle", "clock", "cell")


@dataclass(frozen=True)
class Case:
    """A frame and its truth: face boxes (the first is the main face), the main face's eye
    centres and in-frame roll in degrees (atan2 of the eye line, y down)."""

    image: np.ndarray  # BGR uint8
    kind: str
    faces: tuple[Box, ...]
    eyes: Optional[tuple[float, float, float, float]] = None
    roll: Optional[float] = None
    source: Optional[Source] = None
    variant: str = ""


@lru_cache(maxsize=None)
def photo(name: str) -> np.ndarray:
    if name == "astronaut":
        from skimage import data

        return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    image = cv2.imread(str(FACES_DIR / name), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"{FACES_DIR / name}: run scripts/setup.sh to fetch the face photos")
    return image


def available() -> bool:
    return all((FACES_DIR / s.photo).is_file() for s in SOURCES if s.photo != "astronaut")


@lru_cache(maxsize=None)
def _background(name: str) -> np.ndarray:
    from skimage import data

    image = getattr(data, name)()
    if isinstance(image, tuple):
        image = image[0]
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(image * 255.0 if image.max() <= 1.0 else image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(image[:, :, :3], cv2.COLOR_RGB2BGR)


def _canvas(rng: np.random.Generator) -> np.ndarray:
    bg = _background(_BACKGROUNDS[int(rng.integers(len(_BACKGROUNDS)))])
    ph, pw = bg.shape[:2]
    cw = min(pw, ph * WIDTH / HEIGHT) * rng.uniform(0.5, 1.0)
    ch = cw * HEIGHT / WIDTH
    x, y = rng.uniform(0, pw - cw), rng.uniform(0, ph - ch)
    crop = np.ascontiguousarray(bg[int(y):int(y + ch), int(x):int(x + cw)])
    if rng.random() < 0.5:
        crop = np.ascontiguousarray(crop[:, ::-1])
    frame = cv2.resize(crop, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA if cw > WIDTH else cv2.INTER_LINEAR)
    return cv2.transform(frame, np.diag(rng.uniform(0.8, 1.15, size=3)))


@dataclass(frozen=True)
class _Patch:
    image: np.ndarray  # BGR, square
    box: Box  # the face's box inside the patch
    eyes: tuple[float, float, float, float]


def _grow(source: Source) -> float:
    """How far the patch may reach around the face (x its box) without taking in another face."""
    b = source.box
    cx, cy = b.x + b.w / 2, b.y + b.h / 2
    grow = 1.8
    others = [s.box for s in SOURCES if s.photo == source.photo and s.box != b] + list(_OTHER_FACES.get(source.photo, ()))
    for o in others:
        d = max(o.x - cx, cx - (o.x + o.w), o.y - cy, cy - (o.y + o.h))
        grow = min(grow, 2 * d / b.w)
    return max(grow, 1.2)


def _patch(source: Source, side: int, angle: float) -> _Patch:
    """The face scaled so that its box is `side` px, turned by `angle` degrees (counter-clockwise
    on screen) about its centre, in a square patch of `_grow` x side."""
    return _warp_face(photo(source.photo), source, side, angle, _grow(source))


def _warp_face(src: np.ndarray, source: Source, side: int, angle: float, grow: float) -> _Patch:
    """`_patch` from the photo `src` (source's box and eyes in its pixels), the patch grow x side."""
    b = source.box
    s = side / b.w
    size = max(8, round(grow * side))
    cx, cy = b.x + b.w / 2, b.y + b.h / 2
    m = cv2.getRotationMatrix2D((cx, cy), angle, s)
    m[:, 2] += (size / 2 - cx, size / 2 - cy)
    if s < 0.8:  # shrink with area averaging first: warpAffine alone would alias
        src = cv2.resize(src, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        m[:, :2] /= s
    image = cv2.warpAffine(src, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    if s < 0.8:
        m[:, :2] *= s

    def at(x: float, y: float) -> tuple[float, float]:
        return (m[0, 0] * x + m[0, 1] * y + m[0, 2], m[1, 0] * x + m[1, 1] * y + m[1, 2])

    lx, ly = at(*source.eyes[:2])
    rx, ry = at(*source.eyes[2:])
    fx, fy = at(cx, cy)
    return _Patch(image, Box(round(fx - side / 2), round(fy - side / 2), side, side), (lx, ly, rx, ry))


def _disc_alpha(size: int, inner: float = 0.8) -> np.ndarray:
    r = np.hypot(*np.meshgrid(np.arange(size) + 0.5 - size / 2, np.arange(size) + 0.5 - size / 2)) / (size / 2)
    a = np.clip((1.0 - r) / (1.0 - inner), 0.0, 1.0)
    return (a * a * (3 - 2 * a))[..., None]


def _paste(canvas: np.ndarray, patch: np.ndarray, x: int, y: int, rng: np.random.Generator) -> None:
    """Alpha-blend a square patch (a disc of it) with its top-left at (x, y); parts outside the
    frame are cut off. Lighting varies as a webcam's would."""
    size = patch.shape[0]
    lit = np.clip(patch.astype(np.float32) * rng.uniform(0.8, 1.15) + rng.uniform(-20, 20), 0, 255)
    alpha = _disc_alpha(size)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(canvas.shape[1], x + size), min(canvas.shape[0], y + size)
    if x1 <= x0 or y1 <= y0:
        return
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    p, a = lit[y0 - y:y1 - y, x0 - x:x1 - x], alpha[y0 - y:y1 - y, x0 - x:x1 - x]
    canvas[y0:y1, x0:x1] = (region + a * (p - region) + 0.5).astype(np.uint8)


def _noisy(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sigma = rng.uniform(0.0, 4.0)
    noise = rng.standard_normal(canvas.shape[:2] + (1,), dtype=np.float32) * sigma + 0.5
    return np.clip(canvas + noise, 0, 255).astype(np.uint8)


def _shifted(box: Box, x: int, y: int) -> Box:
    return Box(box.x + x, box.y + y, box.w, box.h)


def _place(patch: _Patch, rng: np.random.Generator, x_range: tuple[int, int]) -> tuple[int, int]:
    """Top-left of a patch whose face box lies inside the frame, its left edge in x_range."""
    b = patch.box
    lo_x, hi_x = max(x_range[0], -b.x), min(x_range[1], WIDTH - b.x - b.w)
    lo_y, hi_y = -b.y, HEIGHT - b.y - b.h
    return int(rng.integers(lo_x, max(lo_x, hi_x) + 1)), int(rng.integers(lo_y, max(lo_y, hi_y) + 1))


def _roll(eyes: tuple[float, float, float, float]) -> float:
    lx, ly, rx, ry = eyes
    return math.degrees(math.atan2(ry - ly, rx - lx))


def make_case(kind: str, seed: int) -> Case:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    rng = np.random.default_rng([seed, KINDS.index(kind), 10])
    canvas = _canvas(rng)
    if kind == "none":
        return Case(_noisy(_face_like(canvas, rng), rng), kind, ())
    source = SOURCES[int(rng.integers(len(SOURCES)))]
    # the face's roll in the frame: the source's own roll minus the turn (counter-clockwise)
    roll = float(rng.choice((-1, 1)) * rng.uniform(5, 20)) if kind == "rotated" else float(rng.uniform(-3, 3))
    angle = _roll(source.eyes) - roll
    side = int(rng.integers(FACE_MIN, FACE_MAX + 1))
    variant = ""
    second: Optional[tuple[_Patch, int, int]] = None
    if kind == "two":
        variant = ("smaller", "cut", "turned")[int(rng.integers(3))]
        side = int(rng.integers(FACE_MIN, 221))
        other = SOURCES[int(rng.integers(len(SOURCES)))]
        if variant == "smaller":
            p2 = _patch(other, int(rng.integers(SMALLEST_FACE, round(0.85 * side) + 1)), float(rng.uniform(-3, 3)))
        elif variant == "cut":
            p2 = _patch(other, int(rng.integers(FACE_MIN, 221)), float(rng.uniform(-3, 3)))
        else:
            p2 = _patch(other, int(rng.integers(round(0.6 * side), side + 1)), float(rng.choice((-1, 1)) * rng.uniform(10, 25)))
        second = (p2, 0, 0)
    main = _patch(source, side, angle)
    if second is None:
        x, y = _place(main, rng, (-main.image.shape[0], WIDTH))
        _paste(canvas, main.image, x, y, rng)
        faces = (_shifted(main.box, x, y),)
    else:
        p2 = second[0]
        left = rng.random() < 0.5  # which side the second face takes
        gap = 10
        if variant == "cut":  # 15-35 % of its box beyond the left or right edge
            out = round(p2.box.w * rng.uniform(0.15, 0.35))
            x2 = -p2.box.x - out if left else WIDTH - p2.box.x - p2.box.w + out
            y2 = int(rng.integers(-p2.box.y, HEIGHT - p2.box.y - p2.box.h + 1))
            b2 = _shifted(p2.box, x2, y2)
        else:
            total = main.box.w + p2.box.w + gap
            start = int(rng.integers(0, max(0, WIDTH - total) + 1))
            bx2 = start if left else start + main.box.w + gap
            x2 = bx2 - p2.box.x
            y2 = int(rng.integers(-p2.box.y, HEIGHT - p2.box.y - p2.box.h + 1))
            b2 = _shifted(p2.box, x2, y2)
        # the main face's box beside the second's, inside the frame
        lo, hi = (b2.x + b2.w + gap, WIDTH - main.box.w) if left else (0, b2.x - gap - main.box.w)
        mx = int(rng.integers(min(lo, hi), max(lo, hi) + 1)) - main.box.x
        my = int(rng.integers(-main.box.y, HEIGHT - main.box.y - main.box.h + 1))
        _paste(canvas, p2.image, x2, y2, rng)
        _paste(canvas, main.image, mx, my, rng)
        x, y = mx, my
        faces = (_shifted(main.box, mx, my), b2)
    eyes = (main.eyes[0] + x, main.eyes[1] + y, main.eyes[2] + x, main.eyes[3] + y)
    return Case(_noisy(canvas, rng), kind, faces, eyes, _roll(eyes), source, variant)


# ---- face-like textures ------------------------------------------------------------------------

def _face_like(canvas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """1-3 face-like things pasted at 150-300 px."""
    for _ in range(int(rng.integers(1, 4))):
        side = int(rng.integers(FACE_MIN, FACE_MAX + 1))
        what = ("cat", "upside_down", "smiley", "lfw_non_face")[int(rng.integers(4))]
        if what == "cat":
            from skimage import data

            cat = cv2.cvtColor(data.chelsea(), cv2.COLOR_RGB2BGR)  # the cat's head: x 100-300, y 20-220
            patch = cv2.resize(cat[0:250, 75:325], (round(side * 1.4),) * 2, interpolation=cv2.INTER_AREA)
        elif what == "upside_down":
            p = _patch(SOURCES[int(rng.integers(len(SOURCES)))], side, float(rng.uniform(150, 210)))
            patch = p.image
        elif what == "smiley":
            patch = _smiley(round(side * 1.4), rng)
        else:
            gray = _lfw_non_faces()[int(rng.integers(100))]
            patch = cv2.cvtColor(cv2.resize(gray, (round(side * 1.4),) * 2, interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
        x = int(rng.integers(-patch.shape[1] // 4, WIDTH - 3 * patch.shape[1] // 4 + 1))
        y = int(rng.integers(-patch.shape[0] // 4, HEIGHT - 3 * patch.shape[0] // 4 + 1))
        _paste(canvas, patch, x, y, rng)
    return canvas


@lru_cache(maxsize=None)
def _lfw_non_faces() -> np.ndarray:
    from skimage import data

    return (data.lfw_subset()[100:] * 255.0 + 0.5).astype(np.uint8)


def _smiley(size: int, rng: np.random.Generator) -> np.ndarray:
    """A drawn face: a skin-toned disc, two dark eyes, a mouth."""
    img = np.full((size, size, 3), rng.integers(40, 200, size=3), np.uint8)
    c = size // 2
    skin = tuple(int(v) for v in (rng.uniform(90, 200), rng.uniform(120, 210), rng.uniform(170, 240)))
    cv2.ellipse(img, (c, c), (int(size * 0.33), int(size * 0.4)), 0, 0, 360, skin, -1, cv2.LINE_AA)
    r = max(2, int(size * rng.uniform(0.03, 0.06)))
    for ex in (c - int(size * 0.13), c + int(size * 0.13)):
        cv2.ellipse(img, (ex, c - int(size * 0.08)), (r + 2, r), 0, 0, 360, (40, 40, 40), -1, cv2.LINE_AA)
    cv2.ellipse(img, (c, c + int(size * 0.15)), (int(size * 0.12), int(size * 0.05)), 0, 0, 180, (60, 40, 120),
                max(2, size // 60), cv2.LINE_AA)
    return cv2.GaussianBlur(img, (0, 0), 1.0)
