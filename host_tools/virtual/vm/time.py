"""Virtual time for the virtual board: sleeps return at once and the clocks jump ahead.

The application's waits (servo ramps, LED codes, settle times) would otherwise spin the
VM in real time; a board's code cannot tell the difference. Everything else is the
built-in `time` (this file overrides the extensible built-in module).
"""
import sys

_path = sys.path[:]
sys.path.clear()
_me = sys.modules.pop("time")
import time as _builtin  # noqa: E402  (the built-in, now that this file is out of the way)

sys.modules["time"] = _me
sys.path.extend(_path)
del _path, _me

for _name in dir(_builtin):
    if not _name.startswith("__"):
        globals()[_name] = getattr(_builtin, _name)

_offset_us = 0


def sleep_us(us):
    global _offset_us
    if us > 0:
        _offset_us += int(us)


def sleep_ms(ms):
    sleep_us(ms * 1000)


def sleep(seconds):
    sleep_us(seconds * 1000000)


def ticks_us():
    return _builtin.ticks_add(_builtin.ticks_us(), _offset_us)


def ticks_ms():
    return _builtin.ticks_add(_builtin.ticks_ms(), _offset_us // 1000)


def ticks_cpu():
    return ticks_us()


def time():
    return _builtin.time() + _offset_us // 1000000


def time_ns():
    return _builtin.time_ns() + _offset_us * 1000


def localtime(seconds=None):
    return _builtin.localtime(time() if seconds is None else seconds)


def gmtime(seconds=None):
    return _builtin.gmtime(time() if seconds is None else seconds)
