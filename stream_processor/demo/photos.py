"""Sharp real faces at native resolution, for the sample frames, the tests and benchmarks/gates.py.

Sources: scikit-image's `astronaut` and the photos that `scripts/fetch-faces.sh` caches in
`.local/faces` (or `$FACES_DIR`): face_recognition 1.3.0's `tests/test_images` (three photos of
Obama, one of Biden) and @vladmandic/face-api 1.7.15's `demo/sample*.jpg` (1920 px group photos,
each face a different person). The faces are found at load with OpenCV's bundled cascades: a
frontal face that holds two eyes (the eye cascade drops the cascade's false alarms on blinds,
badges and glasses in the group photos), is at least `MIN_SIDE` px and is not `OUT_OF_FOCUS`. The number found per photo
is checked against `EXPECTED`, so a changed file fails loudly instead of silently changing data.

Each face is one `PhotoFace`: a patch of its photo (the head with some hair and background), its
face box and eye centres in patch pixels, and a person label. Loaded once per process.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from ..records import Box

FACES_DIR = Path(os.environ.get("FACES_DIR", Path(__file__).resolve().parents[2] / ".local" / "faces"))
MIN_SIDE = 150  # px: smaller faces would have to be enlarged for the 150-300 px sample faces
_DETECT_SIDE = 640  # faces are searched on a copy with this longer side, then measured at full size
_MARGIN = (0.3, 0.5, 0.3, 0.35)  # patch around the face box: left, top, right, bottom (x its side)

# Usable faces per photo. 32bit.png is obama2.jpg saved as a 32-bit PNG: the same picture, left out.
# The obama_partial_face photos show half a face, which a frontal-face cascade rightly misses.
EXPECTED = {
    "face_recognition/obama.jpg": 1,
    "face_recognition/obama2.jpg": 1,
    "face_recognition/obama3.jpg": 1,
    "face_recognition/biden.jpg": 1,
    "face_recognition/obama_partial_face.jpg": 0,
    "face_recognition/obama_partial_face2.jpg": 0,
    "face-api/sample1.jpg": 1,
    "face-api/sample2.jpg": 0,  # her face is turned down: one eye visible
    "face-api/sample3.jpg": 3,
    "face-api/sample4.jpg": 2,  # one of them out of focus: OUT_OF_FOCUS
    "face-api/sample5.jpg": 5,  # not the dark face at the bottom left: the eye cascade misses an eye
    "face-api/sample6.jpg": 4,
}
# Faces found but not sharp at the source, so no reference for the blur gate: left out by name.
OUT_OF_FOCUS = {"sample4#0": "outside the depth of field (the photo focuses on the other woman)"}
# The astronaut's face in astronaut.png (512x512), labelled by hand: brow to chin, cheek to cheek.
ASTRONAUT_FACE = Box(180, 67, 92, 110)


@dataclass(frozen=True)
class PhotoFace:
    """One real face: `image` is a BGR patch of its photo at native resolution around `face`."""

    name: str  # "<photo stem>#<k>", k counting faces left to right: "sample5#2", "obama2#0"
    person: str  # the same for every photo of one person: "obama", "biden", "sample5-2"
    image: np.ndarray
    face: Box  # in patch pixels
    eyes: tuple[tuple[float, float], tuple[float, float]]  # (x, y) centres in patch pixels, left then right

    @property
    def side(self) -> int:
        return max(self.face.w, self.face.h)


class PhotosMissing(RuntimeError):
    """The photos are not there: run scripts/fetch-faces.sh (part of `make setup`)."""


_LOCK = threading.Lock()


def faces() -> tuple[PhotoFace, ...]:
    """Every usable face, the astronaut first, then the photos in `EXPECTED` order."""
    with _LOCK:
        return _faces(str(FACES_DIR))


def people() -> tuple[str, ...]:
    """The person labels, in the order of `faces()`, each once."""
    return tuple(dict.fromkeys(f.person for f in faces()))


def faces_of(person: str) -> tuple[PhotoFace, ...]:
    found = tuple(f for f in faces() if f.person == person)
    if not found:
        raise ValueError(f"no faces of {person!r}; people are {', '.join(people())}")
    return found


def astronaut_image() -> np.ndarray:
    """astronaut.png as BGR (scikit-image is a dev dependency: imported here, not at module load)."""
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


@lru_cache(maxsize=None)
def _cascades() -> tuple[cv2.CascadeClassifier, cv2.CascadeClassifier]:
    out = []
    for name in ("haarcascade_frontalface_alt2.xml", "haarcascade_eye.xml"):
        cascade = cv2.CascadeClassifier(str(Path(cv2.data.haarcascades) / name))
        if cascade.empty():
            raise RuntimeError(f"cannot load the OpenCV cascade {name}")
        out.append(cascade)
    return out[0], out[1]


def _eyes(gray: np.ndarray, face: Box) -> Optional[tuple[tuple[float, float], tuple[float, float]]]:
    """The two eye centres in the face's upper part, one each side of its middle; None if not both."""
    _, eye = _cascades()
    top = gray[face.y:face.y + int(face.h * 0.6), face.x:face.x + face.w]
    found = eye.detectMultiScale(top, 1.05, 5, minSize=(face.w // 8, face.w // 8), maxSize=(face.w // 3, face.w // 3))
    mid = face.w / 2
    sides: list[list[tuple[float, float, int]]] = [[], []]
    for x, y, w, h in np.asarray(found).reshape(-1, 4):
        cx, cy = x + w / 2, y + h / 2
        sides[int(cx > mid)].append((face.x + cx, face.y + cy, int(w)))
    if not sides[0] or not sides[1]:
        return None
    left, right = (max(s, key=lambda e: e[2]) for s in sides)  # the largest: brows and lashes are smaller
    return (left[0], left[1]), (right[0], right[1])


def _faces_in(image: np.ndarray, stem: str, person: Optional[str]) -> list[PhotoFace]:
    face_cascade, _ = _cascades()
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    height, width = gray.shape
    s = min(1.0, _DETECT_SIDE / max(height, width))
    small = cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else gray
    min_small = int(MIN_SIDE * s)
    rects = face_cascade.detectMultiScale(small, 1.1, 4, minSize=(min_small, min_small))
    boxes = [Box(*(int(round(v / s)) for v in r)) for r in np.asarray(rects).reshape(-1, 4)]
    out: list[PhotoFace] = []
    for box in sorted(boxes, key=lambda b: (b.x, b.y)):
        eyes = _eyes(gray, box)
        if eyes is None or box.w < MIN_SIDE:
            continue
        k = len(out)
        ml, mt, mr, mb = _MARGIN
        x0, y0 = max(0, box.x - int(ml * box.w)), max(0, box.y - int(mt * box.h))
        x1, y1 = min(width, box.x + box.w + int(mr * box.w)), min(height, box.y + box.h + int(mb * box.h))
        patch = np.ascontiguousarray(image[y0:y1, x0:x1])
        shifted = tuple((ex - x0, ey - y0) for ex, ey in eyes)
        out.append(PhotoFace(f"{stem}#{k}", person or f"{stem}-{k}", patch, Box(box.x - x0, box.y - y0, box.w, box.h), shifted))  # type: ignore[arg-type]
    return out


@lru_cache(maxsize=4)
def _faces(root: str) -> tuple[PhotoFace, ...]:
    image = astronaut_image()
    f = ASTRONAUT_FACE
    x0, y0 = 150, 15  # her head with hair, as in the sample frames before
    patch = np.ascontiguousarray(image[y0:y0 + 175, x0:x0 + 150])
    eyes = _eyes(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), f)
    if eyes is None:
        raise RuntimeError("the eye cascade no longer finds the astronaut's eyes")
    found = [PhotoFace("astronaut#0", "astronaut", patch, Box(f.x - x0, f.y - y0, f.w, f.h), tuple((x - x0, y - y0) for x, y in eyes))]  # type: ignore[arg-type]
    for rel, count in EXPECTED.items():
        path = Path(root) / rel
        if not path.is_file():
            raise PhotosMissing(f"{path} is missing: run scripts/fetch-faces.sh (part of `make setup`)")
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise RuntimeError(f"cannot decode {path}")
        stem = path.stem
        person = "".join(c for c in stem if c.isalpha()) if rel.startswith("face_recognition/") else None
        these = _faces_in(image, stem, person)
        if len(these) != count:
            raise RuntimeError(f"{path}: found {len(these)} usable faces, expected {count}; has the file changed?")
        found += [f for f in these if f.name not in OUT_OF_FOCUS]
    return tuple(found)
