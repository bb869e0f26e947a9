"""The virtual board speaks the board's REPL well enough for the real mpremote."""
import hashlib
import os
import select
import subprocess
import sys
import time


from host_tools.virtual.board import VirtualBoard


def mpremote(board, *args, timeout=60):
    return subprocess.run([sys.executable, "-m", "mpremote", "connect", board.port, *args],
                          capture_output=True, text=True, timeout=timeout)


def test_mpremote_exec_runs_code_in_the_vm(board):
    result = mpremote(board, "exec", "print(6*7)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"


def test_files_round_trip_through_mpremote_byte_for_byte(board, tmp_path):
    payload = bytes(range(256)) * 12
    (tmp_path / "blob.bin").write_bytes(payload)
    assert mpremote(board, "fs", "mkdir", ":data").returncode == 0
    assert mpremote(board, "fs", "cp", str(tmp_path / "blob.bin"), ":data/blob.bin").returncode == 0
    assert (board.flash_dir / "data" / "blob.bin").read_bytes() == payload
    digest = mpremote(board, "fs", "sha256sum", ":data/blob.bin")
    assert hashlib.sha256(payload).hexdigest() in digest.stdout
    assert mpremote(board, "fs", "cp", ":data/blob.bin", str(tmp_path / "back.bin")).returncode == 0
    assert (tmp_path / "back.bin").read_bytes() == payload


def test_plain_raw_repl_fallback_works_when_raw_paste_is_declined(tmp_path):
    with VirtualBoard(tmp_path, raw_paste=False) as plain:
        (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 4)
        result = mpremote(plain, "fs", "cp", str(tmp_path / "blob.bin"), ":blob.bin",
                          "+", "exec", "print(6*7)")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().endswith("42")
        assert (plain.flash_dir / "blob.bin").read_bytes() == bytes(range(256)) * 4


def test_missing_file_is_reported_as_enoent_like_a_board(board):
    result = mpremote(board, "fs", "cat", ":no-such-file")
    assert result.returncode == 1
    assert "No such file or directory" in result.stderr


def test_soft_reset_gives_a_fresh_vm_and_keeps_the_flash(board):
    (board.flash_dir / "kept.txt").write_text("kept")
    result = mpremote(board, "exec", "marker = 1", "exec", "print('marker' in globals())",
                      "soft-reset", "exec", "print('marker' in globals(), open('kept.txt').read())")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False", "kept"]


def test_friendly_soft_reboot_runs_main_py(board):
    (board.flash_dir / "main.py").write_text("print('main ran')\n")
    fd = os.open(board.port, os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, b"\r\x03\x02\x04")
        seen = b""
        deadline = time.monotonic() + 30
        while not (b"main ran" in seen and seen.endswith(b">>> ")) and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.1)[0]:
                seen += os.read(fd, 4096)
        assert b"MPY: soft reboot" in seen
        assert seen.index(b"MPY: soft reboot") < seen.index(b"main ran")
        assert seen.endswith(b">>> ")
    finally:
        os.close(fd)
        (board.flash_dir / "main.py").unlink()


def test_full_flash_raises_enospc_and_keeps_other_files(tmp_path):
    with VirtualBoard(tmp_path, capacity=16 * 1024) as small:
        (small.flash_dir / "keep.bin").write_bytes(b"k" * 1000)
        (tmp_path / "big.bin").write_bytes(b"x" * 32 * 1024)
        result = mpremote(small, "fs", "cp", str(tmp_path / "big.bin"), ":big.bin")
        assert result.returncode == 1
        assert "No space left on device" in result.stderr
        assert (small.flash_dir / "keep.bin").read_bytes() == b"k" * 1000


def test_cut_link_fails_the_host_and_the_board_keeps_running(board, tmp_path):
    (tmp_path / "blob.bin").write_bytes(b"y" * 8000)
    board.cut_link(after_host_bytes=3000)
    result = mpremote(board, "fs", "cp", str(tmp_path / "blob.bin"), ":cut.bin")
    assert result.returncode != 0
    assert board.wait_link_cut()
    board.connect()
    result = mpremote(board, "exec", "print('still here')")
    assert result.stdout.strip() == "still here"


def test_the_watchdog_survives_a_soft_reset_and_resets_an_unfed_board_as_the_esp32(board):
    # ports/esp32/machine_wdt.c on 1.27: no deinit, kept through soft resets (the raw
    # REPL's Ctrl-D), a second WDT() only changes the timeout
    armed = mpremote(board, "exec", "import machine; machine.WDT(timeout=1000)", "soft-reset",
                     "exec", "x = 1")
    assert armed.returncode == 0, armed.stderr
    time.sleep(2.5)
    after = mpremote(board, "resume", "exec",
                     "import machine; print(machine.reset_cause(), 'x' in globals())")
    assert after.returncode == 0, after.stderr
    assert after.stdout.split() == ["3", "False"]  # WDT_RESET, a fresh interpreter


def test_machine_reset_is_a_hard_reset_that_runs_main_py(board):
    (board.flash_dir / "main.py").write_text("print('main ran')\n")
    try:
        result = mpremote(board, "reset")
        assert result.returncode == 0, result.stderr
        time.sleep(0.5)
        cause = mpremote(board, "resume", "exec", "import machine; print(machine.reset_cause())")
        assert cause.stdout.strip() == "2"
    finally:
        (board.flash_dir / "main.py").unlink()


# A main.py that reports each boot, as the app's wake path sees it, then deep sleeps.
SLEEPER = """import esp32, machine
rtc = machine.RTC()
boots = int(rtc.memory() or b"0") + 1
rtc.memory(str(boots).encode())
print("boot", boots, machine.reset_cause(), machine.wake_reason())
if %s:
    esp32.wake_on_ext0(pin=machine.Pin(13, machine.Pin.IN), level=esp32.WAKEUP_ANY_HIGH)
machine.deepsleep(%d)
"""


def boots_seen(board, events, count, seconds=30):
    """The board's "boot N cause wake" lines, once `count` of them arrived."""
    deadline = time.monotonic() + seconds
    while True:
        text = "".join(event.get("console", "") for event in list(events))
        lines = [line.split() for line in text.splitlines() if line.startswith("boot ")]
        if len(lines) >= count or time.monotonic() >= deadline:
            return lines
        time.sleep(0.05)


def test_an_item_wakes_a_board_asleep_with_ext0_armed_and_rtc_memory_survives(tmp_path):
    with VirtualBoard(tmp_path) as sleeper:
        events = []
        sleeper.listen(events.append)
        (sleeper.flash_dir / "main.py").write_text(SLEEPER % ("True", 0))
        assert mpremote(sleeper, "reset").returncode == 0  # boots into main.py, which sleeps
        assert boots_seen(sleeper, events, 1)[-1] == ["boot", "1", "2", "0"]  # HARD_RESET
        sleeper.item_arrives()
        sleeper.item_arrives()
        # DEEPSLEEP_RESET (4), EXT0_WAKE (2), the RTC memory's count carried on
        assert boots_seen(sleeper, events, 3)[1:] == [["boot", "2", "4", "2"],
                                                      ["boot", "3", "4", "2"]]
        assert {"reset": "deep_sleep", "wake": "ext0"} in events
        assert sum(1 for event in events if event.get("sleep") == 0) == 3


def test_a_timed_deep_sleep_wakes_on_its_timer_and_an_item_does_not_wake_it_early(tmp_path):
    with VirtualBoard(tmp_path) as sleeper:
        events = []
        sleeper.listen(events.append)
        (sleeper.flash_dir / "main.py").write_text(SLEEPER % ("False", 1500))
        assert mpremote(sleeper, "reset").returncode == 0
        assert len(boots_seen(sleeper, events, 1)) == 1
        sleeper.item_arrives()  # no ext0 armed: the item is not seen
        time.sleep(0.5)
        assert len(boots_seen(sleeper, events, 2, seconds=0)) == 1
        assert boots_seen(sleeper, events, 2)[1] == ["boot", "2", "4", "4"]  # TIMER_WAKE


def test_microlite_reports_a_model_the_host_cannot_load_as_the_binding_does(board):
    result = mpremote(board, "exec", "import microlite\n"
                      "try:\n"
                      "    microlite.interpreter(bytearray(b'not a model' * 4), 4096, print, print)\n"
                      "except ValueError as error:\n"
                      "    print('refused', error)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("refused ")
    assert "TFLM" in result.stdout


class SizedCamera:
    """Draws each frame from the size and format asked: width, height and a format byte,
    then filler to the frame's length; it has no 160x120 frames (a failed capture)."""

    def __init__(self):
        self.asked = []

    def frame(self, width, height, grayscale):
        self.asked.append((width, height, grayscale))
        if (width, height) == (160, 120):
            raise OSError("no frame")
        head = bytes([width % 256, height % 256, 1 if grayscale else 2])
        return head + bytes(width * height * (1 if grayscale else 2) - len(head))


def test_a_host_camera_draws_each_frame_at_the_size_and_format_the_application_asks_for(
        tmp_path):
    camera = SizedCamera()
    with VirtualBoard(tmp_path, camera=camera) as board:
        result = mpremote(board, "exec", "import camera\n"
                          "c = camera.Camera(pixel_format=camera.PixelFormat.RGB565,"
                          " frame_size=camera.FrameSize.R240X240)\n"
                          "f = c.capture(); print(len(f), list(f[:3]))\n"
                          "c.reconfigure(pixel_format=camera.PixelFormat.GRAYSCALE,"
                          " frame_size=camera.FrameSize.R96X96)\n"
                          "f = c.capture(); print(len(f), list(f[:3]))\n"
                          "c.reconfigure(frame_size=camera.FrameSize.QQVGA)\n"
                          "print(c.capture())\n"
                          "c.reconfigure(pixel_format=camera.PixelFormat.JPEG)\n"
                          "print(c.capture())")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["115200 [240, 240, 2]", "9216 [96, 96, 1]",
                                          "None", "None"]
    # a JPEG frame is not asked of it: the host draws RGB565 and luma only
    assert camera.asked == [(240, 240, False), (96, 96, True), (160, 120, True)]
