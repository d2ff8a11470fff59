import struct
import tracemalloc
import zlib

import cv2
import numpy as np
import pytest

from stream_processor.frames.imaging import decode_image, read_header
from stream_processor.records import Reason, Rejection

pytestmark = pytest.mark.unit
LIMIT = 4096 * 4096


@pytest.fixture(scope="module")
def picture():
    rng = np.random.default_rng(1)
    return rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)


def encoded(image, ext):
    ok, buf = cv2.imencode(ext, image)
    assert ok
    return buf.tobytes()


def png_claiming(width, height):
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def jpeg_claiming(width, height):
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + sof + b"\xff\xd9"


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_png_and_jpeg_decode(picture, ext):
    image = decode_image(encoded(picture, ext), LIMIT)
    assert isinstance(image, np.ndarray) and image.shape == picture.shape


def test_header_dimensions(picture):
    assert (read_header(encoded(picture, ".png")).width, read_header(encoded(picture, ".jpg")).height) == (160, 120)


@pytest.mark.parametrize("data", [b"GIF89a" + b"\x00" * 40, b"BM" + b"\x00" * 60, b"", b"\x00" * 100, b"hello"])
def test_other_formats_are_unsupported(data):
    assert decode_image(data, LIMIT).reason is Reason.UNSUPPORTED_FORMAT


@pytest.mark.parametrize("make, side", [(png_claiming, 100000), (jpeg_claiming, 65000)])  # JPEG's limit is 65535
def test_gigapixel_header_is_rejected_without_allocating(make, side):
    tracemalloc.start()
    out = decode_image(make(side, side), LIMIT)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert isinstance(out, Rejection) and out.reason is Reason.IMAGE_TOO_LARGE
    assert peak < 1024 * 1024


@pytest.mark.parametrize("ext", [".png", ".jpg"])
@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_truncated_images_are_corrupt(picture, ext, keep):
    data = encoded(picture, ext)
    assert decode_image(data[: int(len(data) * keep)], LIMIT).reason is Reason.CORRUPT_IMAGE


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_garbled_body_is_corrupt(picture, ext):
    data = bytearray(encoded(picture, ext))
    data[40:-20] = bytes(len(data) - 60)
    out = decode_image(bytes(data), LIMIT)
    assert isinstance(out, Rejection) and out.reason is Reason.CORRUPT_IMAGE


def test_magic_bytes_alone_are_corrupt():
    assert decode_image(b"\x89PNG\r\n\x1a\n", LIMIT).reason is Reason.CORRUPT_IMAGE
    assert decode_image(b"\xff\xd8\xff", LIMIT).reason is Reason.CORRUPT_IMAGE


def test_zero_sized_header_is_corrupt():
    assert decode_image(png_claiming(0, 10), LIMIT).reason is Reason.CORRUPT_IMAGE
