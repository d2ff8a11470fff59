"""Frames built from sharp real faces at native resolution, for tests, the demo and benchmarks.

Faces: `photos.faces()`, the astronaut and the people in the photos that scripts/fetch-faces.sh
caches (face_recognition's test images, face-api's group photos), downscaled or at most mildly
enlarged (`MAX_UPSCALE`), pasted with some hair into an oval on a background photo.
`person_frames` gives frames of one person in several poses, lights and moments, as a
registration video would; `make_frame` mixes people.
Backgrounds: scikit-image photos without faces that load without network (not `coins`: its
Greek coins bear heads, which the detector rightly finds). "none" frames may hold upscaled LFW
non-face patches (`skimage.data.lfw_subset()`'s last 100) as distractors.

scikit-image is a dev/demo dependency: it is imported inside functions, never at module load.
Everything is deterministic from the seed.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator, Optional

import cv2
import numpy as np

from ..records import Box
from . import photos
from .photos import ASTRONAUT_FACE, PhotoFace

KINDS = ("one", "two", "none")
_FACE_COUNT = {"one": 1, "two": 2, "none": 0}
FACE_MIN, FACE_MAX = 150, 300  # side of a pasted face's true box, px
_FACE_GREY = 120.0  # the mean grey that auto-exposure steers a face towards (part of the way)
MAX_UPSCALE = 1.4  # a face is never enlarged more than this: the astronaut's 110 px face to 154 px

_BACKGROUNDS = (
    "coffee", "rocket", "brick", "grass", "gravel", "moon", "page", "text",
    "hubble_deep_field", "immunohistochemistry", "retina", "stereo_motorcycle", "clock", "cell",
)


@dataclass(frozen=True)
class SampleFrame:
    image: np.ndarray  # BGR uint8, height x width x 3
    kind: str
    faces: tuple[Box, ...]  # ground truth, source-frame pixels
    sources: tuple[str, ...] = ()  # each face's `PhotoFace.name`: "astronaut#0", "sample5#2"
    people: tuple[str, ...] = ()  # each face's `PhotoFace.person`


@dataclass(frozen=True)
class _Patch:
    image: np.ndarray  # BGR uint8
    face: Box  # the face inside the patch
    source: PhotoFace


# ---- the real images (loaded once per process) ------------------------------------------------

def _bgr(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        image = np.clip(image * 255.0 if image.max() <= 1.0 else image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2BGR)
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


@lru_cache(maxsize=None)
def lfw_non_faces() -> np.ndarray:
    """The 100 LFW non-face patches, 25x25 gray uint8 (lfw_subset's last 100 images)."""
    from skimage import data

    return (data.lfw_subset()[100:] * 255.0 + 0.5).astype(np.uint8)


@lru_cache(maxsize=None)
def _background(name: str) -> np.ndarray:
    from skimage import data

    image = getattr(data, name)()
    if isinstance(image, tuple):  # stereo_motorcycle: (left, right, disparity)
        image = image[0]
    return _bgr(np.asarray(image))


def astronaut() -> SampleFrame:
    """astronaut.png itself, 512x512, one face."""
    return SampleFrame(photos.astronaut_image(), "one", (ASTRONAUT_FACE,), ("astronaut#0",), ("astronaut",))


def people() -> tuple[str, ...]:
    """Who `person_frames` can show: "astronaut", "obama" (three photos), "biden", "sample5-2", ..."""
    return photos.people()


# ---- building a frame -------------------------------------------------------------------------

def _face_patch(rng: np.random.Generator, person: Optional[str] = None, exclude: tuple[str, ...] = ()) -> _Patch:
    pool = photos.faces_of(person) if person else tuple(f for f in photos.faces() if f.person not in exclude)
    face = pool[int(rng.integers(len(pool)))]
    return _Patch(face.image, face.face, face)


def _feather_mask(h: int, w: int, inner: float) -> np.ndarray:
    """Alpha of an oval head: 1 inside `inner` x the inscribed ellipse, a smooth ramp to 0 at it."""
    ys = ((np.arange(h, dtype=np.float32) + 0.5 - h / 2) / (h / 2)) ** 2
    xs = ((np.arange(w, dtype=np.float32) + 0.5 - w / 2) / (w / 2)) ** 2
    d = np.sqrt(ys[:, None] + xs[None, :])
    alpha = np.clip((1.0 - d) / (1.0 - inner), 0.0, 1.0)
    return alpha * alpha * (3 - 2 * alpha)  # smoothstep


def _jitter(patch: np.ndarray, face: Box, rng: np.random.Generator) -> np.ndarray:
    """Lighting of the pasted face as a webcam's auto-exposure would give it: a dim photo's face
    brought part of the way to mid-grey, then contrast, brightness and a light from one side."""
    h, w = patch.shape[:2]
    mean = float(cv2.cvtColor(patch[face.y:face.y + face.h, face.x:face.x + face.w], cv2.COLOR_BGR2GRAY).mean())
    exposure = float(np.clip(np.sqrt(_FACE_GREY / max(mean, 1.0)), 0.85, 1.6))
    gain = exposure * rng.uniform(0.85, 1.15)
    bias = rng.uniform(-12, 12)
    side = rng.uniform(-0.12, 0.12) * np.linspace(-1, 1, w, dtype=np.float32)[None, :, None]
    return np.clip(patch.astype(np.float32) * (gain + side) + bias, 0, 255).astype(np.uint8)


def _scaled(patch: _Patch, face_side: int, rng: np.random.Generator) -> _Patch:
    """The patch resized so its face's longer side is `face_side`, maybe mirrored and tilted."""
    s = face_side / max(patch.face.w, patch.face.h)
    h, w = patch.image.shape[:2]
    size = (max(1, round(w * s)), max(1, round(h * s)))
    image = cv2.resize(patch.image, size, interpolation=cv2.INTER_CUBIC if s > 1 else cv2.INTER_AREA)
    face = Box(round(patch.face.x * s), round(patch.face.y * s), round(patch.face.w * s), round(patch.face.h * s))
    if rng.random() < 0.5:
        image = image[:, ::-1]
        face = Box(size[0] - face.x - face.w, face.y, face.w, face.h)
    angle = rng.uniform(-8.0, 8.0)  # a slight head tilt
    centre = (face.x + face.w / 2, face.y + face.h / 2)
    m = cv2.getRotationMatrix2D(centre, angle, 1.0)
    image = cv2.warpAffine(np.ascontiguousarray(image), m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return _Patch(_jitter(image, face, rng), face, patch.source)


def _paste(canvas: np.ndarray, patch: np.ndarray, x: int, y: int, rng: np.random.Generator) -> None:
    h, w = patch.shape[:2]
    alpha = _feather_mask(h, w, rng.uniform(0.7, 0.85))[..., None]
    region = canvas[y:y + h, x:x + w].astype(np.float32)
    canvas[y:y + h, x:x + w] = (region + alpha * (patch - region) + 0.5).astype(np.uint8)


def _background_frame(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A random crop of a random background photo, resized to the frame, with a colour cast."""
    photo = _background(_BACKGROUNDS[int(rng.integers(len(_BACKGROUNDS)))])
    ph, pw = photo.shape[:2]
    aspect = width / height
    cw_max = min(pw, ph * aspect)
    cw = cw_max * rng.uniform(0.5, 1.0)
    ch = cw / aspect
    cx = rng.uniform(0, pw - cw)
    cy = rng.uniform(0, ph - ch)
    crop = photo[int(cy):int(cy + ch), int(cx):int(cx + cw)]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    frame = cv2.resize(np.ascontiguousarray(crop), (width, height), interpolation=cv2.INTER_AREA if cw > width else cv2.INTER_LINEAR)
    cast = rng.uniform(0.8, 1.15, size=3)
    return cv2.transform(frame, np.diag(cast))  # saturates to uint8


def _overlaps(a: tuple[int, int, int, int], others: list[tuple[int, int, int, int]]) -> bool:
    ax, ay, aw, ah = a
    return any(ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah for bx, by, bw, bh in others)


def _face_sides(bases: list[_Patch], rng: np.random.Generator, width: int, height: int, gap: int) -> list[int]:
    """Face sizes in [FACE_MIN, FACE_MAX] (at most `MAX_UPSCALE` x native), shrunk together only
    as far as side by side needs."""
    sides = [int(rng.integers(FACE_MIN, max(FACE_MIN, min(FACE_MAX, int(b.source.side * MAX_UPSCALE))) + 1)) for b in bases]
    if not bases:
        return sides
    scale = [max(b.face.w, b.face.h) for b in bases]
    used = sum(side * b.image.shape[1] / f for side, b, f in zip(sides, bases, scale))
    room = width - gap * (len(bases) - 1) - len(bases)  # a pixel each for rounding
    tallest = max(side * b.image.shape[0] / f for side, b, f in zip(sides, bases, scale))
    shrink = min(1.0, room / used, (height - 1) / tallest)
    sides = [int(side * shrink) for side in sides]
    if min(sides) < 12:
        raise ValueError(f"a {width}x{height} frame cannot hold {len(bases)} faces")
    return sides


def _row(rng: np.random.Generator, widths: list[int], width: int, gap: int) -> list[int]:
    """Left edges of patches laid out left to right with at least `gap` between them."""
    free = width - sum(widths) - gap * (len(widths) - 1)
    offsets = sorted(int(v) for v in rng.integers(0, free + 1, size=len(widths)))
    return [offsets[i] + sum(widths[:i]) + gap * i for i in range(len(widths))]


def _distractors(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """0-2 upscaled LFW non-face patches, where they fit."""
    height, width = canvas.shape[:2]
    taken: list[tuple[int, int, int, int]] = []
    for _ in range(int(rng.integers(0, 3))):
        gray = lfw_non_faces()[int(rng.integers(100))]
        side = min(int(rng.integers(FACE_MIN, FACE_MAX + 1)), width, height)
        grey = cv2.resize(gray, (side, side), interpolation=cv2.INTER_CUBIC)
        patch = _jitter(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), Box(0, 0, side, side), rng)
        x, y = int(rng.integers(0, width - side + 1)), int(rng.integers(0, height - side + 1))
        if not _overlaps((x, y, side, side), taken):
            _paste(canvas, patch, x, y, rng)
            taken.append((x, y, side, side))


def make_frame(kind: str, seed: int, width: int = 640, height: int = 480, person: Optional[str] = None) -> SampleFrame:
    """A `width` x `height` BGR frame with `kind` faces ("one", "two", "none") on a real photo.

    Faces are 150-300 px (their true box's longer side; smaller only when the frame cannot hold
    them side by side), two faces are two people; `person` makes a "one" frame show that person.
    "none" frames may hold upscaled LFW non-face patches as distractors.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if person is not None and kind != "one":
        raise ValueError(f"person is for 'one' frames, not {kind!r}")
    gap = 8
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    canvas = _background_frame(rng, width, height)
    bases: list[_Patch] = []
    for _ in range(_FACE_COUNT[kind]):
        bases.append(_face_patch(rng, person, tuple(b.source.person for b in bases)))
    patches = [_scaled(b, side, rng) for b, side in zip(bases, _face_sides(bases, rng, width, height, gap))]
    faces: list[Box] = []
    for patch, x in zip(patches, _row(rng, [p.image.shape[1] for p in patches], width, gap)):
        y = int(rng.integers(0, height - patch.image.shape[0] + 1))
        _paste(canvas, patch.image, x, y, rng)
        faces.append(Box(x + patch.face.x, y + patch.face.y, patch.face.w, patch.face.h))
    if kind == "none":
        _distractors(canvas, rng)
    sigma = rng.uniform(0.0, 4.0)  # sensor noise (luminance) over the whole frame
    noise = rng.standard_normal((height, width, 1), dtype=np.float32) * sigma + 0.5
    image = np.clip(canvas + noise, 0, 255).astype(np.uint8)
    return SampleFrame(image, kind, tuple(faces), tuple(p.source.name for p in patches), tuple(p.source.person for p in patches))


def person_frames(person: str, n: int, seed: int, width: int = 640, height: int = 480) -> Iterator[SampleFrame]:
    """`n` one-face frames of `person`, as a registration video would give them: each of their
    photos, turned a little, mirrored, nearer or farther, lit differently, before another
    background, elsewhere in the frame. The same seed gives the same frames."""
    rng = np.random.default_rng([seed, 7])
    for _ in range(n):
        yield make_frame("one", int(rng.integers(1 << 62)), width, height, person=person)


def mixed_frames(n: int, seed: int, one: float = 0.7, two: float = 0.15, none: float = 0.15) -> Iterator[SampleFrame]:
    """`n` frames whose kinds are drawn with these weights; the same seed gives the same frames."""
    weights = np.array([one, two, none], dtype=float)
    if n < 0 or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError("n must be >= 0 and the weights non-negative with a positive sum")
    rng = np.random.default_rng(seed)
    for _ in range(n):
        kind = KINDS[int(rng.choice(3, p=weights / weights.sum()))]
        yield make_frame(kind, int(rng.integers(1 << 62)))  # far from the small seeds tests use


# ---- degraded copies (the quality gates' test data) --------------------------------------------

def exposed(image: np.ndarray, gain: float, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """The image with its exposure off by `gain` (0.25: -2 EV, 4: +2 EV, clipped at 255), plus
    sensor noise of standard deviation `noise` grey levels (dark frames are noisy)."""
    out = image.astype(np.float32) * gain
    if noise:
        out += np.random.default_rng(seed).standard_normal(image.shape[:2] + (1,), dtype=np.float32) * noise
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def motion_blurred(image: np.ndarray, length: float, angle_deg: float) -> np.ndarray:
    """The image smeared along a line of `length` px at `angle_deg`, as a moving head gives it."""
    n = max(3, int(round(length)) | 1)
    kernel = np.zeros((n, n), np.float32)
    kernel[n // 2, :] = 1.0
    kernel = cv2.warpAffine(kernel, cv2.getRotationMatrix2D((n / 2 - 0.5, n / 2 - 0.5), angle_deg, 1.0), (n, n))
    return cv2.filter2D(image, -1, kernel / kernel.sum())


# ---- messages ---------------------------------------------------------------------------------

def encode(image: np.ndarray, fmt: str = "png", quality: int = 90) -> bytes:
    """The image as a PNG or JPEG file."""
    if fmt == "png":
        ok, buf = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    elif fmt in ("jpeg", "jpg"):
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    else:
        raise ValueError(f"fmt must be 'png' or 'jpeg', got {fmt!r}")
    if not ok:
        raise ValueError(f"could not encode a {image.shape} image as {fmt}")
    return buf.tobytes()


def message(username: str, image_bytes: bytes, timestamp: Optional[str] = "11/27/2026, 10:00:00", **extra: Any) -> bytes:
    """A Kafka value as the video service sends it (README.md, "What it does").

    `timestamp=None` leaves the field out; `extra` fields are added as given (and may replace
    the others, to build hostile messages).
    """
    body: dict[str, Any] = {"username": username, "imageData": base64.b64encode(image_bytes).decode("ascii")}
    if timestamp is not None:
        body["timestamp"] = timestamp
    body.update(extra)
    return json.dumps(body, separators=(",", ":")).encode("utf-8")
