"""`reset-user NAME`: let a user enrol again. Removes the user's crops, rejected examples and
status, durably and under the user's lock (a running job's writer waits), starts a new status
generation, and records the reset in `<state_dir>/resets.jsonl`."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

from ..config import Config
from ..frames.usernames import normalize_username
from .enrollment import UserStatus
from .state import StateDir
from .storage import atomic_write, fsync_dir, is_crop, user_dir


class ResetError(ValueError):
    """The name is not one the job could have written."""


def reset_user(cfg: Config, username: str) -> tuple[UserStatus, int]:
    """The user's new (empty) status and how many crops were removed."""
    name = normalize_username(username)
    if name is None:
        raise ResetError(f"{username!r} is not a valid username")
    state = StateDir.of(cfg)
    state.users.mkdir(parents=True, exist_ok=True)
    with state.user_lock(name):
        old = state.statuses([name])
        crops = _remove(user_dir(cfg.output_dir, name))
        _remove(user_dir(state.rejected, name))
        status = UserStatus(name, cfg.max_images_per_user, generation=(old[0].generation + 1) if old else 1)
        atomic_write(state.status_file(name), status.to_json())
        record = {"username": name, "generation": status.generation, "crops_removed": crops,
                  "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        with open(state.resets, "a", encoding="utf-8") as out:
            out.write(json.dumps(record, sort_keys=True) + "\n")
            out.flush()
            os.fsync(out.fileno())
    return status, crops


def _remove(folder: Path) -> int:
    """Deletes a folder durably; returns how many crops it held."""
    if not folder.exists():
        return 0
    crops = sum(1 for p in folder.iterdir() if is_crop(p.name))
    shutil.rmtree(folder)
    fsync_dir(folder.parent)
    return crops
