"""The frame-to-crop core, in two steps that the batch function runs on the executors.

1. `analyze`: parse -> decode -> detect -> crop, one record at a time, no shared state.
2. `UserWriter.finish`: in source order per user, write crops under the per-user cap and
   turn every analysis into its manifest row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Iterator, Optional, Protocol

from .config import Config
from .crop import crop_face, encode_png
from .detect import detector_for
from .imaging import decode_image
from .parse import parse_message
from .records import ACCEPTED, REJECTED, Box, ManifestRow, Reason, Rejection, SourceRecord
from .storage import UnsafePath, UserFolder, crop_name


@dataclass(frozen=True)
class Analysis:
    """What step 1 learnt of one record; `crop` is set only for an exactly-one-face frame."""

    topic: str
    partition: int
    offset: int
    username: Optional[str]  # as received
    folder: Optional[str]  # the normalised username, once the message parsed
    timestamp: Optional[str]
    reason: Optional[Reason] = None
    detail: str = ""
    faces: Optional[int] = None
    box: Optional[Box] = None
    crop: Optional[bytes] = None

    @property
    def order_key(self) -> tuple[str, str, int, int]:
        """Groups a user's records together, in source order."""
        return (self.folder or "", self.topic, self.partition, self.offset)


class DeadLetterSink(Protocol):
    """Where messages rejected before detection also go, unchanged (a topic, or files)."""

    def add(self, record: SourceRecord, reason: Reason, detail: str) -> None: ...

    def flush(self) -> None: ...


def analyze(record: SourceRecord, cfg: Config) -> Analysis:
    coords = (record.topic, record.partition, record.offset)
    parsed = parse_message(record.value, cfg.max_message_bytes)
    if isinstance(parsed, Rejection):
        return Analysis(*coords, parsed.username, None, parsed.timestamp, parsed.reason, parsed.detail)
    base = Analysis(*coords, parsed.received_username, parsed.username, parsed.timestamp)
    image = decode_image(parsed.image, cfg.max_image_pixels)
    if isinstance(image, Rejection):
        return replace(base, reason=image.reason, detail=image.detail)
    boxes = detector_for(cfg).detect(image)
    if len(boxes) != 1:
        reason = Reason.NO_FACE if not boxes else Reason.MULTIPLE_FACES
        return replace(base, reason=reason, faces=len(boxes))
    crop = encode_png(crop_face(image, boxes[0], cfg.crop_margin, cfg.crop_size))
    return replace(base, faces=1, box=boxes[0], crop=crop)


def analyze_all(records: Iterable[SourceRecord], cfg: Config, dead_letters: DeadLetterSink) -> Iterator[Analysis]:
    """Streams: one frame in memory at a time. Flushes the dead letters before it ends."""
    for record in records:
        result = analyze(record, cfg)
        if result.reason is not None and result.reason.before_detection:
            dead_letters.add(record, result.reason, result.detail)
        yield result
    dead_letters.flush()


class UserWriter:
    """Step 2: fed analyses sorted by `order_key`, writes crops and yields manifest rows."""

    def __init__(self, output_dir: str | Path, cap: int) -> None:
        self.output_dir = output_dir
        self.cap = cap
        self._folder: Optional[UserFolder] = None

    def finish(self, result: Analysis) -> ManifestRow:
        if result.crop is None:
            return _row(result, REJECTED, result.reason)
        if self._folder is None or self._folder.path.name != result.folder:
            try:
                self._folder = UserFolder(self.output_dir, result.folder, self.cap)
            except UnsafePath:
                return _row(result, REJECTED, Reason.INVALID_USERNAME)
        name = crop_name(result.topic, result.partition, result.offset)
        if self._folder.write(name, result.crop) is None:
            return _row(result, REJECTED, Reason.USER_CAP_REACHED)
        return _row(result, ACCEPTED, None, path=f"{result.folder}/{name}")


def _row(result: Analysis, status: str, reason: Optional[Reason], path: Optional[str] = None) -> ManifestRow:
    box = result.box
    return ManifestRow(
        topic=result.topic,
        partition=result.partition,
        offset=result.offset,
        username=result.username,
        timestamp=result.timestamp,
        status=status,
        reason=reason.value if reason else None,
        faces=result.faces,
        x=box.x if box else None,
        y=box.y if box else None,
        w=box.w if box else None,
        h=box.h if box else None,
        path=path,
    )
