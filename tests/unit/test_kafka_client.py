"""kafka-python computes the record-batch CRC32C with the `crc32c` C extension (requirements.txt),
not in pure Python (about 170 ms of CPU for a 700 kB message instead of 1 ms)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.unit


def test_kafka_python_uses_the_c_crc32c():
    import crc32c
    from kafka.record import util

    assert util.calc_crc32c.__defaults__ == (crc32c.crc32c,)
    assert util.calc_crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
