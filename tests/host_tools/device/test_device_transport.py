"""The one transport: atomic board writes, and board failures as one-line host errors."""
import os
import pty

import pytest

from host_tools.device.transport import Board
from host_tools.errors import SmartbinError
from virtual_board import VirtualBoard


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
    with VirtualBoard(tmp_path / "small", capacity=12 * 1024) as small:
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
