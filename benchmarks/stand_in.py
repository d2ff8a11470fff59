"""A fixed-cost stand-in for the face decision, so that Spark's own cost per frame can be watched
with a cheap core (`make bench BENCH_ARGS="--stand-in-ms 3"`, benchmarks/README.md).

`install(ms, module)` rebinds `detector_for` in `module` (stream_processor.output.analyze, which calls it
for every frame) to a detector whose `find` spends `ms` of CPU on the frame and then reports one
face in the middle of it: the gates, the aligned crop, the hash and the write that follow are the
job's own. The limit's processes call it directly; the job gets it through a copy of the code
whose output/analyze.py calls it on import (bench.stand_in_checkout), so the product's code holds no hook.
"""

from __future__ import annotations

import time
from types import ModuleType
from typing import Any

import cv2
import numpy as np

from stream_processor.frames.detect import Eyes, FaceFinding
from stream_processor.records import Box


class StandInDetector:
    def __init__(self, ms: float) -> None:
        self.seconds = ms / 1e3

    def find(self, image: np.ndarray) -> FaceFinding:
        """`ms` of CPU time on the frame (grey conversions, which take about 0.1 ms each at
        640x480), then one face: a centred square of a third of the frame's height."""
        start = time.process_time()
        while time.process_time() - start < self.seconds:
            cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        height, width = image.shape[:2]
        side = height // 3
        x, y = (width - side) // 2, (height - side) // 2
        eye_y = y + 0.4 * side
        return FaceFinding(Box(x, y, side, side), Eyes((x + 0.32 * side, eye_y), (x + 0.68 * side, eye_y)), 1.0)


def install(ms: float, module: ModuleType | dict[str, Any]) -> None:
    """Every `detector_for(cfg)` in `module` (a module, or its globals()) returns the stand-in."""
    detector = StandInDetector(ms)
    names = module if isinstance(module, dict) else vars(module)
    names["detector_for"] = lambda cfg, threads=1: detector
