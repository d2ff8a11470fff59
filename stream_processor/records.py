"""The record types that flow through the job: source records in, manifest rows out.

Errors at the record level are values: every input ends as exactly one ManifestRow,
accepted or rejected with a reason from the closed set below.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Optional


class Reason(str, Enum):
    """The closed set of rejection reasons (README.md, "Output")."""

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
    FACE_NOT_VERIFIED = "face_not_verified"  # one face found, but no eyes confirm it
    USER_CAP_REACHED = "user_cap_reached"
    # the training-data gates (README, "Quality gates")
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
class SourceRecord:
    """One input message and where it came from: a Kafka record, or a line of a replay file."""

    topic: str
    partition: int
    offset: int
    timestamp: Optional[int]  # Kafka record timestamp, ms since epoch; None for replay
    key: Optional[bytes]
    value: Optional[bytes]

    @property
    def coordinates(self) -> tuple[str, int, int]:
        return (self.topic, self.partition, self.offset)


@dataclass(frozen=True)
class Frame:
    """A message that parsed: a safe username, the raw (still encoded) image bytes."""

    username: str  # NFKC-normalised, allowlisted: the output folder's name
    received_username: str  # as received, for the manifest
    timestamp: Optional[str]
    image: bytes


@dataclass(frozen=True)
class Rejection:
    reason: Reason
    detail: str = ""
    username: Optional[str] = None  # as received, when the message got that far
    timestamp: Optional[str] = None


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class ManifestRow:
    """One row of the manifest (`<state_dir>/manifest/`, see manifest.py); field order is the
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
    # Scores of the quality gates, for every frame that reached them (README, "Quality gates").
    sharpness: Optional[float] = None
    brightness: Optional[float] = None
    face_px: Optional[int] = None
    crop_hash: Optional[str] = None  # 64-bit perceptual hash of the crop, 16 hex digits
    roll_deg: Optional[float] = None  # in-plane rotation of the face that the crop undid
    aligned: Optional[bool] = None  # True when the crop was levelled on the eyes
