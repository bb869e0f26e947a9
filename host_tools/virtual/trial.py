"""`smartbin try`: the whole bin without hardware. A virtual board is started, the
application, model and config are deployed to it with `smartbin deploy`'s own code, and
each photo dropped into a folder becomes the camera's next frame and an item at the wake
sensor: the bin wakes from deep sleep, classifies it (TFLM on this computer), moves the
lid and goes back to sleep, as on the board. Its port answers every board command
(`deploy`, `pull`, `monitor`, `capture`) from another terminal.
"""
import contextlib
import fcntl
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

from host_tools import atomic
from host_tools.data.images import is_image_name
from host_tools.errors import SmartbinError
from host_tools.paths import FIRMWARE_DIR

DEFAULT_DROP = Path("build") / "try" / "drop"
DEFAULT_BOARD = Path("build") / "try" / "board"
FRAME_NAME = "next.raw"
# A dropped file is taken once its size and time stood still for this long (a copy ended).
_SETTLE_SECONDS = 0.3
_POLL_SECONDS = 0.2
# After the bin fell asleep, how long its last console line may still be on its way.
_CONSOLE_GRACE_SECONDS = 2.0
ITEM_LINE = re.compile(r"^item (\S+) (\d+\.\d+) -> lid (\S+) \(look \d+ ms, lid \d+ ms\)")


class Item:
    """What the bin did with one photo: its class, score and lid (None when it printed no
    item line), and the lid's servo pulses [(board ms, pulse us)], 0 us meaning stopped."""

    def __init__(self, photo):
        self.photo = photo
        self.label = None
        self.score = None
        self.lid = None
        self.pulses = {}  # pin -> [(ms, us)]
        self.console = ""


class VirtualBin:
    """The bin on a virtual board: `start()` it (deploy included), `sort(photo)`, `stop()`.
    Its board keeps its flash in `board_dir/flash` from one start to the next, so a second
    start sends only what changed."""

    def __init__(self, board_dir=DEFAULT_BOARD, model_dir=None, config_path=None,
                 firmware_dir=FIRMWARE_DIR, inference=None):
        self.board_dir = Path(board_dir)
        self.model_dir = model_dir
        self.config_path = config_path
        self.firmware_dir = firmware_dir
        self.inference = inference
        self.board = None
        self.contract = None
        self.config = None
        self.deployed = None
        self._lock_file = None
        self._events = []
        self._changed = threading.Condition()

    @property
    def port(self):
        return self.board.port if self.board else None

    def start(self, progress=None):
        """Start the board and deploy to it; returns deploy's report."""
        from host_tools.device.deploy import deploy
        from host_tools.model.predict import load_model_folder
        from host_tools.power import DEFAULT_CONFIG, read_config
        from host_tools.virtual.board import VirtualBoard

        self.contract, _ = load_model_folder(self.model_dir)
        self.config = read_config(self.config_path or DEFAULT_CONFIG)[1]
        self._lock()
        frames_dir = self.board_dir / "frames"
        if frames_dir.is_dir():
            for stale in frames_dir.iterdir():
                stale.unlink()
        self.board = VirtualBoard(self.board_dir, inference=self.inference)
        self.board.listen(self._record)
        self.board.start()
        self.deployed = deploy(self.board.port, self.firmware_dir, self.model_dir,
                               self.config_path, boot_seconds=60, progress=progress)
        return self.deployed

    def read_deployed(self):
        """The config and model contract on the board's flash now: a later `smartbin
        deploy --port` may have changed them (a retrained model, other lids)."""
        from host_tools import contract
        from host_tools.power import read_config

        flash = self.board.flash_dir
        self.config = read_config(flash / "config.json")[1]
        self.contract = contract.load(flash / self.config.contract_path.lstrip("/"))

    def _lock(self):
        self.board_dir.mkdir(parents=True, exist_ok=True)
        self._lock_file = open(self.board_dir / "lock", "w")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock_file.close()
            self._lock_file = None
            raise SmartbinError("another `smartbin try` runs this virtual board (%s): stop it "
                                "first, or give --board-dir" % self.board_dir) from None

    def stop(self):
        """Power the board off; nothing of it keeps running."""
        if self.board is not None:
            self.board.stop()
            self.board = None
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def _record(self, event):
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()

    def frame_of(self, photo):
        """What the OV2640 sends for this scene at the deployed model's input size
        (SmartbinError for a file that is no readable photo)."""
        from host_tools.simulate import camera_frame

        self.read_deployed()
        return camera_frame(photo, self.contract)

    def sort(self, photo, frame=None):
        """Show `photo` (or its camera `frame`) to the camera, put an item at the sensor
        and wait for the bin to serve it and fall asleep again; returns an Item. While a
        host tool holds the board, the item waits, as on a bin."""
        if frame is None:
            frame = self.frame_of(photo)
        atomic.write_bytes(self.board.frames_dir / FRAME_NAME, frame)
        item = Item(photo)
        with self._changed:
            self._events.clear()  # what happened between items is not this item's
        self.board.item_arrives()
        woke = self._wait(0, lambda event: event.get("wake") == "ext0")
        asleep = self._wait(woke + 1, lambda event: "sleep" in event)
        deadline = time.monotonic() + _CONSOLE_GRACE_SECONDS
        with self._changed:
            while True:
                item.console = "".join(event.get("console", "")
                                       for event in self._events[woke + 1:])
                if _item_line(item.console) or time.monotonic() >= deadline:
                    break
                self._changed.wait(0.1)
            events = self._events[woke + 1:asleep + 1]
        for event in events:
            if "pwm" in event:
                item.pulses.setdefault(event["pwm"], []).append((event["ms"], event["us"]))
        line = _item_line(item.console)
        if line:
            item.label, score, item.lid = line.group(1, 2, 3)
            item.score = float(score)
        return item

    def _wait(self, start, matches):
        """Index of the first event from `start` on that `matches`; waits for it."""
        with self._changed:
            index = start
            while True:
                while index < len(self._events):
                    if matches(self._events[index]):
                        return index
                    index += 1
                if self.board is None or not self.board.running():
                    raise SmartbinError("the virtual board stopped")
                self._changed.wait(0.5)


def _item_line(console):
    for line in console.splitlines():
        match = ITEM_LINE.match(line.strip())
        if match:
            return match
    return None


# ---- the drop folder ---------------------------------------------------------------------
class DropFolder:
    """New photos in a folder, each once, once its copy has ended; photos already there
    count as new at the start. Sorted by name within one look."""

    def __init__(self, folder, clock=time.monotonic):
        self.folder = Path(folder)
        self.clock = clock
        if self.folder.exists() and not self.folder.is_dir():
            raise SmartbinError("%s is a file; the drop folder must be a folder" % self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._taken = set()
        self._seen = {}  # name -> ((size, mtime), first seen)

    def ready(self):
        """Photos whose copy has ended and that were not handed out yet."""
        now = self.clock()
        ready = []
        try:
            entries = sorted(os.scandir(self.folder), key=lambda entry: entry.name)
        except OSError as error:
            raise SmartbinError("cannot read the drop folder %s: %s"
                                % (self.folder, error.strerror)) from None
        for entry in entries:
            if not entry.is_file() or not is_image_name(entry.name):
                continue
            try:
                stat = entry.stat()
            except OSError:  # taken away again before we looked
                continue
            key = (entry.name, stat.st_size, stat.st_mtime_ns)
            if key in self._taken:
                continue
            shape, since = self._seen.get(entry.name, (None, now))
            if shape != key[1:]:
                self._seen[entry.name] = (key[1:], now)
                continue
            if stat.st_size and now - since >= _SETTLE_SECONDS:
                self._taken.add(key)
                del self._seen[entry.name]
                ready.append(Path(entry.path))
        return ready


# ---- what the terminal shows --------------------------------------------------------------
def lid_motion(item, lid):
    """The lid's moves in this item as [(board ms, state)]: opening, open, closing, closed."""
    closed, opened = lid["closed_us"], lid["open_us"]
    motion = []
    state, previous = "closed", closed
    for ms, us in item.pulses.get(lid["pin"], []):
        if us == 0:
            continue
        if us == opened:
            new = "open"
        elif us == closed:
            new = "closed"
        else:
            new = "opening" if abs(us - closed) > abs(previous - closed) else "closing"
        if new != state:
            motion.append((ms, new))
            state = new
        previous = us
    return motion


def _show_item(virtual_bin, item, out, live):
    name = item.photo.name
    if item.label is None:
        out.write("%s: no result (the bin printed no item line; `smartbin monitor --port %s` "
                  "shows its log)\n" % (name, virtual_bin.port))
        out.flush()
        return
    out.write("%s: %s %.2f -> lid %s\n" % (name, item.label, item.score, item.lid))
    lid = next((lid for lid in virtual_bin.config.lids if lid["name"] == item.lid), None)
    motion = lid_motion(item, lid) if lid and lid["pin"] >= 0 else []
    if not motion:
        out.write("  lid %s: no servo on this lid\n" % item.lid)
    else:
        if live:
            _animate(item.pulses[lid["pin"]], lid, motion, out)
        out.write("  lid %s: %s\n" % (item.lid, " -> ".join(state for _, state in motion)))
    out.flush()


def _animate(pulses, lid, motion, out, width=20):
    """The lid's position as a bar, at the board's own pace (its clock's milliseconds),
    on one terminal line that the summary then replaces."""
    closed, opened = lid["closed_us"], lid["open_us"]
    pulses = [(ms, us) for ms, us in pulses if us]
    started_ms, started = pulses[0][0], time.monotonic()
    for ms, us in pulses:
        delay = (ms - started_ms) / 1000 - (time.monotonic() - started)
        if delay > 0:
            time.sleep(delay)
        filled = round(width * (us - closed) / ((opened - closed) or 1))
        filled = max(0, min(width, filled))
        state = [s for t, s in motion if t <= ms][-1:] or ["closed"]
        out.write("\r  lid %s [%s%s] %-8s" % (lid["name"], "#" * filled, "." * (width - filled),
                                                state[0]))
        out.flush()
    out.write("\r\033[K")


# ---- command line ---------------------------------------------------------------------------
def configure(parser):
    parser.add_argument("--photos", default=str(DEFAULT_DROP),
                        help="drop folder: each photo put there is the next item "
                             "(default: %(default)s; photos already in it go first)")
    parser.add_argument("--model", default=None,
                        help="model folder to deploy (default: build/model if it has a "
                             "model.tflite, else models/default)")
    parser.add_argument("--config", default=None,
                        help="bin config to deploy (default: firmware/config.json)")
    parser.add_argument("--board-dir", default=str(DEFAULT_BOARD),
                        help="where the virtual board keeps its flash (default: %(default)s)")


def _deploy_progress():
    """deploy's per-file progress as tqdm bars on stderr (as `smartbin deploy` shows it)."""
    from tqdm import tqdm

    bars = {}

    def progress(board_path, done, total):
        bar = bars.get(board_path)
        if bar is None:
            bar = bars[board_path] = tqdm(total=total, desc=board_path, unit="B",
                                          unit_scale=True, leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return progress


@contextlib.contextmanager
def ctrl_c_for_this_command_only():
    """Ctrl-C is how a user ends `smartbin try`, not an interruption of what started it:
    in a process group of its own that holds the terminal, so `make try` sees a clean
    exit instead of reporting "Interrupt". The terminal goes back on the way out."""
    try:
        terminal = sys.stdin.fileno()
        owned = sys.stdin.isatty() and os.tcgetpgrp(terminal) == os.getpgrp()
    except (OSError, ValueError):
        owned = False
    if not owned or os.getpid() == os.getsid(0):
        yield
        return
    previous = os.getpgrp()
    quiet = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # a background group may take it
    try:
        os.setpgid(0, 0)
        os.tcsetpgrp(terminal, os.getpgrp())
    except OSError:
        signal.signal(signal.SIGTTOU, quiet)
        yield
        return
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.tcsetpgrp(terminal, previous)
        signal.signal(signal.SIGTTOU, quiet)


def run(args):
    with ctrl_c_for_this_command_only():
        return _run(args)


def _run(args):
    from host_tools.model.predict import default_model_dir

    out = sys.stdout
    live = out.isatty()
    drop = DropFolder(args.photos)
    virtual_bin = VirtualBin(args.board_dir, args.model or default_model_dir(), args.config)
    try:
        out.write("starting the virtual board and deploying the bin to it...\n")
        out.flush()
        report = virtual_bin.start(_deploy_progress() if sys.stderr.isatty() else None)
        out.write("port: %s\n" % virtual_bin.port)
        out.write("deployed %s: %d file(s) sent, %d unchanged, %.1f s\n"
                  % (report["model"], len(report["sent"]), len(report["unchanged"]),
                     report["seconds"]))
        out.write("drop photos into %s; from another terminal `smartbin monitor|pull|capture|"
                  "deploy|preview --port %s` work as on a board. Ctrl-C stops.\n"
                  % (drop.folder, virtual_bin.port))
        out.flush()
        while True:
            for photo in drop.ready():
                try:
                    frame = virtual_bin.frame_of(photo)
                except SmartbinError as error:
                    out.write("%s: skipped: %s\n" % (photo.name, error))
                    out.flush()
                    continue
                _show_item(virtual_bin, virtual_bin.sort(photo, frame), out, live)
            time.sleep(_POLL_SECONDS)
    except KeyboardInterrupt:
        if live:
            out.write("\n")
        out.write("stopped: the virtual bin is off\n")
        out.flush()
        return 0
    finally:
        virtual_bin.stop()
