"""Face detection on real faces (scikit-image's astronaut and LFW faces on real photos)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from stream_processor.config import Config
from stream_processor.detect import DetectorSettings, FaceDetector, detector_for, limit_opencv_threads
from stream_processor.records import Box
from stream_processor.samples import ASTRONAUT_FACE, astronaut, make_frame

pytestmark = pytest.mark.unit

# Settings recommended for Config (benchmarks/accuracy.py); pinned here so that the tests do not
# depend on the values a config file or environment sets.
CFG = Config(detect_max_side=320, min_face_fraction=0.2, scale_factor=1.1, min_neighbors=3)
SEEDS = range(200, 212)


def iou(a: Box, b: Box) -> float:
    iw = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    ih = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    inter = max(0, iw) * max(0, ih)
    return inter / (a.w * a.h + b.w * b.h - inter)


def on_face(box: Box, face: Box) -> bool:
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    return iou(box, face) >= 0.3 or (box.x <= cx <= box.x + box.w and box.y <= cy <= box.y + box.h)


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return detector_for(CFG)


@pytest.fixture(scope="module")
def frames():
    return {kind: [make_frame(kind, seed) for seed in SEEDS] for kind in ("one", "two", "none")}


@pytest.fixture(scope="module")
def found(detector, frames):
    return {kind: [detector.detect(f.image) for f in fs] for kind, fs in frames.items()}


def test_astronaut_one_face_on_her_face(detector):
    frame = astronaut()
    boxes = detector.detect(frame.image)
    assert len(boxes) == 1
    assert iou(boxes[0], ASTRONAUT_FACE) >= 0.5


def test_one_face_frames_give_one_box_on_the_face(frames, found):
    hits = [len(b) == 1 and on_face(b[0], f.faces[0]) for f, b in zip(frames["one"], found["one"])]
    assert sum(hits) >= len(hits) - 1, hits
    for f, b in zip(frames["one"], found["one"]):  # and never a box off the face
        assert all(on_face(box, f.faces[0]) for box in b)


def test_two_face_frames_give_two_boxes_one_per_face(frames, found):
    ok = 0
    for f, b in zip(frames["two"], found["two"]):
        ok += len(b) == 2 and all(any(on_face(box, face) for box in b) for face in f.faces)
        assert len(b) != 1 or not on_face(b[0], f.faces[0]) or not on_face(b[0], f.faces[1])
    assert ok >= len(frames["two"]) - 1


def test_no_face_frames_give_no_box(found):
    assert sum(len(b) == 0 for b in found["none"]) >= len(found["none"]) - 1


def test_boxes_are_in_source_pixels_at_any_detection_size():
    image = astronaut().image
    full = FaceDetector(replace(DetectorSettings.of(CFG), max_side=0)).detect(image)
    small = FaceDetector(replace(DetectorSettings.of(CFG), max_side=256)).detect(image)
    assert len(full) == len(small) == 1
    assert iou(full[0], small[0]) >= 0.7
    big = cv2.resize(image, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    (doubled,) = detector_for(CFG).detect(big)
    assert iou(doubled, Box(*(2 * v for v in (ASTRONAUT_FACE.x, ASTRONAUT_FACE.y, ASTRONAUT_FACE.w, ASTRONAUT_FACE.h)))) >= 0.5


def test_boxes_at_320_match_full_resolution_on_frames(frames):
    full = FaceDetector(replace(DetectorSettings.of(CFG), max_side=0))
    small = FaceDetector(replace(DetectorSettings.of(CFG), max_side=320))
    for frame in frames["one"][:4]:
        a, b = full.detect(frame.image), small.detect(frame.image)
        assert len(a) == len(b) == 1
        assert iou(a[0], b[0]) >= 0.6
        assert abs(a[0].w - b[0].w) <= 0.25 * a[0].w


def test_min_face_fraction_filters_small_faces():
    image = astronaut().image  # her face box is ~0.18 of the 512 px side
    assert len(detector_for(replace(CFG, min_face_fraction=0.12)).detect(image)) == 1
    assert detector_for(replace(CFG, min_face_fraction=0.25)).detect(image) == []
    frame = make_frame("one", 210)
    side = max(frame.faces[0].w, frame.faces[0].h) / 480
    assert len(detector_for(replace(CFG, min_face_fraction=min(0.9, side + 0.15))).detect(frame.image)) == 0
    for box in detector_for(replace(CFG, min_face_fraction=0.3)).detect(frame.image):
        assert min(box.w, box.h) >= 0.3 * 480


def test_grey_and_bgra_images_give_the_same_boxes(detector):
    bgr = astronaut().image
    boxes = detector.detect(bgr)
    assert detector.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)) == boxes
    assert detector.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)) == boxes


@pytest.mark.parametrize("shape", [(0, 0, 3), (1, 1, 3), (10, 10), (23, 900, 3), (2000, 30, 3), (4, 5000)])
def test_tiny_and_odd_images_give_no_face(detector, shape):
    assert detector.detect(np.full(shape, 127, np.uint8)) == []


def test_unsupported_images_are_errors(detector):
    with pytest.raises(ValueError):
        detector.detect(np.zeros((100, 100, 3), np.float32))
    with pytest.raises(ValueError):
        detector.detect(np.zeros((100, 100, 2), np.uint8))


def test_one_face_is_one_box_even_when_the_cascade_fires_twice():
    from stream_processor.detect import _Hit, _suppress_duplicates

    face = _Hit(Box(100, 100, 100, 100), 30)
    shifted = _Hit(Box(150, 120, 90, 90), 4)  # straddles the face's edge
    nested = _Hit(Box(120, 130, 40, 40), 5)
    other = _Hit(Box(300, 100, 100, 100), 12)
    kept = _suppress_duplicates([shifted, nested, face, other])
    assert [h.box for h in kept] == [face.box, other.box]


def test_detector_is_cached_per_settings():
    a = detector_for(CFG)
    assert detector_for(replace(CFG, crop_size=0)) is a  # crop settings do not matter
    b = detector_for(replace(CFG, min_neighbors=6))
    assert b is not a and b.settings.min_neighbors == 6
    assert a._cascade is b._cascade  # loaded once


def test_limit_opencv_threads():
    before = cv2.getNumThreads()
    try:
        limit_opencv_threads(1)
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(before)
