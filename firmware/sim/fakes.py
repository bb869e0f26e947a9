"""Fake devices with the same small interfaces as `smartbin.board` (see its docstring).
They run under CPython and MicroPython, record what happened on a simulated timeline, and
can be told to fail.

Constructors (all keyword arguments optional except where noted):
  FakeClock(start_ms=0, epoch=1767225600)     sleep_ms advances simulated time; nothing waits
  FakeCamera(clock, frames=(), start_ms=0, frame_ms=0)
      frames: buffers (bytes/bytearray) or file paths of raw sensor frames (RGB565
      big-endian or GRAY8, the model's size). Each on() moves to the next frame (one frame
      per item); every capture() while on returns it, copied into the camera's own buffer.
      show(frame) sets the frame for the next on(); fail_captures(n) makes the next n
      captures raise OSError; broken=True makes every capture fail.
  FakeServo(clock, name="")                    records (t_ms, pulse_us), pulse 0 = stopped
  FakeLed(clock, name="")                      records (t_ms, 1/0)
  FakeWake(reasons=("sensor",), active_ms=0, clock=None)
      reason() returns the reasons in turn ("timer" when they run out); active() is True for
      active_ms after each reason() (a PIR holding its output high); arm(sensor) records
      whether the sensor wake was armed (`armed_sensor`).
  FakePower(clock, reset_cause="power_on", sleep_ms=60000, wake=None)
      deep_sleep() arms the wake sources, records the sleep, advances the clock by sleep_ms,
      and makes the next reset cause "deep_sleep"; deep_sleep_for(ms) does the same with
      the sensor unarmed and the clock advanced by ms (also in `timer_sleeps`). Like the
      level-triggered ext0 wake, a sensor armed while active counts an `instant_wakes`.
      The watchdog records a timeout when fed too late.
  RamStorage(capacity_bytes=4000000, supply=None)   files in RAM with smartbin.storage's
      API; full=True (or going over capacity) raises OSError(ENOSPC) on writes. Like
      Storage, a write lands in "<path>.tmp" and is then renamed over the file.
  FakeLatch(clock, wake=None, cuts_power=True)  the power latch's keep-alive: records
      (t_ms, "hold" | "release"); release() with the sensor idle cuts the power (raises
      PowerCut) unless cuts_power=False (a board fed over USB).
  FakeSupply(cut_at=0)                         the battery as seen by a power-cut test:
      every device call and every flash step (temp write, rename, append, remove) is a
      numbered step (so is reading the model); step number `cut_at` raises PowerCut
      before it happens. `steps` names them.
  PowerCut                                      a BaseException: no `except Exception` in
      the firmware catches it, as no code runs on after a real power cut.
  build_fake_hardware(config, ...)             all of the above, wired like the board.
"""
from smartbin.board import Hardware

ENOSPC = 28
_MAX_RECORDS = 2000  # bound the recordings so long runs do not eat the VM's heap


class PowerCut(BaseException):
    pass


class FakeSupply:
    def __init__(self, cut_at=0):
        self.cut_at = cut_at
        self.count = 0
        self.steps = []

    def step(self, what):
        self.count += 1
        _record(self.steps, what)
        if self.count == self.cut_at:
            raise PowerCut("power cut at step %d (%s)" % (self.count, what))


def _step(supply, what):
    if supply is not None:
        supply.step(what)


def _record(records, item):
    if len(records) >= _MAX_RECORDS:
        records.pop(0)
    records.append(item)


class FakeClock:
    def __init__(self, start_ms=0, epoch=1767225600):
        self.now_ms = start_ms
        self.epoch = epoch

    def ticks_ms(self):
        return self.now_ms

    def sleep_ms(self, ms):
        self.now_ms += ms

    advance = sleep_ms

    def time(self):
        return self.epoch + self.now_ms // 1000


class FakeCamera:
    def __init__(self, clock, frames=(), start_ms=0, frame_ms=0, supply=None):
        self.clock = clock
        self.supply = supply
        self.frames = list(frames)
        self.next_frame = None
        self.start_ms = start_ms
        self.frame_ms = frame_ms
        self.is_on = False
        self.buffer = None
        self.width = 96
        self.height = 96
        self.grayscale = False
        self.captures = 0
        self.power_ups = 0
        self.failures_left = 0
        self.broken = False
        self.records = []  # (t_ms, "on" | "off" | "capture")

    def configure(self, width, height, grayscale):
        self.width = width
        self.height = height
        self.grayscale = grayscale
        self.buffer = bytearray(width * height * (1 if grayscale else 2))

    def show(self, frame):
        self.next_frame = frame

    def fail_captures(self, count):
        self.failures_left = count

    def on(self):
        if self.is_on:
            return
        _step(self.supply, "camera on")
        if self.buffer is None:
            self.configure(self.width, self.height, self.grayscale)
        frame = self.next_frame
        if frame is None and self.frames:
            frame = self.frames.pop(0)
        self.next_frame = None
        if frame is not None:
            if isinstance(frame, str):
                with open(frame, "rb") as f:
                    frame = f.read()
            if len(frame) != len(self.buffer):
                raise ValueError("fake frame has %d bytes, the camera makes %d"
                                 % (len(frame), len(self.buffer)))
            self.buffer[:] = frame
        self.is_on = True
        self.power_ups += 1
        self.clock.advance(self.start_ms)
        _record(self.records, (self.clock.ticks_ms(), "on"))

    def capture(self):
        if not self.is_on:
            raise OSError("camera is off")
        _step(self.supply, "capture")
        self.clock.advance(self.frame_ms)
        if self.broken or self.failures_left > 0:
            if self.failures_left > 0:
                self.failures_left -= 1
            raise OSError("fake capture failure")
        self.captures += 1
        return self.buffer

    def off(self):
        if self.is_on:
            self.is_on = False
            _record(self.records, (self.clock.ticks_ms(), "off"))


class FakeServo:
    def __init__(self, clock, name="", supply=None):
        self.clock = clock
        self.supply = supply
        self.name = name
        self.pulse = 0
        self.records = []

    def pulse_us(self, us):
        if us < 400 or us > 2600:
            raise ValueError("servo pulse out of range: %d us" % us)
        _step(self.supply, "servo " + self.name)
        self.pulse = us
        _record(self.records, (self.clock.ticks_ms(), us))

    def stop(self):
        if self.pulse:
            self.pulse = 0
            _record(self.records, (self.clock.ticks_ms(), 0))

    park = stop  # the board also holds the pin low through deep sleep


class FakeLed:
    def __init__(self, clock, name=""):
        self.clock = clock
        self.name = name
        self.lit = False
        self.records = []

    def on(self):
        self.lit = True
        _record(self.records, (self.clock.ticks_ms(), 1))

    def off(self):
        if self.lit:
            self.lit = False
            _record(self.records, (self.clock.ticks_ms(), 0))

    park = off  # the board also holds it off through deep sleep

    def blinks(self):
        return sum(1 for _, state in self.records if state == 1)


class FakeWake:
    def __init__(self, reasons=("sensor",), active_ms=0, clock=None):
        self.reasons = list(reasons)
        self.active_ms = active_ms
        self.clock = clock
        self.active_until = -1
        self.armed_sensor = None

    def reason(self):
        if self.clock is not None:
            self.active_until = self.clock.ticks_ms() + self.active_ms
        return self.reasons.pop(0) if self.reasons else "timer"

    def active(self):
        return self.clock is not None and self.clock.ticks_ms() < self.active_until

    def arm(self, sensor=True):
        self.armed_sensor = sensor


class FakePower:
    def __init__(self, clock, reset_cause="power_on", sleep_ms=60000, wake=None):
        self.clock = clock
        self.cause = reset_cause
        self.sleep_ms = sleep_ms
        self.wake = wake
        self.sleeps = []  # t_ms at which deep sleep started
        self.timer_sleeps = []  # (t_ms, ms) of the sleeps with the sensor unarmed
        self.instant_wakes = 0
        self.watchdog_ms = 0
        self.last_feed = 0
        self.watchdog_timeouts = 0

    def reset_cause(self):
        return self.cause

    def start_watchdog(self, timeout_ms):
        self.watchdog_ms = timeout_ms
        self.last_feed = self.clock.ticks_ms()

    def feed_watchdog(self):
        now = self.clock.ticks_ms()
        if self.watchdog_ms and now - self.last_feed > self.watchdog_ms:
            self.watchdog_timeouts += 1
        self.last_feed = now

    def deep_sleep(self):
        if self.wake is not None:
            self.wake.arm(sensor=True)
            if self.wake.active():
                self.instant_wakes += 1  # a board would be awake again at once
        self._sleep(self.sleep_ms)

    def deep_sleep_for(self, ms):
        if self.wake is not None:
            self.wake.arm(sensor=False)
        _record(self.timer_sleeps, (self.clock.ticks_ms(), ms))
        self._sleep(ms)

    def _sleep(self, ms):
        self.feed_watchdog()
        _record(self.sleeps, self.clock.ticks_ms())
        self.clock.advance(ms)
        self.cause = "deep_sleep"
        self.last_feed = self.clock.ticks_ms()


class FakeLatch:
    def __init__(self, clock, wake=None, cuts_power=True, supply=None):
        self.clock = clock
        self.wake = wake
        self.cuts_power = cuts_power
        self.supply = supply
        self.held = True  # asserted when made, as board.PowerLatch
        self.records = []

    def hold(self):
        _step(self.supply, "keep-alive on")
        self.held = True
        _record(self.records, (self.clock.ticks_ms(), "hold"))

    def release(self):
        _step(self.supply, "keep-alive off")
        self.held = False
        _record(self.records, (self.clock.ticks_ms(), "release"))
        if self.cuts_power and not (self.wake is not None and self.wake.active()):
            raise PowerCut("keep-alive released")

    def park(self):
        self.held = False


class RamStorage:
    """A tiny RAM filesystem with smartbin.storage.Storage's methods."""

    def __init__(self, capacity_bytes=4000000, supply=None):
        self.supply = supply
        self.files = {}
        self.dirs = ["/"]
        self.capacity_bytes = capacity_bytes
        self.full = False
        self.fail_renames = False  # power cut between the temp write and the rename

    def used(self):
        total = 0
        for name in self.files:
            total += len(self.files[name])
        return total

    def _check_room(self, extra):
        if self.full or self.used() + extra > self.capacity_bytes:
            raise OSError(ENOSPC)

    def read(self, path):
        data = self.files.get(path)
        return None if data is None else bytes(data)

    def readinto(self, path, buffer):
        data = self.files.get(path)
        if data is None:
            raise OSError(2)
        _step(self.supply, "read " + path)
        count = min(len(buffer), len(data))
        buffer[:count] = data[:count]
        return count

    def write(self, path, data):
        self.write_into(path, (data,))

    def write_into(self, path, parts):
        data = b"".join(bytes(part) for part in parts)
        old = len(self.files.get(path, b""))
        self._check_room(len(data) - old if len(data) > old else 0)
        _step(self.supply, "write " + path + ".tmp")
        self.files[path + ".tmp"] = data
        if self.fail_renames:
            raise OSError(5)
        _step(self.supply, "rename " + path)
        self.files[path] = self.files.pop(path + ".tmp")

    def append(self, path, data):
        self._check_room(len(data))
        _step(self.supply, "append " + path)
        self.files[path] = self.files.get(path, b"") + bytes(data)

    def size(self, path):
        data = self.files.get(path)
        return -1 if data is None else len(data)

    def exists(self, path):
        return path in self.files

    def remove(self, path):
        if path in self.files:
            _step(self.supply, "remove " + path)
            del self.files[path]

    def listdir(self, path):
        prefix = path.rstrip("/") + "/"
        names = []
        for name in self.files:
            if name.startswith(prefix) and "/" not in name[len(prefix):]:
                names.append(name[len(prefix):])
        return sorted(names)

    def mkdir(self, path):
        if path not in self.dirs:
            self.dirs.append(path)


def build_fake_hardware(config, frames=(), wakes=("sensor",), reset_cause="power_on",
                        storage=None, clock=None, camera_start_ms=0, frame_ms=0,
                        sleep_ms=60000, active_ms=0, supply=None, cuts_power=True):
    """A Hardware object of fakes, one FakeServo per configured lid (None without a pin);
    a FakeLatch when config.latch. `supply` (a FakeSupply) numbers the steps of the
    devices and of `storage` (give the same supply to the RamStorage)."""
    clock = clock if clock is not None else FakeClock()
    servos = [FakeServo(clock, lid["name"], supply) if lid["pin"] >= 0 else None
              for lid in config.lids]
    wake = FakeWake(wakes, active_ms=active_ms, clock=clock)
    latch = FakeLatch(clock, wake, cuts_power, supply) if config.latch else None
    return Hardware(
        camera=FakeCamera(clock, frames, start_ms=camera_start_ms, frame_ms=frame_ms,
                          supply=supply),
        lids=servos, wake=wake,
        status_led=FakeLed(clock, "status"), flash_led=FakeLed(clock, "flash"),
        clock=clock, power=FakePower(clock, reset_cause, sleep_ms, wake),
        storage=storage if storage is not None else RamStorage(), latch=latch)
