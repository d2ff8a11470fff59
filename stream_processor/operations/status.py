"""`status`: where the job stands, from the broker and the state location, without Spark.

Exit codes (for cron jobs and probes): 0 fine, 1 the group is behind by more than `max_lag`
records, 3 the broker does not answer (2 is a bad setting, as for every command).
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from typing import Optional

from ..config import Config
from ..kafka import clients as kafka_clients
from ..output import manifest
from ..output.state import StateDir
from ..records import Reason
from ..spark.batch import BatchSummary
from . import logs, metrics

BEHIND, BROKER_DOWN = 1, 3
BROKER_TIMEOUT_MS = 6_000  # within ~15 s a dead broker gives one line and exit 3


def last_batch(state: StateDir) -> Optional[BatchSummary]:
    """The summary the job wrote for its last batch, if any."""
    try:
        return BatchSummary.from_dict(json.loads(state.last_batch.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def dead_letters_by_reason(state: StateDir) -> dict[str, int]:
    """Records whose latest manifest row has a reason that sends them to the dead letters."""
    dead = {r.value for r in Reason if r.before_detection}
    return dict(sorted(Counter(r["reason"] for r in manifest.latest_rows(state.manifest) if r["reason"] in dead).items()))


def status(cfg: Config) -> int:
    logging.getLogger("kafka").setLevel(logging.CRITICAL)  # its retries would bury the one line below
    try:
        lags = kafka_clients.consumer_lag(cfg, timeout_ms=BROKER_TIMEOUT_MS)
    except Exception as exc:  # noqa: BLE001 - kafka-python raises several unrelated types here
        print(f"status: the Kafka broker at {cfg.bootstrap_servers} does not answer ({logs.first_line(exc)})",
              file=sys.stderr)
        return BROKER_DOWN
    total = kafka_clients.total_behind(lags)
    out = [f"topic {cfg.topic}, group {cfg.group_id}, broker {cfg.bootstrap_servers}",
           f"  {'partition':>9}  {'committed':>10}  {'end':>10}  {'lag':>8}"]
    if not lags:
        out.append(f"  (no partitions: the topic {cfg.topic} does not exist)")
    for p in lags:
        committed = "-" if p.committed is None else str(p.committed)
        out.append(f"  {p.partition:>9}  {committed:>10}  {p.end:>10}  {p.behind:>8}")
    behind = total > cfg.max_lag
    out.append(f"  total lag {total} ({'BEHIND: more than' if behind else 'within'} max_lag {cfg.max_lag})")
    state = StateDir.of(cfg)
    summary = last_batch(state)
    out.append(f"last batch: {summary.line() if summary else 'none yet'}"
               + (f" input_bytes={summary.input_bytes}" if summary else ""))
    users = metrics.users_by_state(cfg)
    out.append("users: " + ", ".join(f"{name} {n}" for name, n in users.items()))
    dead = dead_letters_by_reason(state)
    out.append("dead letters: " + (", ".join(f"{reason} {n}" for reason, n in dead.items()) if dead else "none")
               + f"  (state: {state.root})")
    print("\n".join(out))
    return BEHIND if behind else 0
