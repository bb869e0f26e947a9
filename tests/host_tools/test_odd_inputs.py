"""Odd input as a new user gives it: each class of mistake is one clear line and exit code 1,
never a traceback, a hang, a destroyed file or a silent wrong answer."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from host_tools import atomic
from host_tools.cli import main
from host_tools.data import images
from host_tools.errors import SmartbinError

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "host_tools" / "data"))
from data_helpers import make_dataset, photo_bytes  # noqa: E402


def _one_line_error(capsys, *fragments):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# ---- a serial port that is a file or a folder ---------------------------------------------
@pytest.mark.parametrize("command", [["deploy"], ["pull"], ["monitor"], ["selftest"],
                                     ["servo", "--lid", "paper", "--us", "1500"]])
@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_port_that_is_a_file_or_a_folder_is_named_as_not_a_serial_port(
        tmp_path, capsys, command, kind):
    port = tmp_path / "ttyUSB0"
    port.mkdir() if kind == "folder" else port.write_bytes(b"")
    assert main(command + ["--port", str(port)]) == 1
    _one_line_error(capsys, "is a %s, not a serial port" % kind)


@pytest.mark.parametrize("command", [["deploy"], ["pull"], ["monitor"], ["selftest"],
                                     ["capture", "--label", "glass"], ["preview"],
                                     ["servo", "--lid", "paper", "--us", "1500"]])
def test_a_device_that_is_no_serial_port_is_named_as_such(capsys, command):
    assert main(command + ["--port", os.devnull]) == 1
    line = _one_line_error(capsys, "/dev/null is a device but not a serial port")
    assert "another program" not in line


# ---- output paths: a folder where a file goes, a file where a folder goes ----------------
def test_a_folder_given_as_an_output_file_is_refused_and_kept(tmp_path, capsys):
    data = make_dataset(tmp_path / "data", {"glass": 10, "paper": 10})
    out = tmp_path / "split.json"
    out.mkdir()
    assert main(["data", "split", str(data), "--out", str(out)]) == 1
    _one_line_error(capsys, "it is a folder; give a file name")
    assert out.is_dir() and not list(tmp_path.glob(".split.json*"))


def test_a_file_given_as_an_output_folder_is_refused_and_left_as_it_is(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    with pytest.raises(SmartbinError, match="is a file, not a folder"):
        with atomic.atomic_dir(notes) as tmp_dir:
            (Path(tmp_dir) / "model.keras").write_bytes(b"x")
    assert notes.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("option", ["--out", "--cache"])
def test_train_refuses_a_file_as_its_output_or_cache_folder_before_it_trains(
        tmp_path, capsys, option):
    data = make_dataset(tmp_path / "data", {"glass": 10, "paper": 10})
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    out = str(notes) if option == "--out" else str(tmp_path / "model")
    arguments = ["train", str(data), "--split", str(tmp_path / "split.json"), "--out", out]
    if option == "--cache":
        arguments += ["--cache", str(notes)]
    assert main(arguments) == 1
    _one_line_error(capsys, "notes.txt is a file, not a folder")
    assert notes.read_text() == "mine"


# ---- symbolic links that lead nowhere ------------------------------------------------------
def _loop(tmp_path, name):
    (tmp_path / name).symlink_to(tmp_path / (name + "-2"))
    (tmp_path / (name + "-2")).symlink_to(tmp_path / name)
    return tmp_path / name


@pytest.mark.parametrize("command", [["data", "check"], ["data", "urls", "--dest", "out"]])
def test_a_symlink_loop_is_named_as_one_not_as_missing(tmp_path, capsys, command):
    loop = _loop(tmp_path, "photos")
    assert main(command[:2] + [str(loop)] + command[2:]) == 1
    _one_line_error(capsys, "symbolic link that leads nowhere")


def test_photo_names_that_lead_nowhere_are_reported_by_data_check_not_skipped(
        tmp_path, capsys):
    data = make_dataset(tmp_path / "data", {"glass": 3, "paper": 3})
    (data / "glass" / "gone.jpg").symlink_to(tmp_path / "deleted.jpg")
    _loop(data / "paper", "loop.png")
    assert main(["data", "check", str(data)]) == 1
    line = _one_line_error(capsys, "2 images", "do not decode")
    assert "glass/gone.jpg" in line and "paper/loop.png" in line


# ---- things given as a photo that are no photo file ---------------------------------------
def test_a_folder_a_pipe_or_an_unreadable_file_given_as_a_photo_says_which(tmp_path,
                                                                           monkeypatch):
    folder = tmp_path / "folder.jpg"
    folder.mkdir()
    with pytest.raises(SmartbinError, match="is a folder, not a photo"):
        images.open_photo(folder)
    pipe = tmp_path / "pipe.jpg"
    os.mkfifo(pipe)  # opening it for reading would wait for a writer forever
    with pytest.raises(SmartbinError, match="not a regular file"):
        images.open_photo(pipe)
    locked = tmp_path / "locked.jpg"
    locked.write_bytes(photo_bytes(1, "JPEG"))

    def no_permission(path, mode="r", *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(images, "open", no_permission, raising=False)  # chmod 000 as root
    with pytest.raises(SmartbinError, match="permission denied"):
        images.open_photo(locked)


def test_predict_on_a_pipe_is_one_line_not_a_hang(tmp_path):
    pipe = tmp_path / "photo.jpg"
    os.mkfifo(pipe)
    result = subprocess.run([sys.executable, "-m", "host_tools", "predict", str(pipe)],
                            cwd=str(REPO), capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].endswith("not a regular file (a pipe or a "
                                                          "device?), not a photo")


# ---- empty files ---------------------------------------------------------------------------
@pytest.mark.parametrize("command, fragment", [
    (lambda empty: ["predict", str(empty)], "not an image format we read"),
    (lambda empty: ["flash", "--port", "/dev/ttyNOPE0", str(empty)], "only 0 bytes"),
    (lambda empty: ["power", "--config", str(empty)], "not valid JSON"),
    (lambda empty: ["data", "urls", str(empty), "--dest", str(empty.parent / "out")],
     "--label"),
    (lambda empty: ["data", "stats", str(empty.parent), "--split", str(empty)],
     "not valid JSON"),
])
def test_an_empty_file_is_a_one_line_error(tmp_path, capsys, command, fragment):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    make_dataset(tmp_path, {"glass": 2, "paper": 2})
    assert main(command(empty)) == 1
    _one_line_error(capsys, fragment)


# ---- Ctrl-C during deploy on the virtual board ---------------------------------------------
def test_ctrl_c_during_deploy_is_one_line_and_a_retry_finishes(tmp_path):
    from virtual_board import VirtualBoard, node_available

    sys.path.insert(0, str(REPO / "tests" / "host_tools" / "device"))
    from device_fixtures import write_model

    if not node_available():
        pytest.fail("the virtual board needs `make node`")
    model = write_model(tmp_path / "model", b"TFL3" + bytes(range(256)) * 200)
    command = [sys.executable, "-m", "host_tools", "deploy", "--model", str(model),
               "--boot-seconds", "5"]
    with VirtualBoard(tmp_path / "board") as board:
        deploying = subprocess.Popen(command + ["--port", board.port], cwd=str(REPO),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        half_sent = board.flash_dir / "model.tflite.part"
        deadline = time.monotonic() + 120
        while not half_sent.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        deploying.send_signal(signal.SIGINT)
        _, err = deploying.communicate(timeout=60)
        assert deploying.returncode == 130
        assert err.decode().strip() == "error: interrupted"
        assert not (board.flash_dir / "model.tflite").exists()  # never a half model in place
        again = subprocess.run(command + ["--port", board.port], cwd=str(REPO),
                               capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert (board.flash_dir / "model.tflite").read_bytes() == (
            model / "model.tflite").read_bytes()
        assert not list(board.flash_dir.rglob("*.part"))


@pytest.mark.parametrize("command", [["pull", "--dest"], ["capture", "--label", "glass",
                                                          "--data"]])
def test_a_file_as_the_local_folder_of_a_board_command_is_refused_before_the_board_is_woken(
        tmp_path, capsys, monkeypatch, command):
    import pty

    from host_tools.device import transport

    def no_board(*args, **kwargs):
        raise AssertionError("the board was opened")

    monkeypatch.setattr(transport.Board, "__init__", no_board)
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    controller, terminal = pty.openpty()
    try:
        assert main(command[:1] + ["--port", os.ttyname(terminal)] + command[1:]
                    + [str(notes)]) == 1
    finally:
        os.close(controller)
        os.close(terminal)
    _one_line_error(capsys, "notes.txt is a file, not a folder")
    assert notes.read_text() == "mine"
