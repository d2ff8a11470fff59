"""Reading a run's output in tests: the training set and its state location (default layout)."""

from __future__ import annotations

from pathlib import Path

from stream_processor.config import Config
from stream_processor.output import manifest
from stream_processor.output.state import StateDir


def state_of(output_dir: str | Path) -> StateDir:
    """The default state location of a training set: `<output_dir>-state`."""
    return StateDir(Path(Config(output_dir=str(output_dir)).state_path))


def manifest_rows(output_dir: str | Path) -> list[dict]:
    """The latest manifest row per source record."""
    return manifest.latest_rows(state_of(output_dir).manifest)
