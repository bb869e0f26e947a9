"""Board side of `smartbin preview` (the laptop's live view of the camera), called over the
REPL; nothing here runs at boot.

The devices are the application's own, built from the board's config, so the laptop sees
what the bin sees when it sorts. Each `frame()` prints the frame as base64 lines (a third
more bytes than the frame, where the REPL's repr of bytes takes about three times as
many) and returns its description; `stop()` leaves the bin as it was found: camera
off, flash LED off, every lid driven closed.
"""
import sys

try:
    from binascii import b2a_base64
except ImportError:  # MicroPython builds that name it ubinascii only
    from ubinascii import b2a_base64

from smartbin.lids import Lids

# Bytes per base64 line: 1 KiB of text. Short lines keep each conversion's buffer small.
_LINE_BYTES = 768


def _lit(led):
    # What the LED's pin is driven to, read back from the pin: the host shows the board's
    # state, not what it asked for.
    pin = getattr(led, "pin", None)
    if pin is None:  # no flash LED pin in the config (or a test's fake LED)
        return bool(getattr(led, "lit", False))
    return pin.value() != (1 if led.active_low else 0)


class Preview:
    """One preview session on hardware `hw` built from `config`."""

    def __init__(self, hw, config):
        self.hw = hw
        self.config = config
        self.size = None  # (width, height, grayscale) the camera runs at; None: off

    def _start_camera(self, width, height, grayscale):
        camera = self.hw.camera
        camera.off()
        camera.configure(width, height, grayscale)
        camera.on()
        self.size = (width, height, grayscale)
        for _ in range(self.config.warmup_frames):
            camera.capture()  # auto-exposure settles after power-up and size changes

    def frame(self, width, height, grayscale, flash):
        """Capture one frame (width x height, RGB565 or GRAY), the flash LED on or off;
        print it as base64 lines; return {"width", "height", "format", "bytes",
        "flash"} with the flash LED's state read back from its pin, or {"error", "flash"}
        when the camera failed."""
        hw = self.hw
        if flash:
            hw.flash_led.on()
        else:
            hw.flash_led.off()
        try:
            if self.size != (width, height, grayscale):
                self._start_camera(width, height, grayscale)
            frame = hw.camera.capture()
        except OSError as error:
            # a glitch is shown and the next frame starts the camera afresh
            self.size = None
            return {"error": "camera: %s" % (error,), "flash": _lit(hw.flash_led)}
        view = memoryview(frame)
        # bytes as they are: MicroPython's stdout takes them (CPython's, under test, by buffer)
        write = getattr(sys.stdout, "buffer", sys.stdout).write
        for start in range(0, len(frame), _LINE_BYTES):
            write(b2a_base64(view[start:start + _LINE_BYTES]))
        if hasattr(sys.stdout, "flush"):
            sys.stdout.flush()
        return {"width": width, "height": height, "format": "GRAY" if grayscale else "RGB565",
                "bytes": len(frame), "flash": _lit(hw.flash_led)}

    def stop(self):
        """Camera off, flash LED off, every lid closed; return {"camera_on", "flash"}, the
        flash LED as its pin reads afterwards."""
        hw = self.hw
        try:
            hw.camera.off()
            self.size = None
        finally:
            hw.flash_led.off()
            Lids(hw.lids, self.config, hw.clock, hw.power.feed_watchdog).close_all()
        # off() raises when the driver's deinit fails, so reaching here means it is off
        return {"camera_on": self.size is not None, "flash": _lit(hw.flash_led)}


_preview = None


def session(config_path="/config.json"):
    """The board's Preview, built once per REPL session from the board's config."""
    global _preview
    if _preview is None:
        from smartbin import board
        from smartbin import config as config_module
        from smartbin.storage import Storage

        storage = Storage()
        config = config_module.load(storage, config_path)
        # a latch-powered bin stays on while the laptop watches
        hardware = board.build_hardware(config, storage, board.hold_power(config))
        _preview = Preview(hardware, config)
    return _preview
