"""What a person checks before training: `python -m stream_processor.output.report OUTPUT [--html FILE]`.

Reads the training set, the manifest and the enrollment status with pyarrow and the standard
library alone, so it runs without Spark (the demo's last step). `--html` writes one
self-contained page: per user a contact sheet of the kept crops, the enrollment state, the
counts by reason and a few rejected examples per reason (docs/output.md, "The review page").
"""

from __future__ import annotations

import argparse
import base64
import html
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Optional, Sequence

from ..config import Config
from . import manifest
from .enrollment import UserStatus, state_of
from .state import StateDir
from .storage import is_crop

_IDLE_S = Config().enrollment_idle_s  # the shipped default, for a page made without the job's settings


def crops_per_user(output_dir: str | Path) -> dict[str, int]:
    root = Path(output_dir)
    if not root.is_dir():
        return {}
    return {d.name: sum(1 for f in d.iterdir() if is_crop(f.name)) for d in sorted(root.iterdir()) if d.is_dir()}


def summary(output_dir: str | Path, state_dir: str | Path) -> str:
    rows = manifest.latest_rows(StateDir(Path(state_dir)).manifest)
    status = Counter(r["status"] for r in rows)
    reasons = Counter(r["reason"] for r in rows if r["status"] == "rejected")
    lines = [f"training set: {Path(output_dir).resolve()}", f"state:        {Path(state_dir).resolve()}",
             f"messages: {len(rows)}  accepted: {status['accepted']}  rejected: {status['rejected']}"]
    lines += ["crops per user:"] + [f"  {user:<24} {n}" for user, n in crops_per_user(output_dir).items()]
    if reasons:
        lines += ["rejections by reason:"] + [f"  {reason:<24} {n}" for reason, n in sorted(reasons.items())]
    return "\n".join(lines)


def _img(path: Path, title: str) -> str:
    kind = "png" if path.suffix == ".png" else "jpeg"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/{kind};base64,{data}" title="{html.escape(title)}" alt="">'


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}h2{margin-top:2em}
.sheet img{width:80px;height:80px;margin:2px;border-radius:3px}.ex img{max-height:64px;margin:2px}
.state{padding:2px 8px;border-radius:8px;color:#fff}.complete{background:#2e7d32}.collecting{background:#1565c0}
.stalled{background:#c62828}table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left}"""


def review_page(output_dir: str | Path, state_dir: str | Path, idle_s: float = _IDLE_S,
                now_ms: Optional[int] = None) -> str:
    training, state = Path(output_dir), StateDir(Path(state_dir))
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    statuses = {s.username: s for s in state.statuses()}
    users = sorted(set(crops_per_user(training)) | set(statuses))
    parts = [f"<!doctype html><meta charset='utf-8'><title>Training set review</title><style>{_STYLE}</style>",
             f"<h1>Training set review</h1><p>{html.escape(str(training.resolve()))}: {len(users)} users</p>"]
    for user in users:
        status = statuses.get(user) or UserStatus(user, 0)
        crops = sorted(p for p in (training / user).glob("*.png") if is_crop(p.name)) if (training / user).is_dir() else []
        state_name = state_of(status, now_ms, idle_s) if user in statuses else "unknown"
        parts.append(f"<h2>{html.escape(user)} <span class='state {state_name}'>{state_name}</span> "
                     f"{len(crops)} of {status.target or '?'} crops</h2>")
        parts.append("<div class='sheet'>" + "".join(_img(p, p.name) for p in crops) + "</div>")
        if status.rejected:
            parts.append(f"<p>{status.frames} frames seen; rejected:</p><table>")
            for reason, n in sorted(status.rejected.items(), key=lambda kv: -kv[1]):
                examples = sorted((state.rejected / user / reason).glob("*.*")) if (state.rejected / user).is_dir() else []
                shown = "".join(_img(p, p.stem) for p in examples if not p.name.startswith("."))
                parts.append(f"<tr><th>{html.escape(reason)}</th><td>{n}</td><td class='ex'>{shown}</td></tr>")
            parts.append("</table>")
    return "\n".join(parts) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stream_processor.output.report", description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="training-data", help="the training set (output_dir)")
    parser.add_argument("--state-dir", help="the state location (default: OUTPUT-state)")
    parser.add_argument("--html", metavar="FILE", help="write the review page to FILE")
    parser.add_argument("--idle-s", type=float, default=_IDLE_S, help="enrollment_idle_s, for the stalled state")
    args = parser.parse_args(argv)
    state_dir = Config(output_dir=args.output, state_dir=args.state_dir or "").state_path
    if args.html:
        Path(args.html).write_text(review_page(args.output, state_dir, args.idle_s), encoding="utf-8")
        print(f"review page: {Path(args.html).resolve()}")
    else:
        print(summary(args.output, state_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
