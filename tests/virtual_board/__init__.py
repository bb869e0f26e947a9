"""A virtual ESP32-CAM for tests: the real MicroPython VM behind a pseudo-terminal.

`VirtualBoard` starts `board.mjs` (the VM, its flash kept in a host folder) and copies
bytes between it and the master side of a pty, so the real `mpremote` and the host
tools open `board.port` (e.g. /dev/pts/7) exactly as they open a USB serial port.
Tests can cut the link after a number of bytes (a cable pulled mid-copy), fill the
flash (a fixed capacity), and put camera frames in `board.frames_dir`. The board runs
the project's firmware image (camera driver and microlite, as stand-ins) or, with
firmware="stock", a plain MicroPython image without them.
"""
import os
import pty
import shutil
import subprocess
import termios
import threading
import time
import tty
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
BOARD_SCRIPT = HERE / "board.mjs"


def node_available():
    """True when Node and the pinned MicroPython VM are installed (`make node`)."""
    package = REPO_ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
    return shutil.which("node") is not None and package.is_dir()


class VirtualBoard:
    """One virtual board; `start()` it, use `port`, `stop()` it (or use it as a context)."""

    def __init__(self, workdir, capacity=4 * 1024 * 1024, heap=4 * 1024 * 1024, raw_paste=True,
                 firmware="smartbin", items=0):
        workdir = Path(workdir)
        self.flash_dir = workdir / "flash"
        self.frames_dir = workdir / "frames"
        self.flash_dir.mkdir(parents=True, exist_ok=True)
        self.frames_dir.mkdir(parents=True, exist_ok=True)
        self.capacity = capacity
        self.heap = heap
        # Boards since MicroPython 1.14 take mpremote's raw-paste mode; off, mpremote falls
        # back to the plain raw REPL (both paths are mpremote's own).
        self.raw_paste = raw_paste
        self.firmware = firmware
        # the next `items` deep sleeps end with an item at the sensor (a bin in use)
        self.items = items
        self.port = None
        self.bytes_from_host = 0
        self._process = None
        self._master = None
        self._slave = None
        self._cut_after = None
        self._cut_pattern = None
        self._recent = b""
        self._link_up = threading.Event()

    # ---- life cycle ---------------------------------------------------------------
    def start(self):
        """Power the board on and plug its cable in; return the port path."""
        if not node_available():
            raise RuntimeError("the virtual board needs Node and the pinned MicroPython VM: "
                               "run `make node` (npm ci)")
        self._process = subprocess.Popen(
            ["node", str(BOARD_SCRIPT), "--flash", str(self.flash_dir),
             "--capacity", str(self.capacity), "--frames", str(self.frames_dir),
             "--heap", str(self.heap), "--raw-paste", "on" if self.raw_paste else "off",
             "--firmware", self.firmware, "--items", str(self.items)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=str(REPO_ROOT))
        threading.Thread(target=self._board_to_host, daemon=True).start()
        self.connect()
        return self.port

    def connect(self):
        """Plug the cable (a new pty) in; the board keeps running."""
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave, termios.TCSANOW)
        self.port = os.ttyname(self._slave)
        self.bytes_from_host = 0
        self._cut_after = None
        self._cut_pattern = None
        self._recent = b""
        self._link_up.set()
        threading.Thread(target=self._host_to_board, daemon=True).start()

    def cut_link(self, after_host_bytes=None, after_pattern=None):
        """Pull the cable now, or once the host has sent `after_host_bytes` more bytes
        (counted from when it sends `after_pattern`, if given: e.g. a file name, to cut in
        the middle of that file's copy)."""
        if after_pattern is not None:
            self._cut_pattern = (after_pattern, after_host_bytes or 0)
            return
        if after_host_bytes is not None:
            self._cut_after = self.bytes_from_host + after_host_bytes
            return
        self._disconnect()

    def _disconnect(self):
        if not self._link_up.is_set():
            return
        self._link_up.clear()
        # Closing both ends makes the host's next read or write fail, as an unplugged
        # USB adapter does.
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass

    def wait_link_cut(self, timeout=30):
        """Wait until a scheduled cut happened; True if it did."""
        deadline = time.monotonic() + timeout
        while self._link_up.is_set() and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._link_up.is_set()

    def stop(self):
        """Unplug and power off."""
        self._disconnect()
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            for stream in (self._process.stdin, self._process.stdout):
                stream.close()
            self._process = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # ---- the two copy loops ---------------------------------------------------------
    def _host_to_board(self):
        master = self._master
        while self._link_up.is_set():
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            if self._cut_pattern is not None:
                pattern, extra = self._cut_pattern
                self._recent = (self._recent + data)[-(len(pattern) + len(data)):]
                found = self._recent.find(pattern)
                if found >= 0:
                    sent_after = len(self._recent) - found - len(pattern)
                    self._cut_after = self.bytes_from_host + len(data) - sent_after + extra
                    self._cut_pattern = None
            if self._cut_after is not None and self.bytes_from_host + len(data) >= self._cut_after:
                keep = max(0, self._cut_after - self.bytes_from_host)
                self._forward(data[:keep])
                self._disconnect()
                break
            self.bytes_from_host += len(data)
            self._forward(data)

    def _forward(self, data):
        if data and self._process is not None:
            try:
                self._process.stdin.write(data)
                self._process.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass

    def _board_to_host(self):
        stdout = self._process.stdout
        while True:
            data = os.read(stdout.fileno(), 65536)
            if not data:
                return
            master = self._master
            if not self._link_up.is_set():
                # The cable is out: the board's output goes nowhere.
                continue
            try:
                os.write(master, data)
            except OSError:
                pass
