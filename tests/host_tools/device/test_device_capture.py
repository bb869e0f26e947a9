"""`smartbin capture` and `smartbin monitor` against the virtual board running the app."""
import numpy as np
import pytest
from PIL import Image

from host_tools import contract
from host_tools.cli import main
from host_tools.device.capture import capture
from host_tools.device.monitor import decode_errors_log, read_errors
from host_tools.device.transport import Board
from host_tools.errors import SmartbinError


def test_capture_saves_the_sensor_frames_as_png_in_the_class_folder(board, deployed, tmp_path):
    rng = np.random.default_rng(7)
    shots = [rng.integers(0, 256, size=(96, 96, 3), dtype=np.uint8) for _ in range(2)]
    for index, rgb in enumerate(shots):
        (board.frames_dir / ("%02d.raw" % index)).write_bytes(contract.rgb888_to_rgb565(rgb))
    try:
        written = capture(board.port, "battery", 2, tmp_path / "data")
    finally:
        for path in board.frames_dir.iterdir():
            path.unlink()
    assert [p.parent.name for p in written] == ["battery", "battery"]
    saved = [np.asarray(Image.open(p)) for p in written]
    expected = [contract.rgb565_to_rgb888(contract.rgb888_to_rgb565(rgb), 96, 96) for rgb in shots]
    assert sorted(s.tobytes() for s in saved) == sorted(e.tobytes() for e in expected)
    assert list((board.flash_dir / "capture").iterdir()) == []  # nothing left on the board


def test_identical_frames_are_as_many_photos_as_were_asked_for(board, deployed, tmp_path,
                                                               capsys):
    still = np.full((96, 96, 3), (40, 120, 200), dtype=np.uint8)  # a still scene
    (board.frames_dir / "still.raw").write_bytes(contract.rgb888_to_rgb565(still))
    data = tmp_path / "data"
    try:
        assert main(["capture", "--port", board.port, "--label", "glass", "-n", "3",
                     "--data", str(data)]) == 0
        saved = sorted((data / "glass").iterdir())
        assert len(saved) == 3 and len({path.read_bytes() for path in saved}) == 1
        assert "3 photo(s) saved" in capsys.readouterr().out
        # a second capture, likely within the same second, adds to the first
        written = capture(board.port, "glass", 2, data)
    finally:
        for path in board.frames_dir.iterdir():
            path.unlink()
    assert len(set(written)) == 2 and not set(written) & set(saved)
    assert sorted((data / "glass").iterdir()) == sorted(saved + written)


def test_capture_rejects_a_class_name_that_is_not_a_folder_name(board, tmp_path):
    with pytest.raises(SmartbinError, match="class name"):
        capture(board.port, "a/b", 1, tmp_path)


def test_capture_cli_fails_in_one_line_without_a_port(capsys, tmp_path):
    assert main(["capture", "--label", "battery", "-n", "1", "--data", str(tmp_path)]) == 1
    assert capsys.readouterr().err.count("\n") == 1


def test_capture_cli_names_a_bad_class_or_count_before_looking_for_the_board(capsys, tmp_path):
    assert main(["capture", "--label", "", "--data", str(tmp_path)]) == 1
    assert main(["capture", "--label", "battery", "-n", "0", "--data", str(tmp_path)]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2
    assert "class name" in errors[0] and "-n must be" in errors[1]


def test_error_log_lines_are_decoded_with_dates():
    decoded = decode_errors_log("1767225600 camera: capture failed\n"
                                "86400 lid 2: brownout\nfatal: OSError(28,)\n")
    assert decoded == [("2026-01-01 00:00:00 UTC", "camera: capture failed"),
                       ("+86400 s (clock not set)", "lid 2: brownout"),
                       ("", "fatal: OSError(28,)")]


def test_monitor_shows_the_boards_error_log(board, deployed, capsys):
    # Written through the board: each session ends with a reset into the application,
    # which appends its own lines (the virtual board has no microlite).
    with Board(board.port) as connection:
        connection.write_file("/errors.log", b"1767225600 camera: capture failed\n")
    decoded = read_errors(board.port)
    assert decoded[0] == ("2026-01-01 00:00:00 UTC", "camera: capture failed")
    assert main(["monitor", "--port", board.port, "--errors-only"]) == 0
    assert "camera: capture failed" in capsys.readouterr().out


def test_capture_cli_saves_photos_into_the_data_folder(board, deployed, tmp_path, capsys):
    code = main(["capture", "--port", board.port, "--label", "battery", "-n", "2",
                 "--data", str(tmp_path / "data")])
    assert code == 0
    assert len(list((tmp_path / "data" / "battery").glob("capture-*.png"))) == 2
    assert "2 photo(s) saved" in capsys.readouterr().out


def test_monitor_restarts_the_application_and_shows_its_output(board, deployed, capsys):
    (board.flash_dir / "errors.log").write_text("")
    assert main(["monitor", "--port", board.port, "--seconds", "3"]) == 0
    out = capsys.readouterr().out
    assert "restarting the application" in out
    assert "MicroPython" in out  # the application ran and the board came back to its prompt
    assert "Traceback" not in out
