"""The parts of `smartbin try` that need no board: the drop folder, what the camera sees in
the chamber, the lid's moves read from servo pulses, and the one-line refusals."""
import fcntl
import io
import types

import numpy as np
import pytest
from PIL import Image

from host_tools import contract
from host_tools.cli import main
from host_tools.errors import SmartbinError
from host_tools.virtual.trial import (PLAIN_CHAMBER_RGB, Chamber, DropFolder, Item,
                                      VirtualBin, lid_motion, serve_drops)

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
    (drop.folder / ".can.jpg.part").write_bytes(b"hidden")
    assert drop.ready() == []  # first seen now
    photo.write_bytes(b"partial copy, longer")
    (drop.folder / "notes.txt").write_text("not a photo")
    clock.now += 1
    assert drop.ready() == []  # still growing
    clock.now += 1
    assert drop.ready() == [(photo, None), (drop.folder / "notes.txt",
                                            "not a photo file (the bin takes jpg, jpeg, png, "
                                            "bmp, gif, webp, tif, tiff)")]
    clock.now += 1
    assert drop.ready() == []  # each drop once


def test_photos_already_there_go_first_in_name_order_and_a_rewritten_one_comes_again(tmp_path):
    clock = Clock()
    folder = tmp_path / "drop"
    folder.mkdir()
    for name in ("b.png", "a.png"):
        (folder / name).write_bytes(b"x")
    drop = DropFolder(folder, clock)
    drop.ready()
    clock.now += 1
    assert [p.name for p, _ in drop.ready()] == ["a.png", "b.png"]
    (folder / "a.png").write_bytes(b"another photo")
    drop.ready()
    clock.now += 1
    assert [p.name for p, _ in drop.ready()] == ["a.png"]


class SortingBin:
    """Stands in for the virtual bin: what it was asked to sort."""

    def __init__(self):
        self.sorted = []
        self.scene_of = VirtualBin.scene_of
        self.config = types.SimpleNamespace(lids=[LID])

    def sort(self, photo, scene):
        self.sorted.append(photo.name)
        item = Item(photo)
        item.label, item.score, item.lid = "glass", 0.9, "containers"
        return item


def test_every_drop_the_bin_cannot_take_gets_one_skipped_line_and_no_retry(tmp_path):
    clock = Clock()
    drop = DropFolder(tmp_path / "drop", clock)
    folder = drop.folder
    (folder / "empty.png").write_bytes(b"")  # as `: > drop/empty.png` makes it
    (folder / "corrupt.jpg").write_bytes(b"not a jpeg")
    (folder / "notes.txt").write_text("not a photo")
    (folder / "album.png").mkdir()
    (folder / "gone.png").symlink_to(tmp_path / "nowhere.png")
    (folder / ".hidden.png.part").write_bytes(b"")  # a copy in progress: not a drop
    Image.new("RGB", (4, 4), (0, 200, 0)).save(folder / "good.png")
    virtual_bin, out = SortingBin(), io.StringIO()
    for _ in range(10):  # a while of looking: nothing comes twice
        serve_drops(drop, virtual_bin, out)
        clock.now += 1
    lines = out.getvalue().splitlines()
    skipped = sorted(line.split(": skipped: ")[0] for line in lines if ": skipped: " in line)
    assert skipped == ["album.png", "corrupt.jpg", "empty.png", "gone.png", "notes.txt"]
    assert "empty.png: skipped: an empty file (0 bytes)" in lines
    assert virtual_bin.sorted == ["good.png"]
    assert lines.count("good.png: glass 0.90 -> lid containers") == 1


def test_an_empty_drop_that_is_then_written_is_sorted(tmp_path):
    clock = Clock()
    drop = DropFolder(tmp_path / "drop", clock)
    photo = drop.folder / "late.png"
    photo.write_bytes(b"")
    drop.ready()
    clock.now += 1
    assert drop.ready() == []  # an empty file waits longer: its copy may not have begun
    clock.now += 2
    assert drop.ready() == [(photo, "an empty file (0 bytes)")]
    Image.new("RGB", (4, 4)).save(photo)
    drop.ready()
    clock.now += 1
    assert drop.ready() == [(photo, None)]


def test_a_drop_folder_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "photo.jpg").write_bytes(b"x")
    with pytest.raises(SmartbinError, match="must be a folder"):
        DropFolder(tmp_path / "photo.jpg")


def halves(width, height, left, right):
    """A photo whose left half is one colour and right half another."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, :width // 2], pixels[:, width // 2:] = left, right
    return Image.fromarray(pixels)


def test_the_camera_sees_the_photo_fitted_to_the_size_and_format_asked_for():
    chamber = Chamber()
    chamber.put(halves(100, 50, (248, 0, 0), (0, 0, 248)))
    frame = contract.rgb565_to_rgb888(chamber.frame(240, 240, False), 240, 240)
    assert tuple(frame[120, 10]) == (255, 0, 0) and tuple(frame[120, 230]) == (0, 0, 255)
    grey = np.frombuffer(chamber.frame(96, 96, True), np.uint8).reshape(96, 96)
    assert grey[48, 5] > grey[48, 90] > 0  # luma of red, then of blue
    assert chamber.frame(240, 240, False) is chamber.frame(240, 240, False)  # drawn once


def test_the_item_stays_until_the_bin_woke_for_it_moves_a_lid_then_the_chamber_is_empty():
    empty = Image.new("RGB", (4, 4), (0, 252, 0))
    chamber = Chamber(empty)
    item = Image.new("RGB", (4, 4), (248, 0, 0))
    empty_frame = chamber.frame(8, 8, False)
    assert contract.rgb565_to_rgb888(empty_frame, 8, 8)[0, 0].tolist() == [0, 255, 0]
    chamber.put(item)
    chamber.see({"pwm": 14, "us": 1000, "ms": 5})  # a lid closed before the bin woke
    chamber.see({"sleep": 0, "ext0": True})
    assert chamber.holds_item()
    chamber.see({"reset": "deep_sleep", "wake": "ext0"})
    chamber.see({"pwm": 14, "us": 0, "ms": 9})  # a servo stopped: nothing moved
    assert chamber.holds_item()
    assert contract.rgb565_to_rgb888(chamber.frame(8, 8, False), 8, 8)[0, 0].tolist() == [
        255, 0, 0]
    chamber.see({"pwm": 15, "us": 1100, "ms": 20})  # the lid opens: the item falls in
    assert not chamber.holds_item()
    assert chamber.frame(8, 8, False) == empty_frame


def test_an_item_the_bin_woke_for_leaves_when_it_sleeps_even_with_no_servo_moving():
    chamber = Chamber()
    chamber.put(Image.new("RGB", (4, 4), (248, 0, 0)))
    chamber.see({"reset": "deep_sleep", "wake": "ext0"})
    chamber.see({"sleep": 0, "ext0": True})
    assert not chamber.holds_item()
    grey = PLAIN_CHAMBER_RGB[0]
    assert set(chamber.frame(4, 4, True)) == {grey}  # the plain chamber, luma exact


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


def test_try_refuses_an_empty_chamber_photo_it_cannot_read_in_one_line(tmp_path, capsys):
    from host_tools.paths import COMMITTED_DEFAULT

    (tmp_path / "empty.jpg").write_bytes(b"not a jpeg")
    assert main(["try", "--photos", str(tmp_path / "drop"), "--board-dir",
                 str(tmp_path / "board"), "--model", str(COMMITTED_DEFAULT),
                 "--empty", str(tmp_path / "empty.jpg")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: the empty chamber's photo: ")
    assert "empty.jpg" in err
    assert not (tmp_path / "board" / "flash").exists()  # refused before the board started


def test_try_refuses_a_config_whose_pins_clash_as_deploy_does_before_the_board_starts(
        tmp_path, capsys):
    import json

    from host_tools.paths import COMMITTED_DEFAULT, FIRMWARE_DIR

    config = json.loads((FIRMWARE_DIR / "config.json").read_text())
    config["lids"][1]["pin"] = 1  # the serial console's TX
    (tmp_path / "clash.json").write_text(json.dumps(config))
    assert main(["try", "--photos", str(tmp_path / "drop"), "--board-dir",
                 str(tmp_path / "board"), "--model", str(COMMITTED_DEFAULT),
                 "--config", str(tmp_path / "clash.json")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: ") and "GPIO1 for lid %s" % config["lids"][1]["name"] in err
    assert not (tmp_path / "board" / "flash").exists()


def test_the_sample_output_in_docs_try_md_is_what_a_first_try_prints():
    import json
    import re

    from host_tools.device.deploy import plan
    from host_tools.firmware_modules import firmware_module
    from host_tools.paths import COMMITTED_DEFAULT, FIRMWARE_DIR, REPO_ROOT

    sample = (REPO_ROOT / "docs" / "try.md").read_text()
    sent = re.search(r"^deployed models/default: (\d+) file\(s\) sent, 0 unchanged", sample,
                     re.MULTILINE)
    assert sent and int(sent.group(1)) == len(plan(FIRMWARE_DIR, COMMITTED_DEFAULT))
    config = json.loads((FIRMWARE_DIR / "config.json").read_text())
    pins = firmware_module("config").validate(config).pin_warnings
    assert re.findall(r"^pin warning: (.*)$", sample, re.MULTILINE) == list(pins)


def test_try_names_each_config_problem_the_board_found_as_deploy_does(tmp_path, capsys,
                                                                      monkeypatch):
    from host_tools.virtual import trial

    class BoardWithAFaultyConfig:
        port = "/tmp/virtual-port"

        def __init__(self, *args, **kwargs):
            pass

        def start(self, progress=None):
            return {"model": "model", "sent": [], "unchanged": [], "seconds": 0.1,
                    "boot_problems": ["class_to_lid.glass: no lid named nolid"],
                    "firmware_warnings": [], "pin_warnings": [], "threshold_warning": None}

        def stop(self):
            pass

    def ctrl_c(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(trial, "VirtualBin", BoardWithAFaultyConfig)
    monkeypatch.setattr(trial.DropFolder, "ready", ctrl_c)
    assert main(["try", "--photos", str(tmp_path / "drop"), "--board-dir",
                 str(tmp_path / "board"), "--model", str(tmp_path)]) == 0
    assert "config warning: class_to_lid.glass: no lid named nolid\n" in \
        capsys.readouterr().out
