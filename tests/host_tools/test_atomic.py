"""Atomic writes: nothing half-written on failure, ordinary file modes on success."""
import os
import stat

import pytest

from host_tools import atomic
from host_tools.errors import SmartbinError


def test_failed_write_leaves_the_old_file_and_no_temp_files(tmp_path):
    target = tmp_path / "counts.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk unplugged")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["counts.json"]


def test_written_file_gets_the_umask_mode_not_a_private_one(tmp_path):
    old_mask = os.umask(0o022)
    try:
        atomic.write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_atomic_dir_replaces_the_folder_only_on_success(tmp_path):
    final = tmp_path / "model"
    final.mkdir()
    (final / "model.tflite").write_bytes(b"v1")
    with pytest.raises(ValueError):
        with atomic.atomic_dir(final) as tmp:
            (tmp / "model.tflite").write_bytes(b"v2")
            raise ValueError("export failed")
    assert (final / "model.tflite").read_bytes() == b"v1"
    with atomic.atomic_dir(final) as tmp:
        (tmp / "model.tflite").write_bytes(b"v2")
    assert (final / "model.tflite").read_bytes() == b"v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    assert stat.S_IMODE(final.stat().st_mode) & 0o055 == 0o055  # readable by others, like mkdir


def test_a_file_where_the_folder_should_be_is_a_one_line_error(tmp_path):
    in_the_way = tmp_path / "report"
    in_the_way.write_text("notes")
    with pytest.raises(SmartbinError, match="is a file, not a folder"):
        atomic.write_text(in_the_way / "report.md", "x")
    with pytest.raises(SmartbinError, match="is a file, not a folder"):
        with atomic.atomic_dir(in_the_way / "deeper" / "model"):
            pass
    with pytest.raises(SmartbinError, match="is a file, not a folder"):
        with atomic.atomic_files(in_the_way, owned=("report.md",)) as staging:
            (staging / "report.md").write_text("x")
    assert in_the_way.read_text() == "notes"
    assert [p.name for p in tmp_path.iterdir()] == ["report"]


def test_atomic_dir_puts_the_old_folder_back_when_the_swap_fails(tmp_path, monkeypatch):
    import errno

    final = tmp_path / "model"
    final.mkdir()
    (final / "model.tflite").write_bytes(b"v1")
    real_replace, calls = os.replace, []

    def replace(source, target):
        calls.append(target)
        if len(calls) == 2:  # the new folder into place
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="Input/output error"):
        with atomic.atomic_dir(final) as tmp:
            (tmp / "model.tflite").write_bytes(b"v2")
    assert (final / "model.tflite").read_bytes() == b"v1"
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_atomic_files_replaces_its_own_files_and_leaves_the_others(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    for name, text in (("model.tflite", "model"), ("report.md", "old"), ("old.png", "old")):
        (folder / name).write_text(text)
    with pytest.raises(ValueError):
        with atomic.atomic_files(folder, owned=("report.md", "old.png")) as staging:
            (staging / "report.md").write_text("new")
            raise ValueError("render failed")
    assert {p.name: p.read_text() for p in folder.iterdir()} == {
        "model.tflite": "model", "report.md": "old", "old.png": "old"}
    with atomic.atomic_files(folder, owned=("report.md", "old.png")) as staging:
        (staging / "report.md").write_text("new")
    assert {p.name: p.read_text() for p in folder.iterdir()} == {
        "model.tflite": "model", "report.md": "new"}
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_atomic_files_into_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "report.md").write_text("old")
    with atomic.atomic_files(".", owned=("report.md",)) as staging:
        (staging / "report.md").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]
    assert (tmp_path / "report.md").read_text() == "new"
