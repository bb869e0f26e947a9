"""Shared helpers for the firmware tests: the firmware package on sys.path, a RAM flash
holding config.json / model.json / model.tflite, and a bin booted on fake hardware."""
import json
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = REPO_ROOT / "firmware"
if str(FIRMWARE) not in sys.path:
    sys.path.insert(0, str(FIRMWARE))

from sim.fake_microlite import FakeMicrolite  # noqa: E402
from sim.fakes import RamStorage, build_fake_hardware  # noqa: E402
from smartbin import config as config_module  # noqa: E402

LABELS = ["cardboard", "glass", "metal", "paper", "plastic", "trash"]
FAKE_MODEL = b"\x1c\x00\x00\x00TFL3" + bytes(56)


def contract_dict(width=96, height=96, colour_order="RGB", labels=LABELS, scale=1.0,
                  zero_point=-128):
    return {
        "schema": 1, "labels": list(labels),
        "input": {"width": width, "height": height,
                  "channels": 3 if colour_order == "RGB" else 1,
                  "colour_order": colour_order, "resize": "bilinear", "dtype": "int8",
                  "scale": scale, "zero_point": zero_point,
                  "pixel_rule": "int8 = pixel - 128"},
        "output": {"dtype": "int8", "scale": 1 / 256, "zero_point": -128},
        "tflite": "model.tflite", "arena_bytes": 60000,
    }


def flash_with(config_text=None, contract=None, model=FAKE_MODEL, storage=None):
    """A RAM flash as `smartbin deploy` leaves it on the board."""
    storage = storage if storage is not None else RamStorage()
    if config_text is None:
        config_text = (FIRMWARE / "config.json").read_text()
    if config_text is not False:
        storage.files["/config.json"] = config_text.encode()
    if contract is not False:
        storage.files["/model.json"] = json.dumps(contract or contract_dict()).encode()
    if model is not None:
        storage.files["/model.tflite"] = bytes(model)
    return storage


def frame_for_class(index, labels=len(LABELS), pixels=96 * 96):
    """An RGB565 frame the fake classifier puts in class `index` (by mean brightness)."""
    level = (256 * index + 128) // labels
    r5, g6, b5 = level >> 3, level >> 2, level >> 3
    value = (r5 << 11) | (g6 << 5) | b5
    return bytes([value >> 8, value & 0xFF]) * pixels


class Bin:
    """A booted bin on fake hardware: `.hw`, `.config`, `.storage`, `.run(wakes)`."""

    def __init__(self, storage, frames=(), wakes=("sensor",), reset_cause="power_on",
                 microlite=None, **hardware):
        from smartbin import app

        self.app = app
        self.storage = storage
        self.config = config_module.load(storage)
        self.hw = build_fake_hardware(self.config, frames=frames, wakes=wakes,
                                      reset_cause=reset_cause, storage=storage, **hardware)
        self.microlite = microlite if microlite is not None else FakeMicrolite()

    def run(self, wakes=1):
        # CPython's gc.collect() costs ~0.5 s once TensorFlow is loaded in the test process;
        # the MicroPython VM tests run the real collector.
        from host_tools.simulate import without_gc_pauses

        with without_gc_pauses():
            return self.app.main(self.hw, self.config, self.microlite, wakes=wakes)

    def counts(self):
        return json.loads(self.storage.read("/counts.json"))

    def errors(self):
        return (self.storage.read("/errors.log") or b"").decode()

    def moves(self):
        """[(lid name, t_open_start)] in time order, from the servo recordings."""
        moves = []
        for servo in self.hw.lids:
            if servo is None:
                continue
            previous = 0
            for t, pulse in servo.records:
                if pulse and pulse != servo_closed(self.config, servo.name) and not previous:
                    moves.append((t, servo.name))
                previous = pulse if pulse != servo_closed(self.config, servo.name) else 0
        return [name for _, name in sorted(moves)]


def servo_closed(config, name):
    for lid in config.lids:
        if lid["name"] == name:
            return lid["closed_us"]
    raise KeyError(name)


