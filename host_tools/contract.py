"""The model's input/output contract, `model.json`: the one place that says input size,
colour order, pixel-to-int8 rule and labels. The exporter writes it; everything else
(host evaluation, prediction, simulator, firmware) reads it.

Example::

    {
      "schema": 1,
      "labels": ["cardboard", "glass", "metal", "paper", "plastic", "trash"],
      "input": {"width": 96, "height": 96, "channels": 3,
                "colour_order": "RGB", "resize": "bilinear",
                "dtype": "int8", "scale": 1.0, "zero_point": -128,
                "pixel_rule": "int8 = pixel - 128 (pixel is the 0..255 RGB888 channel value)"},
      "output": {"dtype": "int8", "scale": 0.00390625, "zero_point": -128},
      "tflite": "model.tflite",
      "flatbuffer_bytes": 318000, "sha256": "...",
      "arena_bytes": 104000, "macs": 7000000,
      "sorting": {"threshold": 0.72, "target_contamination": 0.1, "target_met": true,
                  "coverage": 0.55, "contamination": 0.09, "min_coverage": 0.05,
                  "measured_on": "val subset of build/split.json (252 photos), int8 model",
                  "lids": "one per recycling class; ..."}
    }

Pixel rule. The model carries its own normalisation, so its int8 input is the camera's
0..255 channel value quantised with scale 1 and zero point -128: ``q = p - 128``. The
exporter refuses a model whose input quantisation is anything else. An RGB565 frame pixel
(big-endian, as esp32-camera delivers it) is first widened to RGB888 by bit replication:
``r8 = r5 << 3 | r5 >> 2``, ``g8 = g6 << 2 | g6 >> 4``, ``b8 = b5 << 3 | b5 >> 2``.
Grayscale models ("colour_order": "GRAY", 1 channel) take the sensor's luma byte; from an
RGB888 photo the host uses Pillow's ``convert("L")`` (ITU-R 601-2: L = R*299/1000 +
G*587/1000 + B*114/1000).

Sorting threshold. ``sorting.threshold`` is the confidence (0..1) the top class needs for
its recycling lid, recommended by the export: the lowest threshold at which at most
``target_contamination`` of the recycling-lid items of ``measured_on`` were in the wrong
lid (``target_met`` false: none was, it is the cleanest one instead; null: no
recommendation). The bin uses it unless its config.json sets ``decide.threshold``; a
model.json without it means 0.6. The other fields record how it was chosen.
"""
import json
from pathlib import Path

import numpy as np

from host_tools import atomic
from host_tools.firmware_modules import firmware_module
from host_tools.errors import SmartbinError

SCHEMA_VERSION = 1
MODEL_JSON = "model.json"
# channels per colour order, as the firmware reads them
COLOUR_ORDERS = firmware_module("model_contract").COLOUR_ORDERS


def input_lut(scale, zero_point):
    """The 256-entry table mapping a 0..255 channel value to the model's int8 input.

    ``q = floor(p / scale + 0.5) + zero_point``, clamped to int8. With the contract's
    scale 1 and zero point -128 this is exactly ``p - 128``.
    """
    pixels = np.arange(256, dtype=np.float64)
    q = np.floor(pixels / float(scale) + 0.5) + int(zero_point)
    return np.clip(q, -128, 127).astype(np.int8)


def validate(contract):
    """Check a parsed model.json with the firmware's own rules (smartbin/model_contract.py,
    so host and board accept the same files); return it, or raise SmartbinError naming the
    bad field."""
    board_contract = firmware_module("model_contract")
    try:
        board_contract.check(contract)
    except board_contract.ContractError as error:
        raise SmartbinError(str(error))
    return contract


def load(model_dir_or_file):
    """Read and validate model.json from a model folder (or the file itself)."""
    path = Path(model_dir_or_file)
    if path.is_dir():
        path = path / MODEL_JSON
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SmartbinError("no model contract at %s (run `smartbin export` first)" % path)
    except OSError as error:
        raise SmartbinError("cannot read %s: %s" % (path, error.strerror))
    try:
        contract = json.loads(text)
    except ValueError as error:
        raise SmartbinError("%s is not valid JSON: %s" % (path, error))
    except RecursionError:
        raise SmartbinError("%s is not valid JSON: nested too deeply" % path)
    return validate(contract)


def save(contract, model_dir):
    """Validate and write model.json into `model_dir` atomically."""
    validate(contract)
    atomic.write_text(Path(model_dir) / MODEL_JSON, json.dumps(contract, indent=2) + "\n")


def rgb565_to_rgb888(frame, width, height):
    """Widen a big-endian RGB565 frame (bytes, 2 per pixel) to an HxWx3 uint8 array."""
    raw = np.frombuffer(bytes(frame), dtype=">u2")
    if raw.size != width * height:
        raise SmartbinError("RGB565 frame has %d pixels, expected %dx%d"
                            % (raw.size, width, height))
    raw = raw.reshape(height, width).astype(np.uint16)
    r5 = (raw >> 11) & 0x1F
    g6 = (raw >> 5) & 0x3F
    b5 = raw & 0x1F
    rgb = np.stack([(r5 << 3) | (r5 >> 2), (g6 << 2) | (g6 >> 4), (b5 << 3) | (b5 >> 2)], axis=-1)
    return rgb.astype(np.uint8)


def rgb888_to_rgb565(rgb):
    """Pack an HxWx3 uint8 array into a big-endian RGB565 frame (what the camera sends)."""
    rgb = np.asarray(rgb, dtype=np.uint16)
    packed = ((rgb[..., 0] >> 3) << 11) | ((rgb[..., 1] >> 2) << 5) | (rgb[..., 2] >> 3)
    return packed.astype(">u2").tobytes()


def pixels_to_input(pixels, contract):
    """Turn an HxWxC uint8 array already at the model's size into the int8 input tensor."""
    model_input = contract["input"]
    pixels = np.asarray(pixels, dtype=np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    expected = (model_input["height"], model_input["width"], model_input["channels"])
    if pixels.shape != expected:
        raise SmartbinError("image is %s, the model expects %s" % (pixels.shape, expected))
    return input_lut(model_input["scale"], model_input["zero_point"])[pixels]


def image_to_pixels(image, contract):
    """Resize and colour-convert a Pillow image as the contract says; return uint8 HxWxC."""
    from PIL import Image

    model_input = contract["input"]
    mode = "RGB" if model_input["colour_order"] == "RGB" else "L"
    resample = Image.BILINEAR if model_input["resize"] == "bilinear" else Image.NEAREST
    image = image.convert("RGB").convert(mode)
    image = image.resize((model_input["width"], model_input["height"]), resample)
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels if pixels.ndim == 3 else pixels[..., None]


def load_image(path):
    """Open a photo the way every command does (data.images.open_photo): fully decoded,
    EXIF rotation applied, as 8-bit RGB."""
    from host_tools.data import images

    try:
        return images.open_photo(path)[0]
    except SmartbinError as error:
        raise SmartbinError("cannot read image %s: %s" % (path, error))


def image_file_to_input(path, contract):
    """Photo on disk -> int8 input tensor (HxWxC), exactly as the bin's model sees it."""
    return pixels_to_input(image_to_pixels(load_image(path), contract), contract)
