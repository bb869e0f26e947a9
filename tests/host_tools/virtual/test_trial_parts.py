"""The parts of `smartbin try` that need no board: the drop folder, the lid's moves read
from servo pulses, and the one-line refusals."""
import fcntl

import pytest

from host_tools.cli import main
from host_tools.errors import SmartbinError
from host_tools.virtual.trial import DropFolder, Item, lid_motion

LID = {"name": "containers", "pin": 15, "closed_us": 1000, "open_us": 2000}


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_dropped_photo_is_taken_once_after_its_copy_ended(tmp_path):
    clock = Clock()
    drop = DropFolder(tmp_path / "drop", clock)
    photo = drop.folder / "can.jpg"
    photo.write_bytes(b"part")
    (drop.folder / "notes.txt").write_text("not a photo")
    (drop.folder / ".can.jpg.part").write_bytes(b"hidden")
    assert drop.ready() == []  # first seen now
    photo.write_bytes(b"partial copy, longer")
    clock.now += 1
    assert drop.ready() == []  # still growing
    clock.now += 1
    assert drop.ready() == [photo]
    clock.now += 1
    assert drop.ready() == []  # each photo once


def test_photos_already_there_go_first_in_name_order_and_a_rewritten_one_comes_again(tmp_path):
    clock = Clock()
    folder = tmp_path / "drop"
    folder.mkdir()
    for name in ("b.png", "a.png"):
        (folder / name).write_bytes(b"x")
    drop = DropFolder(folder, clock)
    drop.ready()
    clock.now += 1
    assert [p.name for p in drop.ready()] == ["a.png", "b.png"]
    (folder / "a.png").write_bytes(b"another photo")
    drop.ready()
    clock.now += 1
    assert [p.name for p in drop.ready()] == ["a.png"]


def test_a_drop_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "photo.jpg").write_bytes(b"x")
    with pytest.raises(SmartbinError, match="must be a folder"):
        DropFolder(tmp_path / "photo.jpg")


def ramp(start_ms, start_us, end_us, steps=4):
    return [(start_ms + 20 * k, start_us + (end_us - start_us) * k // steps)
            for k in range(1, steps + 1)]


def test_lid_motion_reads_opening_open_closing_closed_from_the_pulses():
    item = Item(None)
    item.pulses[15] = (ramp(0, 1000, 2000) + ramp(2580, 2000, 1000) + [(2800, 0)])
    item.pulses[14] = ramp(0, 1000, 1500)  # another lid's pin is not this lid
    assert lid_motion(item, LID) == [(20, "opening"), (80, "open"), (2600, "closing"),
                                     (2660, "closed")]


def test_a_lid_that_never_moved_has_no_motion():
    assert lid_motion(Item(None), LID) == []


def test_try_refuses_a_drop_folder_that_is_a_file_in_one_line(tmp_path, capsys):
    (tmp_path / "drop.jpg").write_bytes(b"x")
    assert main(["try", "--photos", str(tmp_path / "drop.jpg"), "--board-dir",
                 str(tmp_path / "board")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "must be a folder" in err


def test_try_refuses_a_missing_model_in_one_line(tmp_path, capsys):
    assert main(["try", "--photos", str(tmp_path / "drop"), "--board-dir",
                 str(tmp_path / "board"), "--model", str(tmp_path / "no-model")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")


def test_a_second_try_on_the_same_board_is_refused(tmp_path, capsys):
    board_dir = tmp_path / "board"
    board_dir.mkdir()
    model = tmp_path / "model"
    from host_tools.paths import COMMITTED_DEFAULT

    model.mkdir()
    for name in ("model.tflite", "model.json"):
        (model / name).write_bytes((COMMITTED_DEFAULT / name).read_bytes())
    with open(board_dir / "lock", "w") as running:  # as a first `smartbin try` holds it
        fcntl.flock(running, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert main(["try", "--photos", str(tmp_path / "drop"), "--board-dir", str(board_dir),
                     "--model", str(model)]) == 1
    err = capsys.readouterr().err
    assert "another `smartbin try` runs this virtual board" in err
    assert not (board_dir / "flash").exists()
