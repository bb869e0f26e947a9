"""A virtual ESP32-CAM: the real MicroPython VM behind a pseudo-terminal.

`VirtualBoard` starts `board.mjs` (the VM, its flash kept in a host folder) and copies
bytes between it and the master side of a pty, so the real `mpremote` and the host
tools open `board.port` (e.g. /dev/pts/7) exactly as they open a USB serial port.
The board runs the project's firmware image (camera driver and microlite, as stand-ins)
or, with firmware="stock", a plain MicroPython image without them.

Beside the serial line, three pipes join board.mjs and this process: the board's events
(servo pulses, resets, deep sleeps) go to `listen()`ers, microlite's inference requests
are answered by `inference` (TFLM on this computer, host_tools/virtual/inference.py), and
`item_arrives()` puts an item at the wake sensor. Camera frames are drawn by `camera`
when one is given (at the size and pixel format the application asks for), else they are
the files in `frames_dir`. Tests can also cut the link after a number of bytes (a cable pulled
mid-copy) and fill the flash (a fixed capacity).
"""
import json
import os
import pty
import select
import shutil
import subprocess
import termios
import threading
import time
import tty
from pathlib import Path

from host_tools.errors import SmartbinError
from host_tools.paths import REPO_ROOT

HERE = Path(__file__).resolve().parent
BOARD_SCRIPT = HERE / "board.mjs"
# Board output that waited this long for a reader is thrown away (see _write_or_drop).
_UNREAD_OUTPUT_SECONDS = 1.0


def node_available():
    """True when Node and the pinned MicroPython VM are installed (`make node`)."""
    package = REPO_ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
    return shutil.which("node") is not None and package.is_dir()


class VirtualBoard:
    """One virtual board; `start()` it, use `port`, `stop()` it (or use it as a context).

    `inference`: what runs the models microlite loads (an object with `load(model_bytes,
    arena_bytes)` returning a model with `input_bytes`, `output_bytes` and
    `invoke(input) -> output`); default: TFLM on this computer.

    `camera`: what the sensor sees (an object with `frame(width, height, grayscale)`
    returning the frame's bytes, RGB565 big-endian or luma); default: the files of
    `frames_dir` in turn, whatever size the application asks for."""

    def __init__(self, workdir, capacity=4 * 1024 * 1024, heap=4 * 1024 * 1024, raw_paste=True,
                 firmware="smartbin", items=0, inference=None, camera=None):
        workdir = Path(workdir).resolve()  # board.mjs runs in the repository, not here
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
        # items waiting at the wake sensor from the start (a bin in use)
        self.items = items
        if inference is None:
            from host_tools.virtual.inference import TflmInference

            inference = TflmInference()
        self.inference = inference
        self.camera = camera
        self.port = None
        self.bytes_from_host = 0
        self._process = None
        self._master = None
        self._slave = None
        self._cut_after = None
        self._cut_pattern = None
        self._recent = b""
        self._link_up = threading.Event()
        self._listeners = []
        self._listeners_lock = threading.Lock()
        self._commands = None

    # ---- life cycle ---------------------------------------------------------------
    def start(self):
        """Power the board on and plug its cable in; return the port path."""
        if not node_available():
            raise SmartbinError("the virtual board needs Node.js and the pinned MicroPython "
                                "VM: run `make node` (npm ci)")
        events_read, events_write = os.pipe()
        replies_read, replies_write = os.pipe()
        commands_read, commands_write = os.pipe()
        board_ends = (events_write, replies_read, commands_read)
        try:
            self._process = subprocess.Popen(
                ["node", str(BOARD_SCRIPT), "--flash", str(self.flash_dir),
                 "--capacity", str(self.capacity), "--frames", str(self.frames_dir),
                 "--heap", str(self.heap), "--raw-paste", "on" if self.raw_paste else "off",
                 "--firmware", self.firmware, "--items", str(self.items),
                 "--camera", "host" if self.camera is not None else "files",
                 "--events-fd", str(events_write), "--replies-fd", str(replies_read),
                 "--commands-fd", str(commands_read)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=str(REPO_ROOT),
                pass_fds=board_ends, start_new_session=True)
        except OSError as error:
            for fd in board_ends + (events_read, replies_write, commands_write):
                os.close(fd)
            raise SmartbinError("cannot start the virtual board: %s" % error.strerror) from None
        for fd in board_ends:
            os.close(fd)
        self._commands = os.fdopen(commands_write, "w", buffering=1)
        threading.Thread(target=self._board_to_host, daemon=True).start()
        threading.Thread(target=self._serve_events, args=(events_read, replies_write),
                         daemon=True).start()
        self.connect()
        return self.port

    # ---- the side channels ----------------------------------------------------------
    def listen(self, callback):
        """Call `callback(event)` for each board event, from a reader thread: {"pwm": pin,
        "us": pulse (0: stopped), "ms": board clock}, {"reset": cause, "wake": reason},
        {"sleep": timer ms (0: none), "ext0": armed}, {"console": text the board printed}."""
        with self._listeners_lock:
            self._listeners.append(callback)

    def _tell(self, event):
        with self._listeners_lock:
            listeners = list(self._listeners)
        for callback in listeners:
            callback(event)

    def item_arrives(self):
        """An item at the wake sensor: it wakes the board once the board is in deep sleep
        with the sensor wake armed (now, or after what it is doing)."""
        self._commands.write("item\n")

    def _serve_events(self, events_fd, replies_fd):
        models = {}
        with os.fdopen(events_fd, "rb") as events, os.fdopen(replies_fd, "wb") as replies:
            for line in events:
                event = json.loads(line)
                if "camera" in event:
                    reply = self._camera_frame(event)
                elif "tflm" in event:
                    reply = self._answer(event["tflm"], event, models)
                else:
                    self._tell(event)
                    continue
                try:
                    replies.write(json.dumps(reply).encode() + b"\n")
                    replies.flush()
                except OSError:
                    return

    def _answer(self, request, event, models):
        """One microlite request: load a model, or run one inference on it."""
        try:
            if request == "load":
                model = self.inference.load(bytes.fromhex(event["model"]), event["arena"])
                models[len(models) + 1] = model
                return {"id": len(models), "input_bytes": model.input_bytes,
                        "output_bytes": model.output_bytes}
            model = models[event["id"]]
            return {"output": model.invoke(bytes.fromhex(event["input"])).hex()}
        except Exception as error:  # the board sees a failed load/invoke, as from TFLM
            return {"error": str(error) or type(error).__name__}

    def _camera_frame(self, event):
        """One capture: the frame `camera` draws at the asked size and format."""
        if event["format"] not in ("RGB565", "GRAY"):
            return {"error": "no %s frames from this camera" % event["format"]}
        try:
            frame = self.camera.frame(event["width"], event["height"],
                                      event["format"] == "GRAY")
            return {"frame": bytes(frame).hex()}
        except Exception as error:  # the board sees a failed capture, as from the driver
            return {"error": str(error) or type(error).__name__}

    def connect(self):
        """Plug the cable (a new pty) in; the board keeps running."""
        self._master, self._slave = pty.openpty()
        os.set_blocking(self._master, False)  # writes never wait for an absent reader
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
        if self._commands is not None:
            try:
                self._commands.close()
            except OSError:
                pass
            self._commands = None

    def running(self):
        """True while the board's process runs."""
        return self._process is not None and self._process.poll() is None

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
                if not select.select([master], [], [], 0.2)[0]:
                    continue
                data = os.read(master, 4096)
            except BlockingIOError:
                continue
            except (OSError, ValueError):
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
            self._tell({"console": data.decode("utf-8", "replace")})
            master, slave = self._master, self._slave
            if not self._link_up.is_set():
                # The cable is out: the board's output goes nowhere.
                continue
            _write_or_drop(master, slave, data)


def _write_or_drop(master, slave, data):
    """Write to the pty. Output that no one read for a while is thrown away to make room
    (the port's reader sees what the board says from when it listens, as on a UART), so
    an unwatched board never stalls."""
    flushed = False
    while data:
        try:
            if not select.select([], [master], [], _UNREAD_OUTPUT_SECONDS)[1]:
                if flushed:
                    return
                termios.tcflush(slave, termios.TCIFLUSH)
                flushed = True
                continue
            data = data[os.write(master, data):]
        except BlockingIOError:
            continue
        except (OSError, ValueError, termios.error):
            return
