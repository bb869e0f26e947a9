"""Helpers shared by the board-tooling tests."""
import hashlib
import json

LABELS = ["cardboard", "glass", "metal", "paper", "plastic", "trash"]


def write_model(folder, tflite=b"TFL3" + bytes(range(256)) * 8):
    """A model folder the host accepts (valid model.json, matching sha256)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.tflite").write_bytes(tflite)
    (folder / "model.json").write_text(json.dumps({
        "schema": 1, "labels": LABELS,
        "input": {"width": 96, "height": 96, "channels": 3, "colour_order": "RGB",
                  "resize": "bilinear", "dtype": "int8", "scale": 1.0, "zero_point": -128},
        "output": {"dtype": "int8", "scale": 0.00390625, "zero_point": -128},
        "tflite": "model.tflite", "flatbuffer_bytes": len(tflite),
        "sha256": hashlib.sha256(tflite).hexdigest(), "arena_bytes": 60000}, indent=1))
    return folder


class _LevelModel:
    """Picks class mean-pixel * 6 // 256: a test chooses the class by the frame it shows."""

    input_bytes = 96 * 96 * 3
    output_bytes = len(LABELS)

    def invoke(self, input_bytes):
        pixels = bytes((byte + 128) & 0xFF for byte in input_bytes)  # int8 back to 0..255
        best = (sum(pixels) // len(pixels)) * len(LABELS) // 256
        return bytes(0x7F if index == best else 0x80 for index in range(len(LABELS)))


class LevelInference:
    """Inference for the board tests' stand-in models (write_model's bytes are no
    flatbuffer): the frame's grey level decides the class."""

    def load(self, model_bytes, arena_bytes):
        if len(model_bytes) < 8 or arena_bytes <= 0:
            raise ValueError("not a TFLite flatbuffer")
        return _LevelModel()


def level_board(workdir, **options):
    """A virtual board whose microlite classifies by grey level (LevelInference)."""
    from host_tools.virtual.board import VirtualBoard

    return VirtualBoard(workdir, inference=LevelInference(), **options)
