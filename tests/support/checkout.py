"""A copy of the job's code that a session's runs share, for the fault harness and the benchmark."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def code_snapshot(dest: Path, root: Path = ROOT) -> Path:
    """A copy of `root`'s job (the package, spark-submit.sh, conf/; jars/, .venv, the face model's
    folder and the class archive's linked): the runs that use it run the same code even while the working tree
    changes under a long session, and a copy may be altered (bench.py --stand-in-ms)."""
    dest.mkdir(parents=True)
    shutil.copytree(root / "stream_processor", dest / "stream_processor",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(root / "conf", dest / "conf")
    shutil.copy2(root / "spark-submit.sh", dest / "spark-submit.sh")
    for name in ("jars", ".venv"):
        (dest / name).symlink_to(root / name)
    (dest / ".local").mkdir()
    (dest / ".local" / "models").symlink_to(root / ".local" / "models")  # where face_model looks by default
    (dest / ".local" / "cds").symlink_to(root / ".local" / "cds")  # the JVMs' class archive, for spark-submit.sh
    return dest
