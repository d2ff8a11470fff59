"""Enrollment status per user: how far a user's training set is, and why frames were refused.

The status file (`<state_dir>/users/<username>.json`) holds facts only, all taken from the
records themselves, so a retried or replayed batch writes the same bytes: counts, the Kafka
timestamps of the first, last and last accepted frame, and per partition the highest offset
already counted (records at or below it are not counted again). `stalled` depends on the clock,
so it is derived when the status is read (`state_of`), never stored.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Optional

COLLECTING, COMPLETE, STALLED = "collecting", "complete", "stalled"
STATES = (COLLECTING, COMPLETE, STALLED)


@dataclass(frozen=True)
class UserStatus:
    username: str
    target: int
    count: int = 0  # crops in the user's folder
    frames: int = 0  # distinct records counted
    rejected: dict[str, int] = field(default_factory=dict)
    generation: int = 0  # bumped by each reset-user
    first_frame_ms: Optional[int] = None
    last_frame_ms: Optional[int] = None
    last_accepted_ms: Optional[int] = None
    watermarks: dict[str, dict[str, int]] = field(default_factory=dict)  # topic -> partition -> offset

    def counted(self, topic: str, partition: int, offset: int) -> bool:
        return offset <= self.watermarks.get(topic, {}).get(str(partition), -1)

    def observe(self, topic: str, partition: int, offset: int, time_ms: Optional[int], reason: Optional[str],
                count: int) -> "UserStatus":
        """This record's outcome (reason None: accepted), unless it was counted before."""
        if self.counted(topic, partition, offset):
            return replace(self, count=count)
        marks = {t: dict(p) for t, p in self.watermarks.items()}
        marks.setdefault(topic, {})[str(partition)] = offset
        rejected = dict(self.rejected)
        if reason is not None:
            rejected[reason] = rejected.get(reason, 0) + 1
        times = [t for t in (self.first_frame_ms, time_ms) if t is not None]
        return replace(self, count=count, frames=self.frames + 1, rejected=rejected, watermarks=marks,
                       first_frame_ms=min(times) if times else None,
                       last_frame_ms=max([t for t in (self.last_frame_ms, time_ms) if t is not None], default=None),
                       last_accepted_ms=(max(self.last_accepted_ms or 0, time_ms) if reason is None and time_ms is not None
                                         else self.last_accepted_ms))

    def to_json(self) -> bytes:
        """Stable bytes: sorted keys, no clock."""
        return (json.dumps(asdict(self), sort_keys=True, indent=1) + "\n").encode()

    @staticmethod
    def from_json(data: bytes | str) -> "UserStatus":
        doc = json.loads(data)
        return UserStatus(**{k: v for k, v in doc.items() if k in UserStatus.__dataclass_fields__})


def state_of(status: UserStatus, now_ms: int, idle_s: float) -> str:
    """complete once the target-th crop is durable; stalled when below it and no crop came for
    `idle_s` (counted from the first frame when none was kept yet); else collecting."""
    if status.count >= status.target:
        return COMPLETE
    since = status.last_accepted_ms or status.first_frame_ms
    if since is not None and now_ms - since > idle_s * 1000:
        return STALLED
    return COLLECTING


def event(status: UserStatus, now_ms: int, idle_s: float) -> dict[str, Any]:
    """The message published on `<topic>.enrollment` (key = username). Applying one twice is
    harmless: it is a whole snapshot, and `version` orders snapshots of a user."""
    return {"username": status.username, "state": state_of(status, now_ms, idle_s), "count": status.count,
            "target": status.target, "rejected": dict(sorted(status.rejected.items())), "frames": status.frames,
            "generation": status.generation, "version": [status.generation, status.frames],
            "last_frame_ms": status.last_frame_ms, "last_accepted_ms": status.last_accepted_ms}


class Announcements:
    """Which status events are due: a user's whenever its snapshot (state included, so also when
    it stalls) differs from the last one published. Starts empty, so after a restart every
    known user is announced once more (at least once; harmless, see `event`)."""

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self._status: dict[str, UserStatus] = {}
        self._published: dict[str, dict[str, Any]] = {}

    def update(self, statuses: list[UserStatus]) -> None:
        for status in statuses:
            self._status[status.username] = status

    def due(self, now_ms: int) -> list[dict[str, Any]]:
        events = (event(s, now_ms, self.idle_s) for s in self._status.values())
        return [e for e in events if self._published.get(e["username"]) != e]

    def published(self, events: list[dict[str, Any]]) -> None:
        for e in events:
            self._published[e["username"]] = e
