"""The webcam-like held-out frames (benchmarks/webcam_faces.py): shape, determinism, seeds, bands
and conditions, and the labels of its faces."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks import webcam_faces as wf
from stream_processor.records import Box

pytestmark = [pytest.mark.unit,
              pytest.mark.skipif(not wf.available(), reason="the face photos in .local/faces are not there")]

N_ONE = 24  # consecutive seeds: each band x condition once


@pytest.fixture(scope="module")
def ones() -> list:
    return [wf.make_case("one", wf.HELD_OUT_SEED + i) for i in range(N_ONE)]


@pytest.fixture(scope="module")
def twos() -> list:
    return [wf.make_case("two", wf.HELD_OUT_SEED + i) for i in range(6)]


def _inside(box: Box) -> bool:
    return box.x >= 0 and box.y >= 0 and box.x + box.w <= wf.WIDTH and box.y + box.h <= wf.HEIGHT


def _apart(a: Box, b: Box) -> bool:
    return a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y


def test_frames_are_640x480_bgr(ones, twos):
    none = wf.make_case("none", wf.HELD_OUT_SEED)
    for case in ones[:3] + twos[:3] + [none]:
        assert case.image.shape == (480, 640, 3) and case.image.dtype == np.uint8
    assert none.faces == () and none.variant


@pytest.mark.parametrize("kind", wf.KINDS)
def test_deterministic_per_seed(kind):
    first, again = wf.make_case(kind, wf.HELD_OUT_SEED + 1), wf.make_case(kind, wf.HELD_OUT_SEED + 1)
    assert np.array_equal(first.image, again.image)
    assert (first.faces, first.eyes, first.variant) == (again.faces, again.eyes, again.variant)


def test_tuning_and_held_out_seeds_differ(ones):
    assert wf.HELD_OUT_SEED - wf.TUNING_SEED >= 1_000_000  # blocks of seeds never overlap
    tuning = wf.make_case("one", wf.TUNING_SEED)
    assert not np.array_equal(tuning.image, ones[0].image)


def test_each_band_and_condition_occurs(ones, twos):
    seen = {tuple(c.variant.split("/")) for c in ones}
    bands = {f"{lo}-{hi}" for lo, hi in wf.BANDS}
    assert seen == {(b, c) for b in bands for c in set(wf.CONDITIONS)}
    assert {c.variant.split("/")[2] for c in twos} == set(wf.SECONDS)


def test_one_face_boxes_lie_inside_with_width_in_band(ones):
    for case in ones:
        (box,) = case.faces
        lo, hi = (int(v) for v in case.variant.split("/")[0].split("-"))
        assert _inside(box) and lo <= box.w < hi and box.w == box.h, (case.variant, box)
        assert abs(case.roll) <= wf.MAX_ROLL + 0.5
        lx, ly, rx, ry = case.eyes
        assert box.x < lx < rx < box.x + box.w and box.y < min(ly, ry) and max(ly, ry) < box.y + box.h / 2


def test_two_faces_never_overlap(twos):
    for case in twos:
        main, second = case.faces
        assert _inside(main) and _apart(main, second), case.variant
        assert second.w >= wf.SMALLEST
        if case.variant.endswith("/cut"):
            assert second.x < 0 or second.x + second.w > wf.WIDTH


@pytest.mark.parametrize("source", wf.SOURCES, ids=lambda s: f"{s.photo}@{s.box.x},{s.box.y}")
def test_source_eyes_lie_in_the_upper_half_of_the_box(source):
    b = source.box
    lx, ly, rx, ry = source.eyes
    assert b.w == b.h
    assert b.x < lx < rx < b.x + b.w
    assert b.y < min(ly, ry) and max(ly, ry) < b.y + b.h / 2
    assert 0.25 <= math.hypot(rx - lx, ry - ly) / b.w <= 0.6
