"""Inputs for the firmware on the unix build: photo-like camera frames, models with one
operator swapped, and the host's tflite-micro scores to compare against."""
import importlib.util
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from host_tools import contract as host_contract



def _schema():
    """TFLite's flatbuffer schema, as the tflite-micro package ships it."""
    root = Path(list(importlib.util.find_spec("tflite_micro").submodule_search_locations)[0])
    path = root / "tensorflow" / "lite" / "micro" / "python" / "schema_py_generated.py"
    spec = importlib.util.spec_from_file_location("smartbin_tflite_schema_unix", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def photo(seed, size=96):
    """A photo-like RGB picture: a lit background, a few blurred objects, sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = rng.integers(40, 200, 3)
    tilt = rng.normal(0, 60, 3)
    background = base + tilt * (0.6 * x + 0.4 * y)[..., None]
    picture = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    for _ in range(rng.integers(2, 5)):
        x0, y0 = rng.integers(0, size - 20, 2)
        x1, y1 = x0 + rng.integers(15, 60), y0 + rng.integers(15, 60)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    picture = picture.filter(ImageFilter.GaussianBlur(1.2))
    pixels = np.asarray(picture).astype(np.int16) + rng.normal(0, 6, (size, size, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8)


def rgb565_frame(pixels):
    """The camera's RGB565 big-endian frame of an RGB picture."""
    rgb = pixels.astype(np.uint16)
    value = ((rgb[..., 0] >> 3) << 11) | ((rgb[..., 1] >> 2) << 5) | (rgb[..., 2] >> 3)
    return value.astype(">u2").tobytes()


def host_scores(model_dir, frame):
    """int8 scores of tflite-micro (PyPI) for a frame, preprocessed by the host's contract."""
    from tflite_micro.python.tflite_micro import runtime

    contract = json.loads((model_dir / "model.json").read_text())
    pixels = host_contract.rgb565_to_rgb888(frame, contract["input"]["width"],
                                            contract["input"]["height"])
    tensor = host_contract.pixels_to_input(pixels, contract)[None]
    interpreter = runtime.Interpreter.from_bytes((model_dir / "model.tflite").read_bytes(),
                                                 arena_size=contract["arena_bytes"])
    interpreter.set_input(tensor, 0)
    interpreter.invoke()
    return interpreter.get_output(0).reshape(-1).tolist()


def with_operator_swapped(tflite_bytes, old_name, new_name):
    """The model with every use of builtin operator old_name turned into new_name (both
    opcode fields rewritten in place; the graph is unchanged)."""
    schema = _schema()
    old = getattr(schema.BuiltinOperator, old_name)
    new = getattr(schema.BuiltinOperator, new_name)
    assert max(old, new) < 127  # fits the deprecated int8 field too
    data = bytearray(tflite_bytes)
    model = schema.Model.GetRootAs(data, 0)
    swapped = 0
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) != old:
            continue
        table = code._tab
        for vtable_slot, width in ((4, 1), (10, 4)):  # deprecated_builtin_code, builtin_code
            offset = table.Offset(vtable_slot)
            if offset:
                data[table.Pos + offset:table.Pos + offset + width] = new.to_bytes(width, "little", signed=True)
        swapped += 1
    assert swapped, "%s not in the model" % old_name
    return bytes(data)
