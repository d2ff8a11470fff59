"""Aligned crops on real faces: a turned face comes out level, eyes at the fixed places, no black
corners; with degenerate eyes, the plain crop."""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np
import pytest

from stream_processor.config import Config
from stream_processor.demo.samples import astronaut
from stream_processor.frames.align import align_face, eye_positions
from stream_processor.frames.crop import crop_face
from stream_processor.frames.detect import Eyes, FaceFinding, detector_for

pytestmark = pytest.mark.unit

CFG = Config(min_face_fraction=0.12, face_score=0.75, sure_face_score=0.85, other_face_score=0.65, scale_factor=1.1,
             min_neighbors=3)
# The astronaut's eye centres in astronaut.png, labelled by hand.
EYES = ((202.0, 100.0), (246.0, 103.0))


def turned(image: np.ndarray, angle: float, centre=(224.0, 110.0)) -> tuple[np.ndarray, np.ndarray]:
    """The image turned counter-clockwise by `angle` about the face, and the point map."""
    m = cv2.getRotationMatrix2D(centre, angle, 1.0)
    return cv2.warpAffine(image, m, image.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT), m


def moved(m: np.ndarray, point: tuple[float, float]) -> tuple[float, float]:
    x, y = m @ np.array([point[0], point[1], 1.0])
    return float(x), float(y)


# The decision's eyes are BlazeFace's keypoints, regressed at its 128 px input: on her 512 px
# frame one input pixel is 4 px, about 5 degrees of her 44 px eye line. Measured over turns of
# -20..20 degrees: the eye line within 6 degrees, the true eyes within 5.5 px of the fixed places.
ROLL_TOLERANCE = 6.5
EYE_TOLERANCE = 6.0


@pytest.mark.parametrize("angle", [-20.0, -10.0, -6.0, 8.0, 15.0, 20.0])
def test_a_turned_face_comes_out_level_with_the_eyes_at_the_fixed_places(angle):
    image, m = turned(astronaut().image, angle)
    (lx, ly), (rx, ry) = (moved(m, e) for e in EYES)
    true_roll = math.degrees(math.atan2(ry - ly, rx - lx))
    found = detector_for(CFG).find(image)
    assert isinstance(found, FaceFinding)
    crop = align_face(image, found, CFG.crop_margin, CFG.crop_size)
    assert crop.aligned and crop.image.shape == (160, 160, 3)
    assert abs(crop.roll_deg - true_roll) <= ROLL_TOLERANCE
    # where the true eyes land in the crop: level, and within a few pixels of the fixed places
    (want_l, want_r) = eye_positions(160, CFG.crop_margin)
    got_l, got_r = moved(crop.transform, (lx, ly)), moved(crop.transform, (rx, ry))
    assert abs(math.degrees(math.atan2(got_r[1] - got_l[1], got_r[0] - got_l[0]))) <= ROLL_TOLERANCE
    for got, want in ((got_l, want_l), (got_r, want_r)):
        assert math.dist(got, want) <= EYE_TOLERANCE, (got, want)


@pytest.mark.parametrize("angle", [-25.0, 0.0, 12.0])
def test_given_exact_eyes_the_crop_puts_them_exactly_at_the_fixed_places(angle):
    """align_face's own geometry, apart from the keypoints' precision: the labelled eyes, turned
    with the frame, land on `eye_positions` to a fraction of a pixel."""
    image, m = turned(astronaut().image, angle)
    left, right = (moved(m, e) for e in EYES)
    found = detector_for(CFG).find(astronaut().image)
    exact = replace(found, eyes=Eyes(left, right))
    crop = align_face(image, exact, CFG.crop_margin, CFG.crop_size)
    assert crop.aligned
    assert abs(crop.roll_deg - math.degrees(math.atan2(right[1] - left[1], right[0] - left[0]))) < 1e-6
    for got, want in zip((moved(crop.transform, left), moved(crop.transform, right)), eye_positions(160, CFG.crop_margin)):
        assert math.dist(got, want) <= 0.01, (got, want)


def test_the_crop_shows_the_same_pixels_the_transform_says():
    image, _ = turned(astronaut().image, 12.0)
    found = detector_for(CFG).find(image)
    crop = align_face(image, found, CFG.crop_margin, 0)
    expected = cv2.warpAffine(image, crop.transform, crop.image.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    assert np.abs(crop.image.astype(int) - expected.astype(int)).mean() < 2.0


def test_no_black_corners_when_the_face_is_at_the_frame_edge():
    # The face near the top-left corner, turned: the rotated square reaches beyond the frame.
    image = np.maximum(astronaut().image[30:, 140:], 1)  # no pure black pixel anywhere
    image, _ = turned(image, 18.0, centre=(84.0, 80.0))
    image = np.maximum(image, 1)
    found = detector_for(CFG).find(image)
    assert isinstance(found, FaceFinding)
    crop = align_face(image, found, 0.4, 160)  # a wide margin: more of the square lies outside
    assert crop.aligned
    assert (crop.image.reshape(-1, 3).max(axis=1) > 0).all()


def test_eyes_too_close_together_give_the_plain_unrotated_crop():
    """A degenerate detection (both eye keypoints within MIN_EYE_SPAN x the box of each other) is
    not aligned by: the plain crop of crop.py."""
    image = astronaut().image
    found = detector_for(CFG).find(image)
    assert isinstance(found, FaceFinding)
    x, y = found.eyes.left
    plain = replace(found, eyes=Eyes((x, y), (x + 0.1 * found.box.w, y + 0.05 * found.box.w)))
    crop = align_face(image, plain, CFG.crop_margin, CFG.crop_size)
    assert not crop.aligned and crop.roll_deg is None
    assert np.array_equal(crop.image, crop_face(image, found.box, CFG.crop_margin, CFG.crop_size))


def test_native_size_and_grey_images():
    image, _ = turned(astronaut().image, 10.0)
    found = detector_for(CFG).find(image)
    native = align_face(image, found, 0.2, 0)
    assert native.image.shape == (round(found.box.w * 1.4),) * 2 + (3,)
    grey = align_face(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), found, 0.2, 96)
    assert grey.image.shape == (96, 96) and grey.aligned
