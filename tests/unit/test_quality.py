"""Quality gates and the crop hash on real faces at native resolution (astronaut, .local/faces)."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from stream_processor.config import Config, ConfigError
from stream_processor.demo import photos
from stream_processor.demo.samples import astronaut, exposed, motion_blurred, person_frames
from stream_processor.frames.crop import crop_face
from stream_processor.frames.crop import encode_png
from stream_processor.frames.detect import FaceFinding, detector_for
from stream_processor.frames.quality import QualityScores, QualitySettings, crop_hash, gate, hamming, hash_hex, measure, near_duplicate
from stream_processor.records import Box, Reason

pytestmark = pytest.mark.unit

CFG = Config()
SETTINGS = QualitySettings.of(CFG)


def face(name: str) -> photos.PhotoFace:
    return next(f for f in photos.faces() if f.name == name)


SHARP = ("astronaut#0", "obama#0", "biden#0", "sample3#0")


@pytest.mark.parametrize("name", SHARP)
def test_a_sharp_well_exposed_face_passes_every_gate(name):
    f = face(name)
    scores = measure(f.image, f.face)
    assert gate(scores, SETTINGS) is None, scores
    assert scores.face_px == min(f.face.w, f.face.h)


def test_the_astronaut_frame_passes():
    frame = astronaut()
    assert gate(measure(frame.image, frame.faces[0]), SETTINGS) is None


@pytest.mark.parametrize("name", SHARP)
def test_the_same_face_blurred_is_blurry(name):
    f = face(name)
    side = f.side
    gaussian = cv2.GaussianBlur(f.image, (0, 0), 0.03 * side)
    smeared = motion_blurred(f.image, 0.12 * side, 30.0)
    for image in (gaussian, smeared):
        scores = measure(image, f.face)
        assert gate(scores, SETTINGS) is Reason.BLURRY, scores
        assert scores.sharpness < measure(f.image, f.face).sharpness / 3


@pytest.mark.parametrize("name", SHARP)
def test_the_same_face_darkened_is_underexposed_and_brightened_is_overexposed(name):
    f = face(name)
    dark = measure(exposed(f.image, 0.2, noise=3.0), f.face)
    assert gate(dark, SETTINGS) is Reason.UNDEREXPOSED, dark
    bright = measure(exposed(f.image, 3.0), f.face)
    assert gate(bright, SETTINGS) is Reason.OVEREXPOSED, bright
    assert bright.bright > SETTINGS.max_bright and dark.brightness < SETTINGS.min_brightness


def test_the_same_face_shrunk_is_too_small():
    f = face("obama#0")
    s = (CFG.min_face_px - 10) / f.face.w
    small = cv2.resize(f.image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    box = Box(*(int(v * s) for v in (f.face.x, f.face.y, f.face.w, f.face.h)))
    assert gate(measure(small, box), SETTINGS) is Reason.FACE_TOO_SMALL


def test_the_first_failed_gate_names_the_cause():
    scores = QualityScores(sharpness=1.0, brightness=20.0, dark=0.5, bright=0.0, face_px=200)
    assert gate(scores, SETTINGS) is Reason.UNDEREXPOSED  # dark faces also lose detail
    assert gate(replace(scores, face_px=20), SETTINGS) is Reason.FACE_TOO_SMALL
    assert gate(replace(scores, brightness=120.0, dark=0.0), SETTINGS) is Reason.BLURRY
    assert gate(replace(scores, brightness=120.0, dark=0.0, bright=0.5, sharpness=50.0), SETTINGS) is Reason.OVEREXPOSED


def test_measure_takes_grey_and_clips_the_box_to_the_frame():
    f = face("biden#0")
    grey = cv2.cvtColor(f.image, cv2.COLOR_BGR2GRAY)
    assert measure(grey, f.face) == measure(f.image, f.face)
    h, w = grey.shape
    assert measure(grey, Box(w - 50, h - 50, 100, 100)).face_px == 50
    with pytest.raises(ValueError):
        measure(grey, Box(w + 1, 0, 10, 10))


# ---- the crop hash --------------------------------------------------------------------------

def jittered(image: np.ndarray, dx: int, dy: int, scale: float, gain: float, quality: int) -> np.ndarray:
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), 0.0, scale)
    m[:, 2] += (dx, dy)
    moved = exposed(cv2.warpAffine(image, m, (w, h), borderMode=cv2.BORDER_REFLECT), gain)
    ok, buf = cv2.imencode(".jpg", moved, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def crop_hash_of(image: np.ndarray) -> int:
    found = detector_for(CFG).find(image)
    assert isinstance(found, FaceFinding), found
    return crop_hash(crop_face(image, found.box, CFG.crop_margin, CFG.crop_size))


@pytest.mark.parametrize("person", ["obama", "astronaut", "sample6-2"])
def test_a_jittered_near_copy_is_within_the_distance(person):
    frame = next(person_frames(person, 1, seed=4))
    h = crop_hash_of(frame.image)
    for args in ((3, -2, 1.03, 1.08, 70), (-3, 3, 0.97, 0.92, 95), (1, 0, 1.0, 1.0, 85)):
        assert hamming(h, crop_hash_of(jittered(frame.image, *args))) <= CFG.min_crop_distance


def test_other_people_and_other_photos_are_not_near_duplicates():
    frames = {name: next(f for f in person_frames(person, 20, seed=5) if f.sources[0] == name)
              for name, person in (("obama#0", "obama"), ("obama3#0", "obama"), ("biden#0", "biden"), ("sample5#2", "sample5-2"))}
    hashes = {name: crop_hash_of(f.image) for name, f in frames.items()}
    for a in hashes:
        for b in hashes:
            if a < b:
                assert hamming(hashes[a], hashes[b]) > CFG.min_crop_distance, (a, b)


def test_the_hash_is_deterministic_and_prints_as_16_hex_digits():
    f = face("obama2#0")
    crop = crop_face(f.image, f.face, CFG.crop_margin, CFG.crop_size)
    h = crop_hash(crop)
    assert h == crop_hash(crop.copy()) == crop_hash(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY))
    assert 0 <= h < 1 << 64 and 16 < bin(h).count("1") < 48  # about half the bits set
    assert len(hash_hex(h)) == 16 and int(hash_hex(h), 16) == h
    assert hash_hex(1) == "0000000000000001"
    assert hamming(h, h) == 0 and hamming(0, (1 << 64) - 1) == 64


def test_the_hash_of_a_written_crop_is_the_hash_of_the_crop():
    # so that the near-duplicate check can rebuild a user's hashes from the PNGs on disk
    f = face("sample6#2")
    crop = crop_face(f.image, f.face, CFG.crop_margin, CFG.crop_size)
    png = cv2.imdecode(np.frombuffer(encode_png(crop), np.uint8), cv2.IMREAD_COLOR)
    assert crop_hash(png) == crop_hash(crop)


def test_near_duplicate_is_within_the_distance_of_any_kept_hash():
    kept = [0b1111, 1 << 40]
    assert near_duplicate(0b0111, kept, 1) and near_duplicate((1 << 40) | 0b11, kept, 2)
    assert not near_duplicate(0b110000, kept, 2) and not near_duplicate(5, [], 64)
    assert not near_duplicate(0b1111, kept, 0)  # 0 turns the check off


# ---- settings -----------------------------------------------------------------------------

def test_settings_come_from_the_config():
    cfg = Config(min_face_px=50, min_sharpness=3.5, min_brightness=40, max_brightness=220, max_dark_share=0.4, max_bright_share=0.1)
    assert QualitySettings.of(cfg) == QualitySettings(50, 3.5, 40, 220, 0.4, 0.1)


@pytest.mark.parametrize("bad", [dict(min_face_px=-1), dict(min_sharpness=-1.0), dict(max_dark_share=1.5),
                                 dict(max_bright_share=-0.1), dict(min_brightness=200, max_brightness=100),
                                 dict(min_crop_distance=65), dict(min_crop_distance=-1)])
def test_bad_quality_settings_are_errors(bad):
    with pytest.raises(ConfigError):
        Config(**bad)
