"""Modules of the sub-packages find the checkout's folders from their own paths, two folders below
it: the face model (frames/face_model.py: in a checkout, and in spark-submit.sh's zip of the
package), the jars (spark/jvm_bridge.py) and the photos (demo/photos.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from stream_processor.demo import photos
from stream_processor.frames import face_model
from stream_processor.spark import jvm_bridge

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_in_a_checkout_the_root_is_the_checkout():
    assert face_model._code_root() == ROOT
    assert face_model.DEFAULT_MODEL_PATH == ROOT / ".local" / "models" / face_model.MODEL_FILE


def test_the_jars_and_the_photos_are_the_checkouts():
    assert jvm_bridge.JARS_DIR == ROOT / "jars"
    assert photos.FACES_DIR == Path(os.environ.get("FACES_DIR", ROOT / ".local" / "faces"))


def test_in_the_submitted_zip_the_root_is_the_folder_above_dist(tmp_path):
    """spark-submit.sh zips the package, sub-packages included, as <root>/dist/stream_processor.zip."""
    zip_path = tmp_path / "dist" / "stream_processor.zip"
    zip_path.parent.mkdir()
    with zipfile.ZipFile(zip_path, "w") as z:
        for path in sorted((ROOT / "stream_processor").rglob("*.py")):
            z.write(path, path.relative_to(ROOT).as_posix())
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from stream_processor.frames import face_model; "
            "print(face_model.__file__); print(face_model._code_root())")
    # -I: neither the checkout (the working folder) nor PYTHONPATH is on the path, only the zip.
    result = subprocess.run([sys.executable, "-I", "-c", code, str(zip_path)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60, check=True)
    imported_from, root = result.stdout.splitlines()
    assert imported_from.startswith(str(zip_path))
    assert Path(root) == tmp_path
