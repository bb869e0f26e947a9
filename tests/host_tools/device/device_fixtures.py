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
