"""The output folder: crop names from source coordinates, atomic writes, the per-user cap."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Optional

CROP_SUFFIX = ".png"
MANIFEST_DIR = "_manifest"
_SAFE_TOPIC = re.compile(r"[^A-Za-z0-9._-]")
_STALE_TEMP_S = 600


class UnsafePath(ValueError):
    """A user folder would resolve outside output_dir (e.g. through a planted symlink)."""


def source_name(topic: str, partition: int, offset: int) -> str:
    """A file name from source coordinates alone, so a replayed record rewrites its own file."""
    safe = _SAFE_TOPIC.sub("_", topic).lstrip("._") or "topic"
    if safe != topic:  # keep distinct topics distinct after sanitising
        safe += "~" + hashlib.sha1(topic.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe}-p{partition}-o{offset:012d}"


def crop_name(topic: str, partition: int, offset: int) -> str:
    return source_name(topic, partition, offset) + CROP_SUFFIX


def user_dir(output_dir: str | Path, username: str) -> Path:
    """The user's folder, guaranteed inside output_dir once resolved."""
    root = Path(output_dir).resolve()
    folder = (root / username).resolve()
    if folder.parent != root:
        raise UnsafePath(f"{username!r} resolves to {folder}, outside {root}")
    return folder


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Temp file in the same folder, fsync, os.replace, fsync of the folder: all or nothing."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def is_crop(name: str) -> bool:
    return name.endswith(CROP_SUFFIX) and not name.startswith(".")


class UserFolder:
    """One user's crops. The cap counts files already on disk, so it holds across batches,
    retries and replays; a record whose crop exists is rewritten and never counted twice.
    One writer per user at a time: the batch function routes each user to one task."""

    def __init__(self, output_dir: str | Path, username: str, cap: int) -> None:
        self.path = user_dir(output_dir, username)
        self.path.mkdir(parents=True, exist_ok=True)
        self.cap = cap
        self._count = self._scan()

    def _scan(self) -> int:
        count, now = 0, time.time()
        with os.scandir(self.path) as entries:
            for entry in entries:
                if is_crop(entry.name):
                    count += 1
                elif entry.name.endswith(".tmp") and now - entry.stat().st_mtime > _STALE_TEMP_S:
                    os.unlink(entry.path)  # left by a writer killed mid-write
        return count

    def write(self, name: str, data: bytes) -> Optional[Path]:
        """The crop's path, or None when the user is at the cap and this crop is new."""
        target = self.path / name
        exists = target.exists()
        if not exists and self._count >= self.cap:
            return None
        atomic_write(target, data)
        if not exists:
            self._count += 1
        return target
