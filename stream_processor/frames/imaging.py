"""Safe image decoding: magic bytes, header dimensions checked before any pixel is allocated."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from ..records import Box, Reason, Rejection

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic...); not DHT/JPG/DAC.
_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_STANDALONE = {0x01} | set(range(0xD0, 0xD8))


@dataclass(frozen=True)
class Header:
    format: str  # "png" or "jpeg"
    width: int
    height: int


def read_header(data: bytes) -> Header | Rejection:
    """Format and dimensions from the first bytes alone."""
    if data.startswith(PNG_MAGIC):
        if len(data) < 24 or data[12:16] != b"IHDR":
            return Rejection(Reason.CORRUPT_IMAGE, "PNG without an IHDR chunk")
        width, height = struct.unpack(">II", data[16:24])
        return _checked(Header("png", width, height))
    if data.startswith(JPEG_MAGIC):
        size = _jpeg_size(data)
        if size is None:
            return Rejection(Reason.CORRUPT_IMAGE, "JPEG without a readable start-of-frame")
        return _checked(Header("jpeg", *size))
    return Rejection(Reason.UNSUPPORTED_FORMAT, "neither PNG nor JPEG magic bytes")


def _checked(header: Header) -> Header | Rejection:
    if header.width == 0 or header.height == 0:
        return Rejection(Reason.CORRUPT_IMAGE, f"{header.format} header says {header.width}x{header.height}")
    return header


def _jpeg_size(data: bytes) -> Optional[tuple[int, int]]:
    i, n = 2, len(data)
    while i + 1 < n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        if marker in (0xD9, 0xDA) or i + 4 > n:  # end of image or scan data before any frame header
            return None
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if marker in _SOF_MARKERS:
            if i + 9 > n:
                return None
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


def _complete(data: bytes, fmt: str) -> bool:
    """Truncated files decode to a half-grey picture in some codecs: require the end marker."""
    if fmt == "png":
        return _PNG_IEND in data[-64:]
    return data.rstrip(b"\x00\r\n ").endswith(b"\xff\xd9")


def decode_image(data: bytes, max_image_pixels: int) -> np.ndarray | Rejection:
    """A BGR uint8 array, or the reason it cannot be one."""
    header = read_header(data)
    if isinstance(header, Rejection):
        return header
    if header.width * header.height > max_image_pixels:
        return Rejection(Reason.IMAGE_TOO_LARGE, f"{header.width}x{header.height} > {max_image_pixels} pixels")
    if not _complete(data, header.format):
        return Rejection(Reason.CORRUPT_IMAGE, f"truncated {header.format}")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return Rejection(Reason.CORRUPT_IMAGE, f"{header.format} failed to decode")
    if image.shape[:2] not in ((header.height, header.width), (header.width, header.height)):  # EXIF may rotate
        return Rejection(Reason.CORRUPT_IMAGE, f"decoded {image.shape[1]}x{image.shape[0]}, header said {header.width}x{header.height}")
    return image


def to_gray(image: np.ndarray) -> np.ndarray:
    """A grey view or copy of a grey, BGR or BGRA uint8 image."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY if image.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)


def warped(image: np.ndarray, m: np.ndarray, side: int, scale: float) -> np.ndarray:
    """The `side` square that the affine `m` (frame -> square, shrinking by `scale`) maps the
    frame onto; beyond the frame, its edge repeated. The part of the frame it needs is cut out
    first, and shrunk with area averaging when `scale` is small (warpAffine alone would alias)."""
    corners = cv2.invertAffineTransform(m) @ np.array([[0, 0, 1], [side, 0, 1], [0, side, 1], [side, side, 1]], float).T
    x0, y0 = (max(0, int(v) - 1) for v in corners.min(axis=1))
    x1, y1 = min(image.shape[1], int(corners[0].max()) + 2), min(image.shape[0], int(corners[1].max()) + 2)
    if x1 <= x0 or y1 <= y0:
        x0, y0, x1, y1 = 0, 0, image.shape[1], image.shape[0]
    part = image[y0:y1, x0:x1]
    m = m.copy()
    m[:, 2] += m[:, :2] @ np.array([x0, y0], float)
    if scale < 0.8:
        part = cv2.resize(part, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        m[:, :2] /= scale
    return cv2.warpAffine(part, m, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def cut(image: np.ndarray, box: Box, width: int) -> np.ndarray:
    """The box's pixels resized to `width` px wide (height to scale); beyond the frame, its edge
    repeated."""
    scale = width / box.w
    size = (width, max(1, round(box.h * scale)))
    x0, y0 = max(0, box.x), max(0, box.y)
    x1, y1 = min(image.shape[1], box.x + box.w), min(image.shape[0], box.y + box.h)
    if scale < 0.8 and x1 > x0 and y1 > y0:  # area averaging first: warpAffine alone would alias
        part = cv2.resize(image[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        m = np.array([[1.0, 0.0, (x0 - box.x) * scale], [0.0, 1.0, (y0 - box.y) * scale]])
        return cv2.warpAffine(part, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    m = np.array([[scale, 0.0, -box.x * scale], [0.0, scale, -box.y * scale]])
    return cv2.warpAffine(image, m, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
