"""Files on disk: names from source coordinates, the one durable-write helper, containment, and
folders with a cap (a user's crops, a user's rejected examples)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from pathlib import Path
from typing import IO, Iterator, Optional

import cv2
import numpy as np

from ..frames.quality import crop_hash

CROP_SUFFIX = ".png"
_SAFE_TOPIC = re.compile(r"[^A-Za-z0-9._-]")
_STALE_TEMP_S = 600


class UnsafePath(ValueError):
    """A user folder would resolve outside its root (e.g. through a planted symlink)."""


def source_name(topic: str, partition: int, offset: int) -> str:
    """A file name from source coordinates alone, so a replayed record rewrites its own file."""
    safe = _SAFE_TOPIC.sub("_", topic).lstrip("._") or "topic"
    if safe != topic:  # keep distinct topics distinct after sanitising
        safe += "~" + hashlib.sha1(topic.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe}-p{partition}-o{offset:012d}"


def crop_name(topic: str, partition: int, offset: int) -> str:
    return source_name(topic, partition, offset) + CROP_SUFFIX


def user_dir(root: str | Path, username: str) -> Path:
    """`root/username`, guaranteed inside root once resolved."""
    base = Path(root).resolve()
    folder = (base / username).resolve()
    if folder.parent != base:
        raise UnsafePath(f"{username!r} resolves to {folder}, outside {base}")
    return folder


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: Path, mode: str = "wb") -> Iterator[IO]:
    """All or nothing: a temp file in the same folder (readers skip names starting with '.'),
    fsync, os.replace, fsync of the folder. Every durable file of the job is written here."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write(path: Path, data: bytes) -> None:
    with atomic_writer(path) as out:
        out.write(data)


def is_crop(name: str) -> bool:
    return name.endswith(CROP_SUFFIX) and not name.startswith(".")


class CappedFolder:
    """At most `cap` files named `*suffix`. The count is read from disk, so it holds across
    batches, retries and replays; a file that exists is rewritten and never counted twice.
    The folder is made with its first file: an empty user folder would count as a user.
    One writer per folder at a time (the batch function routes each user to one task)."""

    def __init__(self, path: Path, cap: int, suffix: str) -> None:
        self.path, self.cap, self.suffix = path, cap, suffix
        self._names = self._scan()

    def _scan(self) -> set[str]:
        names, now = set(), time.time()
        if not self.path.exists():
            return names
        with os.scandir(self.path) as entries:
            for entry in entries:
                if entry.name.endswith(self.suffix) and not entry.name.startswith("."):
                    names.add(entry.name)
                elif entry.name.endswith(".tmp") and now - entry.stat().st_mtime > _STALE_TEMP_S:
                    os.unlink(entry.path)  # left by a writer killed mid-write
        return names

    @property
    def count(self) -> int:
        return len(self._names)

    def has(self, name: str) -> bool:
        return name in self._names

    @property
    def full(self) -> bool:
        return len(self._names) >= self.cap

    def write(self, name: str, data: bytes) -> Optional[Path]:
        """The file's path, or None when the folder is full and this file is new."""
        if not self.has(name) and self.full:
            return None
        self.path.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path / name, data)
        self._names.add(name)
        return self.path / name


class UserFolder(CappedFolder):
    """One user's crops in the training set, capped, with the perceptual hashes of the crops it
    holds (rebuilt from the files, so the near-duplicate check holds across restarts and replays)."""

    def __init__(self, training_dir: str | Path, username: str, cap: int) -> None:
        super().__init__(user_dir(training_dir, username), cap, CROP_SUFFIX)
        self._hashes: Optional[dict[str, int]] = None

    def kept_hashes(self) -> Iterator[int]:
        """The hashes of the crops it holds, read from the files (once) only when iterated: with
        the near-duplicate check off, never."""
        if self._hashes is None:
            self._hashes = {name: _file_hash(self.path / name) for name in sorted(self._names)}
        yield from self._hashes.values()

    def write_crop(self, name: str, data: bytes, hash_: int) -> Optional[Path]:
        path = self.write(name, data)
        if path is not None and self._hashes is not None:  # else read from the file when first asked
            self._hashes[name] = hash_
        return path


_HASH_CACHE: dict[tuple[str, int, int], int] = {}


def _file_hash(path: Path) -> int:
    """The crop hash of a crop file, cached per process by (path, size, mtime)."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        image = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise OSError(f"cannot read the crop {path}")
        _HASH_CACHE[key] = crop_hash(image)
    return _HASH_CACHE[key]
