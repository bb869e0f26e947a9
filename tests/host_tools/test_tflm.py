"""TFLM in a child process: arena measurement, and crashes turned into one-line errors."""
import numpy as np
import pytest

from host_tools.model import backbones, export, tflm

from host_tools import contract
from host_tools.errors import SmartbinError
from ml_helpers import pipeline  # noqa: F401 (fixture)


def _model_bytes(pipeline):
    return (pipeline["model"] / "model.tflite").read_bytes()


def test_measured_arena_is_the_smallest_that_runs(pipeline):
    model_bytes = _model_bytes(pipeline)
    measured = tflm.run(model_bytes, measure_arena=True)["arena_bytes_min"]
    assert measured == contract.load(pipeline["model"])["arena_bytes_measured"]
    sample = np.zeros((1, 32, 32, 3), np.int8)
    assert tflm.run(model_bytes, sample, arena_bytes=measured)["outputs"].shape == (1, 3)
    with pytest.raises(SmartbinError, match="TFLM cannot run this model"):
        tflm.run(model_bytes, sample, arena_bytes=measured - 256)


def test_corrupted_flatbuffer_is_a_clear_error_not_a_dead_process(pipeline):
    broken = bytearray(_model_bytes(pipeline))
    broken[4:8] = b"JUNK"  # the flatbuffer identifier
    broken[0:4] = b"\xff\xff\xff\x7f"  # root table offset far outside the buffer
    with pytest.raises(SmartbinError, match="TFLM"):
        tflm.run(bytes(broken), measure_arena=True)


def test_truncated_flatbuffer_is_a_clear_error(pipeline):
    with pytest.raises(SmartbinError, match="TFLM"):
        tflm.run(_model_bytes(pipeline)[:200], measure_arena=True)


def test_a_model_that_aborts_tflm_becomes_an_error_and_the_caller_lives():
    # A softmax over a constant input: its int8 range collapses and TFLM aborts.
    keras = backbones.tensorflow().keras
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Rescaling(1 / 255.0)(inputs))
    outputs = keras.layers.Dense(3, activation="softmax", kernel_initializer="zeros",
                                 bias_initializer="zeros")(x)
    samples = np.random.default_rng(0).uniform(0, 255, (4, 8, 8, 3)).astype(np.float32)
    model_bytes = export.quantize(keras.Model(inputs, outputs), samples)
    with pytest.raises(SmartbinError, match="TFLM crashed"):
        tflm.run(model_bytes, np.zeros((1, 8, 8, 3), np.int8), measure_arena=True)


def test_an_aborted_child_is_reported_with_its_signal(tmp_path):
    stderr = tmp_path / "stderr.txt"
    stderr.write_text("some noise\nsoftmax.cc:55 output->params.scale == 1./256 was not true\n")
    message = tflm._describe_failure(-6, stderr)
    assert "SIGABRT" in message and "softmax.cc" in message


def test_arena_margin_is_at_least_2_kb_and_whole_kb():
    assert tflm.arena_with_margin(1000) == 3072
    assert tflm.arena_with_margin(100_000) % 1024 == 0
    assert tflm.arena_with_margin(100_000) >= 105_000
