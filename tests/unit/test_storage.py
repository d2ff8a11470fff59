import os

import pytest

from stream_processor.output import storage
from stream_processor.output.storage import UnsafePath, UserFolder, atomic_write, crop_name, user_dir

pytestmark = pytest.mark.unit


def test_crop_names_come_from_source_coordinates():
    assert crop_name("videoCollector", 3, 42) == "videoCollector-p3-o000000000042.png"
    assert crop_name("videoCollector", 3, 42) != crop_name("videoCollector", 4, 42)


def test_unsafe_topic_names_are_sanitised_and_kept_distinct():
    a, b = crop_name("../../x y", 0, 1), crop_name("../../x_y", 0, 1)
    assert "/" not in a and not a.startswith(".") and a != b


def test_user_dir_stays_inside_output(tmp_path):
    assert user_dir(tmp_path, "alice") == (tmp_path / "alice").resolve()
    with pytest.raises(UnsafePath):
        user_dir(tmp_path, "..")


def test_a_planted_symlink_cannot_redirect_writes(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "out"
    root.mkdir()
    (root / "mallory").symlink_to(outside)
    with pytest.raises(UnsafePath):
        UserFolder(root, "mallory", cap=5)
    assert list(outside.iterdir()) == []


def test_atomic_write_replaces_whole_file(tmp_path):
    target = tmp_path / "a.png"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two" and os.listdir(tmp_path) == ["a.png"]


def test_crash_mid_write_leaves_no_partial_file(tmp_path, monkeypatch):
    target = tmp_path / "a.png"

    def crash(*_):
        raise OSError("disk gone")

    monkeypatch.setattr(storage.os, "replace", crash)
    with pytest.raises(OSError):
        atomic_write(target, b"x" * 100000)
    assert os.listdir(tmp_path) == []


def test_crash_keeps_previous_version(tmp_path, monkeypatch):
    target = tmp_path / "a.png"
    atomic_write(target, b"old")
    monkeypatch.setattr(storage.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("io error")))
    with pytest.raises(OSError):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["a.png"]


def test_cap_counts_existing_files_and_rewrites_are_free(tmp_path):
    folder = UserFolder(tmp_path, "alice", cap=2)
    assert folder.write("a.png", b"1") and folder.write("b.png", b"2")
    assert folder.write("c.png", b"3") is None
    assert folder.write("a.png", b"1") is not None  # a replayed record rewrites its own crop
    again = UserFolder(tmp_path, "alice", cap=2)  # a later batch sees what is on disk
    assert again.write("c.png", b"3") is None
    assert sorted(os.listdir(tmp_path / "alice")) == ["a.png", "b.png"]


def test_temp_files_do_not_count_towards_the_cap(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / ".x.png.123.tmp").write_bytes(b"partial")
    folder = UserFolder(tmp_path, "alice", cap=1)
    assert folder.write("a.png", b"1") is not None
