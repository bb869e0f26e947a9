"""Camera frame -> the model's int8 input, written in place into the input tensor's bytes.

Frames come straight from the sensor at the model's size: RGB565 big-endian (2 bytes per
pixel) for "RGB" models, one luma byte per pixel for "GRAY" ones. Each channel is widened
to 0..255 by bit replication and mapped through the contract's input table, exactly as the
host's `contract.rgb565_to_rgb888` + `contract.pixels_to_input` do. Output bytes hold the
int8 values as unsigned bytes (q & 0xFF), which is what a byte view of an int8 tensor holds.

`plain_rgb565` / `plain_gray` run everywhere; `preprocess_viper` holds their native twins
(used only when the firmware has the viper emitter; the VM and CPython run the plain ones).
No array library (the image has no ulab): every ESP32 build has the viper emitter, and the
viper loop writes straight into the tensor without allocating.

With model.json's "isolate" block the frame is larger than the input: `smartbin.isolate`
finds the item against the empty chamber and resizes only its box into the tensor.
"""
from smartbin.isolate import Isolator


def channel_tables(lut):
    """Tables indexed by the raw 5- and 6-bit fields, so a pixel costs three lookups."""
    five = bytearray(32)
    six = bytearray(64)
    for v in range(32):
        five[v] = lut[(v << 3) | (v >> 2)]
    for v in range(64):
        six[v] = lut[(v << 2) | (v >> 4)]
    return five, six


def plain_rgb565(frame, out, five, six, pixels):
    j = 0
    for i in range(0, pixels * 2, 2):
        hi = frame[i]
        lo = frame[i + 1]
        out[j] = five[hi >> 3]
        out[j + 1] = six[((hi & 7) << 3) | (lo >> 5)]
        out[j + 2] = five[lo & 31]
        j += 3


def plain_gray(frame, out, lut, pixels):
    for i in range(pixels):
        out[i] = lut[frame[i]]


def _native():
    try:
        from smartbin import preprocess_viper
        return preprocess_viper
    except (ImportError, SyntaxError, ValueError):
        # No viper emitter on this port (VM, CPython), or a precompiled native .mpy
        # that this port cannot load (a ValueError: "native code in .mpy unsupported").
        return None


class Preprocessor:
    """Built once from the contract; `run(frame, out)` allocates nothing."""

    def __init__(self, contract, allow_native=True):
        self.pixels = contract.width * contract.height
        self.rgb = contract.colour_order == "RGB"
        self.frame_bytes = self.pixels * (2 if self.rgb else 1)
        self.lut = contract.input_lut
        self.five, self.six = channel_tables(self.lut)
        native = _native() if allow_native else None
        self.native = native is not None
        self.isolator = None
        if contract.isolate is not None:
            self.isolator = Isolator(contract.isolate, contract.width, contract.height,
                                     self.rgb, allow_native)
            self.frame_bytes = self.isolator.frame_bytes
            self.tables = (self.five, self.six) if self.rgb else (self.lut,)
        if self.rgb:
            self._rgb565 = native.rgb565 if native else plain_rgb565
        else:
            self._gray = native.gray if native else plain_gray

    def run(self, frame, out):
        if len(frame) != self.frame_bytes:
            raise ValueError("frame size does not match the model input")
        if self.isolator is not None:
            self.isolator.prepare(frame)
            self.isolator.fill(frame, out, self.tables)
        elif self.rgb:
            self._rgb565(frame, out, self.five, self.six, self.pixels)
        else:
            self._gray(frame, out, self.lut, self.pixels)
