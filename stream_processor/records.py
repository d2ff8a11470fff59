"""The record types that flow through the job: messages in, manifest rows out.

Errors at the record level are values: every input ends as exactly one ManifestRow,
accepted or rejected with a reason from the closed set below.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from enum import Enum
from typing import Optional


class Reason(str, Enum):
    """The closed set of rejection reasons (docs/output.md)."""

    INVALID_JSON = "invalid_json"
    MISSING_FIELD = "missing_field"
    INVALID_USERNAME = "invalid_username"
    INVALID_BASE64 = "invalid_base64"
    UNSUPPORTED_FORMAT = "unsupported_format"
    IMAGE_TOO_LARGE = "image_too_large"
    CORRUPT_IMAGE = "corrupt_image"
    MESSAGE_TOO_LARGE = "message_too_large"
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    USER_CAP_REACHED = "user_cap_reached"
    # the training-data gates (docs/output.md, "Quality gates")
    BLURRY = "blurry"
    UNDEREXPOSED = "underexposed"
    OVEREXPOSED = "overexposed"
    FACE_TOO_SMALL = "face_too_small"
    NEAR_DUPLICATE = "near_duplicate"

    @property
    def before_detection(self) -> bool:
        """Messages rejected before detection also go, unchanged, to the dead-letter sink."""
        return self in _BEFORE_DETECTION


_BEFORE_DETECTION = frozenset({
    Reason.INVALID_JSON, Reason.MISSING_FIELD, Reason.INVALID_USERNAME, Reason.INVALID_BASE64,
    Reason.UNSUPPORTED_FORMAT, Reason.IMAGE_TOO_LARGE, Reason.CORRUPT_IMAGE, Reason.MESSAGE_TOO_LARGE,
})


ACCEPTED = "accepted"
REJECTED = "rejected"


@dataclass(frozen=True)
class Message:
    """One input message as the SQL step (spark/messages_sql.py) leaves it: where it came from, its
    fields, or the reason it was rejected there, and its raw key and value (for the dead letters)."""

    topic: str  # a Kafka topic, or a replay file's name
    partition: int
    offset: int  # a Kafka offset, or a replay file's 0-based line number
    time_ms: Optional[int]  # the Kafka record's timestamp, ms since the epoch; None for replay
    username: Optional[str]  # as received (a JSON string), else None
    timestamp: Optional[str]  # as given; a non-string as its JSON text
    image: Optional[bytes]  # the decoded imageData, when `reason` is None
    reason: Optional[Reason] = None
    detail: str = ""
    key: Optional[bytes] = None
    value: Optional[bytes] = None  # None when `rest` is set (and for a tombstone)
    rest: Optional[bytes] = None  # the value without its imageData text, which SQL read apart
    image_at: Optional[int] = None  # the index of that text's opening quote in `rest`
    value_bytes: Optional[int] = None  # the value's size, as read

    @property
    def raw_value(self) -> Optional[bytes]:
        """The message as received, for a dead letter. SQL takes a text apart only when it is
        the canonical base64 of the image (MessageReader.PlainImage), so encoding it gives it back."""
        if self.rest is None or self.image is None or self.image_at is None:
            return self.value
        at = self.image_at + 1
        return self.rest[:at] + base64.b64encode(self.image) + self.rest[at:]

    @property
    def coordinates(self) -> tuple[str, int, int]:
        return (self.topic, self.partition, self.offset)


@dataclass(frozen=True)
class Rejection:
    reason: Reason
    detail: str = ""


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class ManifestRow:
    """One row of the manifest (`<state_dir>/manifest/`, see output/manifest.py); field order is the
    Parquet column order."""

    topic: str
    partition: int
    offset: int
    username: Optional[str]
    timestamp: Optional[str]
    status: str
    reason: Optional[str]
    faces: Optional[int]
    x: Optional[int]
    y: Optional[int]
    w: Optional[int]
    h: Optional[int]
    path: Optional[str]
    # Scores of the quality gates, for every frame that reached them (docs/output.md, "Quality gates").
    sharpness: Optional[float] = None
    brightness: Optional[float] = None
    face_px: Optional[int] = None
    crop_hash: Optional[str] = None  # 64-bit perceptual hash of the crop, 16 hex digits
    roll_deg: Optional[float] = None  # in-plane rotation of the face that the crop undid
    aligned: Optional[bool] = None  # True when the crop was levelled on the eyes
