"""The one progress display: bars on a terminal, plain lines on a pipe, TERM=dumb or CI."""
import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from host_tools.progress import ProgressBars

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "host_tools" / "data"))
from data_helpers import make_dataset  # noqa: E402

CURSOR_BYTES = (b"\r", b"\x1b")


class _Pipe(io.StringIO):
    def isatty(self):
        return False


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def no_delay(monkeypatch):
    monkeypatch.setenv("SMARTBIN_PROGRESS_DELAY", "0")
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")


def _drive(bars):
    for done in range(0, 101):
        bars("decode", done, 100)
    bars("train", 1, 3, {"loss": 0.51234, "accuracy": 0.8, "lr": 1e-3})
    bars("train", 3, 3, {"loss": 0.2, "accuracy": 0.9})
    bars.close()


def test_on_a_pipe_each_stage_prints_plain_lines_at_every_tenth(no_delay):
    stream = _Pipe()
    _drive(ProgressBars(stream=stream))
    lines = stream.getvalue().splitlines()
    decode = [line for line in lines if line.startswith("decode")]
    assert decode[0] == "decode: started, 100 items to do"
    assert [line.split("(")[1] for line in decode[1:-1]] == ["%d%%)" % p
                                                             for p in range(10, 101, 10)]
    assert decode[-1] == "decode: done, 100/100 items"
    assert "train: 1/3 epochs (30%), loss 0.512, accuracy 0.8" in lines
    assert not any(byte.decode() in stream.getvalue() for byte in CURSOR_BYTES)


@pytest.mark.parametrize("variable, value", [("CI", "true"), ("TERM", "dumb")])
def test_a_terminal_under_ci_or_a_dumb_terminal_gets_plain_lines_too(no_delay, monkeypatch,
                                                                     variable, value):
    monkeypatch.setenv(variable, value)
    stream = _Terminal()
    _drive(ProgressBars(stream=stream))
    assert "decode: done, 100/100 items" in stream.getvalue()
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_a_real_terminal_gets_a_redrawn_bar(no_delay):
    stream = _Terminal()
    _drive(ProgressBars(stream=stream))
    assert "\r" in stream.getvalue()  # the bar redraws itself: what a pipe must never get


def test_a_quick_stage_on_a_pipe_prints_nothing_and_quiet_prints_nothing_at_all(monkeypatch):
    monkeypatch.setenv("SMARTBIN_PROGRESS_DELAY", "60")
    stream = _Pipe()
    _drive(ProgressBars(stream=stream))
    assert stream.getvalue() == ""
    monkeypatch.setenv("SMARTBIN_PROGRESS_DELAY", "0")
    _drive(ProgressBars(stream=stream, quiet=True))
    assert stream.getvalue() == ""


def test_byte_stages_count_megabytes(no_delay):
    stream = _Pipe()
    bars = ProgressBars({"download": ("downloading TrashNet", "B")}, stream=stream)
    bars("download", 5_000_000, 10_000_000)
    bars.close()
    assert "downloading TrashNet: 5.0/10.0 MB (50%)" in stream.getvalue()


def _smartbin(args, env, stderr=subprocess.PIPE):
    return subprocess.run([sys.executable, "-m", "host_tools", *args], cwd=str(REPO),
                          stdout=subprocess.PIPE, stderr=stderr, env=env, timeout=300)


def _env(**extra):
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "TERM")}
    env.update(SMARTBIN_PROGRESS_DELAY="0", **extra)
    return env


@pytest.mark.parametrize("command", [["data", "check"], ["data", "stats"]])
def test_commands_on_a_pipe_print_progress_without_cursor_bytes(tmp_path, command):
    data = make_dataset(tmp_path / "data", {"glass": 12, "paper": 12})
    if command[1] == "stats":
        assert _smartbin(["data", "split", str(data), "--out", str(tmp_path / "split.json")],
                         _env()).returncode == 0
        command = command + ["--split", str(tmp_path / "split.json")]
    result = _smartbin(command + [str(data)], _env())
    assert result.returncode == 0, result.stderr
    assert b": started" in result.stderr and b": done" in result.stderr
    for stream in (result.stdout, result.stderr):
        assert not any(byte in stream for byte in CURSOR_BYTES), stream


@pytest.mark.parametrize("variables, plain", [({"CI": "1", "TERM": "xterm"}, True),
                                              ({"TERM": "dumb"}, True),
                                              ({"TERM": "xterm"}, False)])
def test_a_command_on_a_terminal_draws_bars_unless_ci_or_term_dumb(tmp_path, variables, plain):
    data = make_dataset(tmp_path / "data", {"glass": 12, "paper": 12})
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        result = _smartbin(["data", "check", str(data)], _env(**variables), stderr=terminal)
        os.close(terminal)
        terminal = None
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(controller)
        if terminal is not None:
            os.close(terminal)
    assert result.returncode == 0
    # the terminal turns "\n" into "\r\n" itself; a redrawn bar has a "\r" of its own
    drawn = seen.replace(b"\r\n", b"\n")
    assert (b"\r" not in drawn and b"\x1b" not in drawn) is plain, seen
    assert (b"checking: done" in seen) is plain
