"""The frame-to-crop core, in two steps that the batch function runs on the executors.

1. `analyze`: a message the SQL step parsed (spark/messages_sql.py) -> username check -> decode ->
   `judge` (the face decision of frames/detect.py, then the quality gates) -> aligned crop -> hash, one
   message at a time, no shared state.
2. `UserWriter.finish`: in source order per user: the cap, the near-duplicate check, the crop
   writes, the enrollment status and the rejected examples; every analysis becomes its manifest row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Iterator, Optional, Protocol

import cv2
import numpy as np

from ..config import Config
from ..frames.align import align_face
from ..frames.crop import encode_png
from ..frames.detect import FaceFinding, FaceRejection, detector_for
from ..frames.imaging import decode_image
from ..frames.quality import QualityScores, QualitySettings, crop_hash, gate, gate_exposure_and_sharpness, hash_hex, measure, near_duplicate
from ..frames.usernames import normalize_username
from ..records import ACCEPTED, REJECTED, Box, ManifestRow, Message, Reason, Rejection
from .enrollment import UserStatus
from .state import StateDir
from .storage import CappedFolder, UnsafePath, UserFolder, atomic_write, crop_name, source_name, user_dir

EXAMPLE_SIDE = 128  # px, longest side of a rejected frame kept as an example


@dataclass(frozen=True)
class Analysis:
    """What step 1 learnt of one record; `crop` is set only for a frame that passed every check."""

    topic: str
    partition: int
    offset: int
    username: Optional[str]  # as received
    folder: Optional[str]  # the normalised username, once the message parsed
    timestamp: Optional[str]
    time_ms: Optional[int] = None  # the Kafka record's timestamp
    reason: Optional[Reason] = None
    detail: str = ""
    faces: Optional[int] = None
    box: Optional[Box] = None
    crop: Optional[bytes] = None
    crop_hash: Optional[str] = None
    sharpness: Optional[float] = None
    brightness: Optional[float] = None
    face_px: Optional[int] = None
    roll_deg: Optional[float] = None  # the eye line's angle in the frame, when the crop was aligned
    aligned: Optional[bool] = None
    example: Optional[bytes] = None  # a small JPEG of a rejected frame that decoded

    @property
    def order_key(self) -> tuple[str, str, int, int]:
        """Groups a user's records together, in source order."""
        return (self.folder or "", self.topic, self.partition, self.offset)


class DeadLetterSink(Protocol):
    """Where messages rejected before detection also go, unchanged (a topic, or files)."""

    def add(self, message: Message, reason: Reason, detail: str) -> None: ...

    def flush(self) -> None: ...


def analyze(message: Message, cfg: Config) -> Analysis:
    # A rejected message counts for its user too, when the name is a valid one.
    folder = normalize_username(message.username) if message.username is not None else None
    base = Analysis(*message.coordinates, message.username, folder, message.timestamp, message.time_ms)
    # The contract checks the username before the base64 (docs/output.md); SQL decoded first.
    if message.reason is not None and (folder is not None or message.reason is not Reason.INVALID_BASE64):
        return replace(base, reason=message.reason, detail=message.detail)
    if folder is None:
        return replace(base, reason=Reason.INVALID_USERNAME,
                       detail="not [A-Za-z0-9][A-Za-z0-9._-]{0,63} after NFKC, or reserved")
    image = decode_image(message.image, cfg.max_image_pixels)
    if isinstance(image, Rejection):
        return replace(base, reason=image.reason, detail=image.detail)
    verdict = judge(image, cfg)
    if verdict.finding is None:
        return replace(base, reason=verdict.reason, detail=verdict.detail, faces=verdict.faces,
                       example=example_jpeg(image))
    scores = verdict.scores
    base = replace(base, faces=1, box=verdict.finding.box, sharpness=round(scores.sharpness, 3),
                   brightness=round(scores.brightness, 3), face_px=scores.face_px)
    if verdict.reason is not None:
        return replace(base, reason=verdict.reason, example=example_jpeg(image))
    crop = align_face(image, verdict.finding, cfg.crop_margin, cfg.crop_size)
    return replace(base, crop=encode_png(crop.image), crop_hash=hash_hex(crop_hash(crop.image)),
                   roll_deg=crop.roll_deg, aligned=crop.aligned)


@dataclass(frozen=True)
class Verdict:
    """What the face decision and the quality gates say of a decoded frame: `reason` None means
    keep it; `finding` and `scores` are set when exactly one face was found."""

    reason: Optional[Reason]
    faces: int
    finding: Optional[FaceFinding] = None
    scores: Optional[QualityScores] = None
    detail: str = ""


def judge(image: np.ndarray, cfg: Config) -> Verdict:
    """The face decision, then the gates. Which reason wins: multiple_faces; then, with one face,
    face_too_small, underexposed, overexposed, blurry; with none, underexposed, overexposed or
    blurry of the likeliest face's region (else the whole frame) before no_face."""
    settings = QualitySettings.of(cfg)
    found = detector_for(cfg).find(image)
    if isinstance(found, FaceRejection):
        reason = found.reason
        if reason is Reason.NO_FACE:
            reason = _unseen_face_reason(image, found.region, settings) or reason
        return Verdict(reason, found.faces, detail=found.detail)
    scores = measure(image, found.box)
    return Verdict(gate(scores, settings), 1, found, scores)


def _unseen_face_reason(image: np.ndarray, region: Optional[Box], settings: QualitySettings) -> Optional[Reason]:
    """Why no face could be confirmed, when the frame says why: the likeliest face's region too
    dark, too bright or too blurred; without one, the whole frame too dark or too bright (the
    sharpness of a whole frame, a wall or a sky, says nothing of a face)."""
    if region is not None:
        return gate_exposure_and_sharpness(measure(image, region), settings)
    whole = measure(image, Box(0, 0, image.shape[1], image.shape[0]))
    reason = gate_exposure_and_sharpness(whole, settings)
    return reason if reason is not Reason.BLURRY else None


def example_jpeg(image: np.ndarray) -> bytes:
    """A rejected frame, small, for the review page."""
    scale = EXAMPLE_SIDE / max(image.shape[:2])
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    return cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 80])[1].tobytes()


def analyze_all(messages: Iterable[Message], cfg: Config, dead_letters: DeadLetterSink) -> Iterator[Analysis]:
    """Streams: one frame in memory at a time. Flushes the dead letters before it ends."""
    for message in messages:
        result = analyze(message, cfg)
        if result.reason is not None and result.reason.before_detection:
            dead_letters.add(message, result.reason, result.detail)
        yield result
    dead_letters.flush()


class _User:
    """The writer's hold on one user: the lock, the crops folder, the status, the examples."""

    def __init__(self, cfg: Config, state: StateDir, name: str) -> None:
        self.name, self.state = name, state
        self._lock = state.user_lock(name)
        self._lock.__enter__()
        try:
            self.folder = UserFolder(cfg.output_dir, name, cfg.max_images_per_user)
            path = state.status_file(name)
            self.status = (UserStatus.from_json(path.read_bytes()) if path.exists()
                           else UserStatus(name, cfg.max_images_per_user))
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        self._saved = self.status
        self._examples: dict[str, CappedFolder] = {}
        self._examples_cap = cfg.rejected_examples

    def keep_example(self, reason: Reason, name: str, data: Optional[bytes]) -> None:
        """The first few rejected frames per reason, in source order, as the cap keeps crops."""
        if data is None or self._examples_cap == 0:
            return
        folder = self._examples.get(reason.value)
        if folder is None:
            suffix = ".png" if data.startswith(b"\x89PNG") else ".jpg"
            root = user_dir(self.state.rejected, self.name)
            folder = self._examples[reason.value] = CappedFolder(root / reason.value, self._examples_cap, suffix)
        folder.write(name + folder.suffix, data)

    def close(self) -> None:
        try:
            if self.status != self._saved:
                self.state.users.mkdir(parents=True, exist_ok=True)
                atomic_write(self.state.status_file(self.name), self.status.to_json())
        finally:
            self._lock.__exit__(None, None, None)


class UserWriter:
    """Step 2: fed analyses sorted by `order_key`, writes crops and status, yields manifest rows.
    `close()` must follow the last `finish` (it saves the last user's status)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.state = StateDir.of(cfg)
        self._user: Optional[_User] = None

    def finish(self, result: Analysis) -> ManifestRow:
        if result.folder is None:
            return _row(result, REJECTED, result.reason)
        try:
            user = self._switch(result.folder)
        except UnsafePath:
            return _row(result, REJECTED, Reason.INVALID_USERNAME)
        status, reason, path = REJECTED, result.reason, None
        name = source_name(result.topic, result.partition, result.offset)
        if result.crop is not None:
            crop_file = crop_name(result.topic, result.partition, result.offset)
            reason = self._place(user, result, crop_file)
            if reason is None:
                status, path = ACCEPTED, f"{result.folder}/{crop_file}"
            else:
                user.keep_example(reason, name, result.crop)
        elif reason is not None:
            user.keep_example(reason, name, result.example)
        user.status = user.status.observe(result.topic, result.partition, result.offset, result.time_ms,
                                          reason.value if reason else None, user.folder.count)
        return _row(result, status, reason, path)

    def _place(self, user: _User, result: Analysis, name: str) -> Optional[Reason]:
        """Writes the crop, or says why not: a rewrite of its own file always goes through."""
        folder = user.folder
        hash_ = int(result.crop_hash, 16)
        if not folder.has(name):
            if folder.full:
                return Reason.USER_CAP_REACHED
            if near_duplicate(hash_, folder.kept_hashes(), self.cfg.min_crop_distance):
                return Reason.NEAR_DUPLICATE
        folder.write_crop(name, result.crop, hash_)
        return None

    def _switch(self, name: str) -> _User:
        if self._user is None or self._user.name != name:
            self.close()
            self._user = _User(self.cfg, self.state, name)
        return self._user

    def close(self) -> None:
        user, self._user = self._user, None
        if user is not None:
            user.close()


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
        sharpness=result.sharpness,
        brightness=result.brightness,
        face_px=result.face_px,
        crop_hash=result.crop_hash,
        roll_deg=result.roll_deg,
        aligned=result.aligned,
    )
