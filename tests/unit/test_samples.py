"""Sample frames built from sharp real faces (photos.py): deterministic, with honest ground truth."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from stream_processor.demo import photos
from stream_processor.demo.samples import (
    ASTRONAUT_FACE,
    FACE_MAX,
    FACE_MIN,
    MAX_UPSCALE,
    astronaut,
    encode,
    exposed,
    lfw_non_faces,
    make_frame,
    message,
    mixed_frames,
    people,
    person_frames,
)
from stream_processor.records import Box

pytestmark = pytest.mark.unit

SEEDS = range(100, 112)


@pytest.fixture(scope="module")
def frames():
    return {kind: [make_frame(kind, seed) for seed in SEEDS] for kind in ("one", "two", "none")}


def _disjoint(a: Box, b: Box) -> bool:
    return a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y


def test_photos_hold_the_expected_sharp_faces_with_two_eyes():
    faces = photos.faces()
    assert len(faces) == 1 + sum(photos.EXPECTED.values()) - len(photos.OUT_OF_FOCUS)
    assert len({f.name for f in faces}) == len(faces)
    assert [f.name for f in photos.faces_of("obama")] == ["obama#0", "obama2#0", "obama3#0"]
    assert len(people()) == len(faces) - 2  # every face is its own person but Obama's three
    for f in faces:
        assert f.face.x >= 0 and f.face.y >= 0 and f.face.x + f.face.w <= f.image.shape[1] and f.face.y + f.face.h <= f.image.shape[0]
        (lx, ly), (rx, ry) = f.eyes
        assert f.face.x < lx < f.face.x + f.face.w / 2 < rx < f.face.x + f.face.w  # left eye left of the middle
        assert f.face.y < min(ly, ry) and max(ly, ry) < f.face.y + f.face.h * 0.6
        assert f.person == "astronaut" or f.side >= photos.MIN_SIDE


def test_lfw_non_faces_hold_no_face():
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_alt2.xml")

    def found(patch: np.ndarray) -> bool:
        big = cv2.copyMakeBorder(cv2.resize(patch, (60, 60), interpolation=cv2.INTER_CUBIC), 20, 20, 20, 20, cv2.BORDER_CONSTANT, value=128)
        return len(cascade.detectMultiScale(big, 1.1, 3, minSize=(40, 40))) > 0

    assert lfw_non_faces().shape == (100, 25, 25) and lfw_non_faces().dtype == np.uint8
    assert sum(found(p) for p in lfw_non_faces()) <= 3


def test_frames_hold_the_promised_faces(frames):
    for kind, count in (("one", 1), ("two", 2), ("none", 0)):
        for frame in frames[kind]:
            assert frame.kind == kind
            assert frame.image.shape == (480, 640, 3) and frame.image.dtype == np.uint8
            assert len(frame.faces) == len(frame.sources) == count
            for face in frame.faces:
                # two heads side by side in 640 px may have to shrink a little below FACE_MIN
                assert (FACE_MIN if count == 1 else 0.75 * FACE_MIN) <= max(face.w, face.h) <= FACE_MAX
                assert face.x >= 0 and face.y >= 0 and face.x + face.w <= 640 and face.y + face.h <= 480
            names = {f.name: f for f in photos.faces()}
            for face, source in zip(frame.faces, frame.sources):
                assert max(face.w, face.h) <= names[source].side * MAX_UPSCALE + 1  # never much enlarged
    for frame in frames["two"]:
        assert _disjoint(*frame.faces)
        assert frame.people[0] != frame.people[1]


def test_the_face_is_really_there(frames):
    # The pasted face differs from the background photo: the area under its box has structure.
    for frame in frames["one"]:
        f = frame.faces[0]
        gray = cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY)
        assert gray[f.y:f.y + f.h, f.x:f.x + f.w].std() > 10


def test_frames_are_deterministic_and_vary_with_the_seed():
    a, b, c = make_frame("two", 5), make_frame("two", 5), make_frame("two", 6)
    assert np.array_equal(a.image, b.image) and a.faces == b.faces and a.sources == b.sources
    assert not np.array_equal(a.image, c.image)
    assert not np.array_equal(make_frame("one", 5).image, make_frame("none", 5).image)


def test_person_frames_show_one_person_in_varied_frames():
    frames = list(person_frames("obama", 8, seed=1))
    assert all(f.people == ("obama",) and f.kind == "one" for f in frames)
    assert len({f.sources[0] for f in frames}) >= 2  # several photos
    assert len({f.faces[0] for f in frames}) == 8  # elsewhere, nearer or farther each time
    assert [f.faces for f in person_frames("obama", 8, seed=1)] == [f.faces for f in frames]
    assert all(f.people == ("sample3-1",) for f in person_frames("sample3-1", 3, seed=1))
    with pytest.raises(ValueError):
        next(person_frames("nobody", 1, seed=1))
    with pytest.raises(ValueError):
        make_frame("two", 1, person="obama")


def test_exposed_scales_and_clips():
    image = np.array([[[10, 100, 200]]], np.uint8)
    assert exposed(image, 0.5).tolist() == [[[5, 50, 100]]]
    assert exposed(image, 2.0).tolist() == [[[20, 200, 255]]]


def test_other_frame_sizes():
    small = make_frame("two", 1, width=320, height=240)
    assert small.image.shape == (240, 320, 3)
    assert len(small.faces) == 2 and _disjoint(*small.faces)
    assert all(f.x + f.w <= 320 and f.y + f.h <= 240 for f in small.faces)


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError):
        make_frame("three", 0)


def test_astronaut_is_the_original_picture():
    from skimage import data

    frame = astronaut()
    assert frame.faces == (ASTRONAUT_FACE,)
    assert np.array_equal(frame.image, data.astronaut()[:, :, ::-1])  # BGR


def test_mixed_frames_is_deterministic_and_mixes_kinds():
    first = list(mixed_frames(20, seed=3))
    kinds = [f.kind for f in first]
    assert kinds == [f.kind for f in mixed_frames(20, seed=3)]
    assert np.array_equal(first[7].image, list(mixed_frames(8, seed=3))[7].image)  # a prefix
    assert set(kinds) == {"one", "two", "none"}
    assert 9 <= kinds.count("one") <= 19
    assert [f.kind for f in mixed_frames(3, seed=3, one=0, two=1, none=0)] == ["two"] * 3
    assert list(mixed_frames(0, seed=3)) == []
    with pytest.raises(ValueError):
        list(mixed_frames(3, seed=3, one=0, two=0, none=0))


def test_encode_png_is_lossless_and_jpeg_is_jpeg(frames):
    image = frames["one"][0].image
    png = encode(image, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array_equal(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), image)
    jpeg = encode(image, "jpeg", quality=80)
    assert jpeg[:3] == b"\xff\xd8\xff"
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(int) - image).mean() < 8
    assert len(encode(image, "jpeg", quality=30)) < len(jpeg)
    with pytest.raises(ValueError):
        encode(image, "gif")


def test_message_follows_the_input_contract():
    body = json.loads(message("alice", b"\x89PNG data"))
    assert body == {"username": "alice", "imageData": base64.b64encode(b"\x89PNG data").decode(), "timestamp": "11/27/2026, 10:00:00"}
    assert "timestamp" not in json.loads(message("bob", b"x", timestamp=None))
    extra = json.loads(message("bob", b"x", timestamp="2026-11-27T10:00:00Z", camera=3, imageData="!!"))
    assert extra["camera"] == 3 and extra["imageData"] == "!!" and extra["timestamp"] == "2026-11-27T10:00:00Z"
    assert message("bob", b"x") == message("bob", b"x")


def test_scikit_image_is_not_a_runtime_import():
    code = ("import sys, stream_processor.demo.samples, stream_processor.frames.detect, stream_processor.frames.crop; "
            "sys.exit('skimage' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2]).returncode == 0
