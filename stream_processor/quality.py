"""Quality of a face crop (placeholder until the calibrated gates land): the perceptual hash."""

from __future__ import annotations

import cv2
import numpy as np


def crop_hash(crop_bgr: np.ndarray) -> int:
    """64-bit difference hash of the grey crop: one bit per horizontal gradient of a 9x8 thumbnail."""
    grey = crop_bgr if crop_bgr.ndim == 2 else cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


def hash_hex(value: int) -> str:
    return f"{value:016x}"
