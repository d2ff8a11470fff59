"""Face crops: margin, square region inside the frame, size, deterministic PNG."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from stream_processor.frames.crop import crop_face, crop_region, encode_png
from stream_processor.records import Box

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    """640x480 BGR where each pixel encodes its position: any crop can be located exactly."""
    ys, xs = np.mgrid[0:480, 0:640]
    return np.dstack([xs % 256, ys % 256, (xs // 256) * 16 + ys // 256]).astype(np.uint8)


def _origin(crop: np.ndarray) -> tuple[int, int]:
    b, g, r = (int(v) for v in crop[0, 0])
    return b + 256 * (r // 16), g + 256 * (r % 16)


def test_margin_grows_the_box_on_each_side(frame):
    box = Box(200, 150, 100, 100)
    assert crop_region(640, 480, box, 0.2) == Box(180, 130, 140, 140)
    crop = crop_face(frame, box, 0.2, 0)
    assert crop.shape == (140, 140, 3)
    assert _origin(crop) == (180, 130)
    assert np.array_equal(crop, frame[130:270, 180:320])
    assert crop_region(640, 480, box, 0.0) == box


def test_resized_to_the_crop_size(frame):
    box = Box(200, 150, 100, 100)
    crop = crop_face(frame, box, 0.2, 160)
    assert crop.shape == (160, 160, 3) and crop.dtype == np.uint8
    small = crop_face(frame, box, 0.2, 64)
    assert small.shape == (64, 64, 3)
    assert np.array_equal(small, cv2.resize(frame[130:270, 180:320], (64, 64), interpolation=cv2.INTER_AREA))


def test_crop_size_zero_keeps_the_native_size(frame):
    assert crop_face(frame, Box(10, 20, 57, 57), 0.0, 0).shape == (57, 57, 3)
    assert crop_face(frame, Box(10, 20, 57, 57), 0.5, 0).shape == (114, 114, 3)


def test_margin_clipped_at_frame_edges_stays_square_and_keeps_the_face(frame):
    for box in (Box(0, 0, 100, 100), Box(540, 380, 100, 100), Box(0, 300, 120, 120), Box(600, 0, 40, 60)):
        r = crop_region(640, 480, box, 0.3)
        assert r.w == r.h
        assert 0 <= r.x and 0 <= r.y and r.x + r.w <= 640 and r.y + r.h <= 480
        assert r.x <= box.x and r.y <= box.y and box.x + box.w <= r.x + r.w and box.y + box.h <= r.y + r.h
        assert r.w == round(max(box.w, box.h) * 1.6)  # the same scale as in the middle of the frame
        crop = crop_face(frame, box, 0.3, 0)
        assert crop.shape[:2] == (r.h, r.w) and _origin(crop) == (r.x, r.y)
    assert crop_region(640, 480, Box(0, 0, 100, 100), 0.3) == Box(0, 0, 160, 160)


def test_a_grown_box_larger_than_the_frame_is_capped_by_its_shorter_side():
    r = crop_region(200, 120, Box(50, 10, 100, 100), 0.5)
    assert r == Box(40, 0, 120, 120)
    image = np.zeros((120, 200), np.uint8)  # grey images work too
    assert crop_face(image, Box(50, 10, 100, 100), 0.5, 160).shape == (160, 160)


def test_a_box_partly_outside_the_frame_is_clipped_first():
    r = crop_region(640, 480, Box(-30, -30, 100, 100), 0.0)
    assert r == Box(0, 0, 70, 70)


@pytest.mark.parametrize(
    "box, margin, size",
    [(Box(0, 0, 0, 10), 0.2, 160), (Box(10, 10, 10, -1), 0.2, 160), (Box(700, 10, 50, 50), 0.2, 160),
     (Box(10, 10, 50, 50), -0.1, 160), (Box(10, 10, 50, 50), 0.2, -1)],
)
def test_bad_arguments_are_errors(frame, box, margin, size):
    with pytest.raises(ValueError):
        crop_face(frame, box, margin, size)


def test_png_is_deterministic_and_lossless(frame):
    crop = crop_face(frame, Box(200, 150, 100, 100), 0.2, 160)
    data = encode_png(crop)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert encode_png(crop.copy()) == data
    assert encode_png(np.ascontiguousarray(crop[:, :, :])) == data
    assert np.array_equal(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED), crop)
    view = frame[100:200, 100:200]  # not contiguous
    assert encode_png(view) == encode_png(view.copy())
    assert encode_png(crop) != encode_png(crop[::-1])


# ---- crops another detector finds again (the trainer re-detects every crop and drops misses) ----

from benchmarks import real_faces, trainer_detector  # noqa: E402
from benchmarks.accuracy import redetected, trainer_takes_the_face  # noqa: E402
from stream_processor.config import Config  # noqa: E402
from stream_processor.demo.samples import astronaut  # noqa: E402
from stream_processor.frames.align import align_face  # noqa: E402
from stream_processor.frames.detect import FaceFinding, detector_for  # noqa: E402


@pytest.fixture(scope="module")
def real_frames_and_crops():
    """The astronaut and 12 real faces (upright and turned), and the job's aligned crops of them."""
    if not real_faces.available():
        pytest.skip("the face photos in .local/faces are not there")
    cfg = Config()
    detector = detector_for(cfg)
    frames = [astronaut().image] + [real_faces.make_case(kind, s).image for kind in ("one", "rotated") for s in range(100, 106)]
    crops = []
    for image in frames:
        found = detector.find(image)
        if isinstance(found, FaceFinding):
            crops.append((align_face(image, found, cfg.crop_margin, cfg.crop_size), found.box))
    assert len(crops) >= 10 and sum(c.aligned for c, _ in crops) >= 8
    return frames, crops


def test_default_cascade_finds_the_face_again_on_aligned_crops(real_frames_and_crops):
    frames, crops = real_frames_and_crops
    assert all(redetected(c.image) for c, _ in crops)
    # and it is not a property of any 160 px square: the background is not found
    assert not redetected(cv2.resize(frames[0][300:460, 0:160], (160, 160)))


def test_the_trainers_own_detector_finds_the_face_again_on_aligned_crops(real_frames_and_crops):
    """uPresent's trainer drops every crop its res10 SSD does not find (../shared/design.md), and
    embeds what it finds: the box must be the face, not a corner of it."""
    frames, crops = real_frames_and_crops
    assert all(trainer_takes_the_face(c, box) for c, box in crops)
    assert trainer_detector.detect(cv2.resize(frames[0][300:460, 0:160], (160, 160))) is None  # background
