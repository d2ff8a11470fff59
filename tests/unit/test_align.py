"""Aligned crops on real faces: a turned face comes out level, eyes at the fixed places, no black
corners; without eyes, the plain crop."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from stream_processor.align import align_face, eye_positions
from stream_processor.config import Config
from stream_processor.crop import crop_face
from stream_processor.detect import FaceFinding, detector_for
from stream_processor.samples import astronaut

pytestmark = pytest.mark.unit

CFG = Config(detect_max_side=320, min_face_fraction=0.2, scale_factor=1.1, min_neighbors=3)
# The astronaut's eye centres in astronaut.png, labelled by hand.
EYES = ((202.0, 100.0), (246.0, 103.0))


def turned(image: np.ndarray, angle: float, centre=(224.0, 110.0)) -> tuple[np.ndarray, np.ndarray]:
    """The image turned counter-clockwise by `angle` about the face, and the point map."""
    m = cv2.getRotationMatrix2D(centre, angle, 1.0)
    return cv2.warpAffine(image, m, image.shape[1::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT), m


def moved(m: np.ndarray, point: tuple[float, float]) -> tuple[float, float]:
    x, y = m @ np.array([point[0], point[1], 1.0])
    return float(x), float(y)


@pytest.mark.parametrize("angle", [-10.0, -6.0, 8.0, 15.0])  # alt2 misses her face beyond that
def test_a_turned_face_comes_out_level_with_the_eyes_at_the_fixed_places(angle):
    image, m = turned(astronaut().image, angle)
    (lx, ly), (rx, ry) = (moved(m, e) for e in EYES)
    true_roll = math.degrees(math.atan2(ry - ly, rx - lx))
    found = detector_for(CFG).find(image)
    assert isinstance(found, FaceFinding) and found.eyes is not None
    crop = align_face(image, found, CFG.crop_margin, CFG.crop_size)
    assert crop.aligned and crop.image.shape == (160, 160, 3)
    assert abs(crop.roll_deg - true_roll) <= 3.0
    # where the true eyes land in the crop: level, and within a few pixels of the fixed places
    (want_l, want_r) = eye_positions(160, CFG.crop_margin)
    got_l, got_r = moved(crop.transform, (lx, ly)), moved(crop.transform, (rx, ry))
    assert abs(math.degrees(math.atan2(got_r[1] - got_l[1], got_r[0] - got_l[0]))) <= 3.0
    for got, want in ((got_l, want_l), (got_r, want_r)):
        assert math.dist(got, want) <= 6.0, (got, want)


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


def test_without_eyes_the_plain_unrotated_crop():
    image = astronaut().image
    found = detector_for(CFG).find(image)
    plain = FaceFinding(found.box, None)
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
