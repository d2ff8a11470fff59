"""A human summary of an output folder: crops per user on disk, rejections by reason.
Reads the manifest with pyarrow alone, so it runs without Spark (the demo's last step)."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from .storage import MANIFEST_DIR, is_crop


def manifest_rows(output_dir: str | Path) -> list[dict]:
    """Manifest rows, one per source record (the latest when a record was processed again)."""
    import pyarrow.dataset as ds

    folder = Path(output_dir) / MANIFEST_DIR
    if not folder.exists():
        return []
    latest: dict[tuple, dict] = {}
    for row in ds.dataset(str(folder), format="parquet").to_table().to_pylist():
        key = (row["topic"], row["partition"], row["offset"])
        if key not in latest or row["batch_time"] >= latest[key]["batch_time"]:
            latest[key] = row
    return list(latest.values())


def crops_per_user(output_dir: str | Path) -> dict[str, int]:
    root = Path(output_dir)
    return {d.name: sum(1 for f in d.iterdir() if is_crop(f.name))
            for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(("_", "."))} if root.exists() else {}


def summary(output_dir: str | Path) -> str:
    rows = manifest_rows(output_dir)
    status = Counter(r["status"] for r in rows)
    reasons = Counter(r["reason"] for r in rows if r["status"] == "rejected")
    lines = [f"output folder: {Path(output_dir).resolve()}",
             f"messages: {len(rows)}  accepted: {status['accepted']}  rejected: {status['rejected']}"]
    lines += ["crops per user:"] + [f"  {user:<24} {n}" for user, n in crops_per_user(output_dir).items()]
    if reasons:
        lines += ["rejections by reason:"] + [f"  {reason:<24} {n}" for reason, n in sorted(reasons.items())]
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary(sys.argv[1] if len(sys.argv) > 1 else "training-data"))
