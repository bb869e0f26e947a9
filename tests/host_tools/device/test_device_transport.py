"""The one transport: atomic board writes, board failures as one-line host errors, and the
board's own resets (watchdog, DTR/RTS, hand-back) handled on purpose."""
import os
import pty
import subprocess
import sys
import time

import pytest

from host_tools.device import transport
from host_tools.device.transport import Board
from host_tools.errors import SmartbinError
from device_fixtures import level_board


def test_board_side_exception_becomes_a_one_line_error(board):
    with Board(board.port) as connection:
        with pytest.raises(SmartbinError, match="ValueError: lid out of range") as failure:
            connection.exec("raise ValueError('lid out of range')")
    assert "\n" not in str(failure.value)


def test_missing_board_file_is_none_not_an_error(board):
    with Board(board.port) as connection:
        assert connection.sha256("/no/such/file") is None
        assert connection.size("/no/such/file") is None
        assert connection.listdir("/no/such/folder") == []


def test_full_flash_keeps_the_old_file_and_no_temp_file(tmp_path):
    with level_board(tmp_path / "small", capacity=12 * 1024) as small:
        (small.flash_dir / "model.tflite").write_bytes(b"old" * 1000)
        with Board(small.port) as connection:
            with pytest.raises(SmartbinError, match="filesystem is full"):
                connection.write_file("/model.tflite", b"new" * 4000)
        assert (small.flash_dir / "model.tflite").read_bytes() == b"old" * 1000
        assert sorted(p.name for p in small.flash_dir.iterdir()) == ["model.tflite"]


def test_cut_cable_during_a_write_keeps_the_old_file(board):
    (board.flash_dir / "keep.bin").write_bytes(b"old")
    with Board(board.port) as connection:
        board.cut_link(after_host_bytes=5000, after_pattern=b"/keep.bin.part")
        with pytest.raises(SmartbinError, match="lost the connection.*Nothing was deleted"):
            connection.write_file("/keep.bin", bytes(range(256)) * 20)
    assert board.wait_link_cut()
    board.connect()
    assert 0 < (board.flash_dir / "keep.bin.part").stat().st_size < 5120  # cut mid-file
    assert (board.flash_dir / "keep.bin").read_bytes() == b"old"
    (board.flash_dir / "keep.bin.part").unlink()


def test_a_port_where_nothing_answers_says_the_bin_may_be_asleep():
    master, slave = pty.openpty()  # a serial port with a silent device behind it
    try:
        with pytest.raises(SmartbinError, match="does not answer: a bin in deep sleep"):
            Board(os.ttyname(slave), connect_seconds=0)
    finally:
        os.close(master)
        os.close(slave)


def _arm_watchdog_as_the_application_does(port, timeout_ms):
    # `resume`: no soft reset, like a host arriving while the bin's application runs
    result = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "resume", "exec",
                             "import machine; machine.WDT(timeout=%d)" % timeout_ms],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_session_outlives_the_watchdog_the_application_armed(tmp_path):
    with level_board(tmp_path) as virtual:
        _arm_watchdog_as_the_application_does(virtual.port, 3000)
        with Board(virtual.port) as connection:
            connection.exec("marker = 42")
            time.sleep(5)  # beyond the application's watchdog timeout
            assert connection.eval("marker") == 42  # no reset in between
            assert connection.eval("__import__('machine').reset_cause()") == 5  # our soft reset


def test_a_long_session_keeps_feeding_the_watchdog(tmp_path, monkeypatch):
    monkeypatch.setattr(transport, "HOLD_OFF_WATCHDOG",
                        "import machine\nmachine.WDT(timeout=1500).feed()")
    monkeypatch.setattr(transport, "HOLD_REFRESH_SECONDS", 0.3)
    with level_board(tmp_path) as virtual:
        with Board(virtual.port) as connection:
            connection.exec("marker = 42")
            for _ in range(8):  # 4 s of steps, each 0.5 s apart: > 1500 ms in total
                time.sleep(0.5)
                assert connection.size("/no-such-file") is None
            assert connection.eval("marker") == 42


def test_a_session_hands_the_bin_back_to_its_application(tmp_path):
    with level_board(tmp_path) as virtual:
        (virtual.flash_dir / "main.py").write_text(
            "import machine\nopen('booted.txt', 'w').write(str(machine.reset_cause()))\n")
        with Board(virtual.port) as connection:
            connection.exec("pass")
        booted = virtual.flash_dir / "booted.txt"
        deadline = time.monotonic() + 30
        while not booted.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert booted.read_text() == "2"  # machine.HARD_RESET: main.py ran after a reset


class _ModemLines:
    def __init__(self):
        self.changes = []

    def __setattr__(self, name, value):
        if name in ("dtr", "rts"):
            self.changes.append((name, value))
        object.__setattr__(self, name, value)


def test_a_silent_board_is_reset_through_rts_with_dtr_low():
    board = Board.__new__(Board)
    lines = _ModemLines()
    object.__setattr__(lines, "changes", [])
    board._transport = type("Transport", (), {"serial": lines})()
    assert board._reset_through_rts()
    assert lines.changes == [("dtr", False), ("rts", True), ("rts", False)]
