"""The state location (`Config.state_path`): everything the job keeps that is not a crop, so the
training set holds user folders only. Layout:

  manifest/                       one Parquet file per batch (manifest.py)
  dead-letters/                   replay's dead letters, JSON lines (dead_letters.py)
  users/<username>.json           enrollment status (enrollment.py)
  rejected/<username>/<reason>/   a few rejected frames per reason, for the review page
  locks/<username>.lock           one writer per user: the batch's task, or `reset-user`
  last-batch.json                 the last batch's summary
  structured-checkpoint/          the structured engine's progress (engines/structured.py)
  resets.jsonl                    one line per `reset-user`
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Optional

from ..config import Config
from .enrollment import UserStatus

log = logging.getLogger("stream_processor")

LEGACY = {"_manifest": "manifest", "_dlq": "dead-letters"}  # what older versions kept in the training set


@dataclass(frozen=True)
class StateDir:
    root: Path

    @staticmethod
    def of(cfg: Config) -> "StateDir":
        """The state location a config names (Config.state_path)."""
        return StateDir(Path(cfg.state_path))

    @property
    def manifest(self) -> Path:
        return self.root / "manifest"

    @property
    def dead_letters(self) -> Path:
        return self.root / "dead-letters"

    @property
    def users(self) -> Path:
        return self.root / "users"

    @property
    def rejected(self) -> Path:
        return self.root / "rejected"

    @property
    def last_batch(self) -> Path:
        return self.root / "last-batch.json"

    @property
    def structured_checkpoint(self) -> Path:
        return self.root / "structured-checkpoint"

    @property
    def resets(self) -> Path:
        return self.root / "resets.jsonl"

    def status_file(self, username: str) -> Path:
        return self.users / f"{username}.json"

    def statuses(self, names: Optional[Iterable[str]] = None) -> list[UserStatus]:
        """The status of these users (default: every user with one); users without one are left out."""
        paths = ([self.status_file(n) for n in names] if names is not None
                 else sorted(self.users.glob("*.json")) if self.users.is_dir() else [])
        return [UserStatus.from_json(p.read_bytes()) for p in paths if p.is_file()]

    @contextlib.contextmanager
    def user_lock(self, username: str) -> Iterator[None]:
        """Excludes the other writer of this user's crops and status (flock, NFS-safe on v4)."""
        folder = self.root / "locks"
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / f"{username}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def prepare(training_dir: str | Path, state_dir: str | Path) -> StateDir:
    """Creates both folders and moves what older versions kept inside the training set
    (`_manifest/`, `_dlq/`) to the state location, so the trainer sees user folders only."""
    training, state = Path(training_dir), StateDir(Path(state_dir))
    training.mkdir(parents=True, exist_ok=True)
    state.root.mkdir(parents=True, exist_ok=True)
    for old, new in LEGACY.items():
        source, target = training / old, state.root / new
        if not source.is_dir():
            continue
        target.mkdir(exist_ok=True)
        for entry in source.iterdir():
            if not (target / entry.name).exists():
                shutil.move(str(entry), target / entry.name)
        shutil.rmtree(source)
        log.warning("moved %s to %s: the training set now holds user folders only", source, target)
    return state
