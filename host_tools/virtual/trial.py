"""`smartbin try`: the whole bin without hardware. A virtual board is started, the
application, model and config are deployed to it with `smartbin deploy`'s own code, and
each photo dropped into a folder becomes an item in the chamber, in front of the camera,
and at the wake sensor: the bin wakes from deep sleep, captures and classifies it (TFLM on
this computer), moves the lid and goes back to sleep, as on the board. Between items the
camera sees the empty chamber (a plain grey one, or the user's photo of theirs), which a
model that isolates the item finds it against. Its port answers every board command
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

from host_tools import contract as host_contract
from host_tools.data.images import IMAGE_SUFFIXES, is_image_name
from host_tools.errors import SmartbinError
from host_tools.paths import FIRMWARE_DIR

DEFAULT_DROP = Path("build") / "try" / "drop"
DEFAULT_BOARD = Path("build") / "try" / "board"
# The empty chamber when the user gives no photo of theirs: plain grey, which RGB565 and
# luma carry exactly.
PLAIN_CHAMBER_RGB = (128, 128, 128)
# A dropped file is taken once its size and time stood still for this long (a copy ended).
_SETTLE_SECONDS = 0.3
# An empty file waits longer: a slow copy may not have written its first byte yet.
_EMPTY_SETTLE_SECONDS = 2.0
_POLL_SECONDS = 0.2
# After the bin fell asleep, how long its last console line may still be on its way.
_CONSOLE_GRACE_SECONDS = 2.0
ITEM_LINE = re.compile(r"^item (\S+) (\d+\.\d+) -> lid (\S+) \(look \d+ ms, lid \d+ ms\)")


class Chamber:
    """What the camera sees: the item put in, from before the bin wakes for it until it
    falls through a lid (the first servo pulse after that wake) or the bin sleeps again;
    else the empty chamber. Each frame is the scene fitted to the size the application
    asks for (bilinear, standing in for the sensor's scaling), as RGB565 big-endian or
    luma. Called from the board's event thread and from the caller's."""

    def __init__(self, empty_image=None):
        self.empty = empty_image if empty_image is not None else _plain_chamber()
        self._item = None
        self._woken = False  # the bin woke for the item in it
        self._drawn = {}  # (scene, width, height, grey) -> frame, for the scene now
        self._lock = threading.Lock()

    def put(self, image):
        """An item into the chamber (the bin has not woken for it yet)."""
        with self._lock:
            self._item, self._woken = image, False
            self._drawn.clear()

    def holds_item(self):
        with self._lock:
            return self._item is not None

    def see(self, event):
        """A board event: a wake for the item, or the item leaving the chamber."""
        with self._lock:
            if self._item is None:
                return
            if event.get("wake") == "ext0":
                self._woken = True
            elif self._woken and (event.get("us") or "sleep" in event):
                self._item = None
                self._drawn.clear()

    def frame(self, width, height, grayscale):
        with self._lock:
            scene = self._item if self._item is not None else self.empty
            key = (id(scene), width, height, grayscale)
            frame = self._drawn.get(key)
            if frame is None:
                frame = self._drawn[key] = camera_bytes(scene, width, height, grayscale)
            return frame


def _plain_chamber():
    from PIL import Image

    return Image.new("RGB", (8, 8), PLAIN_CHAMBER_RGB)


def camera_bytes(image, width, height, grayscale=False):
    """A Pillow photo as the OV2640's frame of that size: RGB565 big-endian, or luma."""
    frame_contract = {"input": {"width": width, "height": height, "resize": "bilinear",
                                "colour_order": "GRAY" if grayscale else "RGB"}}
    pixels = host_contract.image_to_pixels(image, frame_contract)
    return pixels.tobytes() if grayscale else host_contract.rgb888_to_rgb565(pixels)


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
                 firmware_dir=FIRMWARE_DIR, inference=None, empty_photo=None):
        self.board_dir = Path(board_dir)
        self.empty_photo = empty_photo
        self.model_dir = model_dir
        self.config_path = config_path
        self.firmware_dir = firmware_dir
        self.inference = inference
        self.board = None
        self.contract = None
        self.config = None
        self.deployed = None
        self.chamber = None
        self._lock_file = None
        self._events = []
        self._changed = threading.Condition()

    @property
    def port(self):
        return self.board.port if self.board else None

    def start(self, progress=None):
        """Start the board and deploy to it; returns deploy's report."""
        from host_tools.device.deploy import deploy, plan
        from host_tools.model.predict import load_model_folder
        from host_tools.power import DEFAULT_CONFIG, read_config
        from host_tools.virtual.board import VirtualBoard

        self.contract, _ = load_model_folder(self.model_dir)
        # as on a real board: deploy reports the config's problems, the firmware runs on
        self.config = read_config(self.config_path or DEFAULT_CONFIG, strict=False)[1]
        # What deploy refuses (a pin clash, a model unlike its sha256) is refused before
        # the board starts, as `smartbin deploy` refuses it before it opens the port.
        plan(self.firmware_dir, self.model_dir, self.config_path)
        self.chamber = Chamber(self._empty_scene())
        self._lock()
        self.board = VirtualBoard(self.board_dir, inference=self.inference,
                                  camera=self.chamber)
        self.board.listen(self.chamber.see)  # first: sort() reads events of a chamber up to date
        self.board.listen(self._record)
        self.board.start()
        self.deployed = deploy(self.board.port, self.firmware_dir, self.model_dir,
                               self.config_path, boot_seconds=60, progress=progress)
        return self.deployed

    def _empty_scene(self):
        if self.empty_photo is None:
            return None
        try:
            return self.scene_of(self.empty_photo)
        except SmartbinError as error:
            raise SmartbinError("the empty chamber's photo: %s" % error) from None

    def read_deployed(self):
        """The config and model contract on the board's flash now: a later `smartbin
        deploy --port` may have changed them (a retrained model, other lids)."""
        from host_tools import contract
        from host_tools.power import read_config

        flash = self.board.flash_dir
        self.config = read_config(flash / "config.json", strict=False)[1]
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

    @staticmethod
    def scene_of(photo):
        """The photo as a scene for the camera (SmartbinError for a file that is no
        readable photo)."""
        return host_contract.load_image(photo)

    def sort(self, photo, scene=None):
        """Put the item of `photo` (or its loaded `scene`) into the chamber, in front of
        the camera and at the sensor, and wait for the bin to serve it and fall asleep
        again; returns an Item. While a host tool holds the board, the item waits, as on
        a bin."""
        if scene is None:
            scene = self.scene_of(photo)
        self.read_deployed()  # the lids a deploy from another terminal may have changed
        self.chamber.put(scene)
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
    """What is put into a folder, each once, once its copy has ended; what is already there
    counts as new at the start. Sorted by name within one look. Hidden names (a copy in
    progress, .DS_Store) are not drops."""

    def __init__(self, folder, clock=time.monotonic):
        self.folder = Path(folder)
        self.clock = clock
        if self.folder.exists() and not self.folder.is_dir():
            raise SmartbinError("%s is a file; the drop folder must be a folder" % self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._taken = set()
        self._seen = {}  # name -> (shape, first seen with that shape)

    def ready(self):
        """Drops whose copy has ended and that were not handed out yet, as (path, problem):
        problem is None for a photo to sort, else why the bin cannot take it."""
        now = self.clock()
        ready = []
        try:
            entries = sorted(os.scandir(self.folder), key=lambda entry: entry.name)
        except OSError as error:
            raise SmartbinError("cannot read the drop folder %s: %s"
                                % (self.folder, error.strerror)) from None
        present = set()
        for entry in entries:
            if entry.name.startswith("."):
                continue
            present.add(entry.name)
            shape, problem = _drop_shape(entry)
            if shape is None:  # taken away again before we looked
                continue
            key = (entry.name,) + shape
            if key in self._taken:
                continue
            seen_shape, since = self._seen.get(entry.name, (None, now))
            if seen_shape != shape:
                self._seen[entry.name] = (shape, now)
                continue
            settle = _EMPTY_SETTLE_SECONDS if shape[0] == 0 else _SETTLE_SECONDS
            if now - since >= settle:
                self._taken.add(key)
                del self._seen[entry.name]
                ready.append((Path(entry.path), problem))
        for name in set(self._seen) - present:  # taken away before it settled
            del self._seen[name]
        return ready


def _drop_shape(entry):
    """(shape, problem) of a drop-folder entry: its shape changes when it is written again
    (a file's size and time; anything else is one drop however it changes); problem is None
    for a photo to try, else why the bin cannot take it. (None, None) if it is gone."""
    try:
        stat = entry.stat()
    except FileNotFoundError:
        if entry.is_symlink():
            return ("link",), "a link to nothing"
        return None, None
    except OSError as error:
        return ("unreadable",), "cannot look at it: %s" % error.strerror
    if entry.is_dir():
        return ("folder",), "a folder, not a photo (drop the photos themselves)"
    if not entry.is_file():
        return ("special",), "not a regular file"
    shape = (stat.st_size, stat.st_mtime_ns)
    if not is_image_name(entry.name):
        return shape, "not a photo file (the bin takes %s)" % ", ".join(
            suffix.lstrip(".") for suffix in IMAGE_SUFFIXES)
    if stat.st_size == 0:
        return shape, "an empty file (0 bytes)"
    return shape, None


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


def serve_drops(drop, virtual_bin, out, live=False):
    """One look into the drop folder: each new photo sorted by the bin and shown; each drop
    it cannot take named in one "skipped" line (it is handed out once, so never again)."""
    for photo, problem in drop.ready():
        if problem is None:
            try:
                scene = virtual_bin.scene_of(photo)
            except SmartbinError as error:
                problem = str(error)
        if problem is not None:
            out.write("%s: skipped: %s\n" % (photo.name, problem))
            out.flush()
            continue
        _show_item(virtual_bin, virtual_bin.sort(photo, scene), out, live)


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
    parser.add_argument("--empty", default=None, metavar="PHOTO",
                        help="a photo of your bin's empty chamber: what the camera sees "
                             "between items (default: a plain grey chamber)")
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
    from host_tools.device.deploy import warning_lines
    from host_tools.model.predict import default_model_dir

    out = sys.stdout
    live = out.isatty()
    drop = DropFolder(args.photos)
    virtual_bin = VirtualBin(args.board_dir, args.model or default_model_dir(), args.config,
                             empty_photo=args.empty)
    try:
        out.write("starting the virtual board and deploying the bin to it...\n")
        out.flush()
        report = virtual_bin.start(_deploy_progress() if sys.stderr.isatty() else None)
        out.write("port: %s\n" % virtual_bin.port)
        out.write("deployed %s: %d file(s) sent, %d unchanged, %.1f s\n"
                  % (report["model"], len(report["sent"]), len(report["unchanged"]),
                     report["seconds"]))
        for line in warning_lines(report):  # as `smartbin deploy` prints them
            out.write(line + "\n")
        out.write("drop photos into %s; from another terminal `smartbin monitor|pull|capture|"
                  "deploy|preview --port %s` work as on a board. Ctrl-C stops.\n"
                  % (drop.folder, virtual_bin.port))
        out.flush()
        while True:
            serve_drops(drop, virtual_bin, out, live)
            time.sleep(_POLL_SECONDS)
    except KeyboardInterrupt:
        if live:
            out.write("\n")
        out.write("stopped: the virtual bin is off\n")
        out.flush()
        return 0
    finally:
        virtual_bin.stop()
