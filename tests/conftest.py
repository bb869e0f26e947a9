"""Shared test fixtures: a tiny real int8 model, so no test needs a trained one."""
import pytest


@pytest.fixture(autouse=True)
def _environment_of_a_plain_terminal(monkeypatch):
    """Tests see the same environment wherever they run: CI runners set CI and often
    TERM=dumb, which switch the progress display to plain lines. A test about those
    switches sets them itself."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")


@pytest.fixture(scope="session")
def tiny_int8_model(tmp_path_factory):
    """A real full-int8 TFLite model (96x96x3 -> the six TrashNet labels) with its model.json,
    built with the TFLite converter in seconds, so tests never need a trained model."""
    import json

    import numpy as np
    import tensorflow as tf

    from host_tools.model.export import quantize

    labels = ["cardboard", "glass", "metal", "paper", "plastic", "trash"]

    tf.keras.utils.set_random_seed(7)
    inputs = tf.keras.Input((96, 96, 3))
    x = tf.keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = tf.keras.layers.Conv2D(8, 3, strides=4, activation="relu")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    outputs = tf.keras.layers.Dense(len(labels), activation="softmax")(x)
    model = tf.keras.Model(inputs, outputs)
    rng = np.random.default_rng(7)
    samples = rng.integers(0, 256, (16, 96, 96, 3)).astype(np.float32)
    samples[:, 0, 0] = [0, 255, 0]  # pin the input range to exactly 0..255
    flatbuffer = quantize(model, samples)
    interpreter = tf.lite.Interpreter(model_content=flatbuffer)
    in_scale, in_zero = interpreter.get_input_details()[0]["quantization"]
    out_scale, out_zero = interpreter.get_output_details()[0]["quantization"]
    contract = {
        "schema": 1, "labels": labels,
        "input": {"width": 96, "height": 96, "channels": 3, "colour_order": "RGB",
                  "resize": "bilinear", "dtype": "int8", "scale": float(in_scale),
                  "zero_point": int(in_zero), "pixel_rule": "int8 = pixel - 128"},
        "output": {"dtype": "int8", "scale": float(out_scale), "zero_point": int(out_zero)},
        "tflite": "model.tflite", "arena_bytes": 80000,
    }
    folder = tmp_path_factory.mktemp("tiny_model")
    (folder / "model.tflite").write_bytes(flatbuffer)
    (folder / "model.json").write_text(json.dumps(contract))
    return folder
