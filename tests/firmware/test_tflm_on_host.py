"""The firmware's classifier on the real TFLM kernels (PyPI tflite-micro through
host_tools.microlite_shim): same scores as tflite-micro fed by the host's contract."""
import json

import numpy as np
import pytest

from firmware_unix.frames import host_scores
from host_tools import microlite_shim
from smartbin.classifier import Classifier
from smartbin.model_contract import ModelContract
from smartbin.preprocess import Preprocessor

from .helpers import LABELS, flash_with
from .test_preprocess_parity import random_frame


def firmware_classifier(model_dir, with_buffer=True):
    contract = ModelContract(json.loads((model_dir / "model.json").read_text()))
    model = bytearray((model_dir / "model.tflite").read_bytes())
    classifier = Classifier(microlite_shim, model, contract)
    if not with_buffer:  # firmware without the bulk path: per-element setValue
        classifier.staging = bytearray(contract.input_bytes)
        classifier.input_view = classifier.staging
    return classifier, Preprocessor(contract, allow_native=False)


@pytest.mark.parametrize("with_buffer", [True, False], ids=["buffer", "setValue"])
def test_firmware_classifier_scores_like_tflite_micro_on_the_host(tiny_model, with_buffer):
    classifier, preprocessor = firmware_classifier(tiny_model, with_buffer)
    for seed in (11, 12):
        frame = random_frame(seed, 96 * 96)
        preprocessor.run(frame, classifier.input_view)
        classifier.classify()
        expected = host_scores(tiny_model, frame)
        assert classifier.scores == expected
        assert classifier.best == int(np.argmax(expected))


def test_shim_buffer_is_a_writable_view_of_the_input_tensor(tiny_model):
    model = bytearray((tiny_model / "model.tflite").read_bytes())
    calls = []
    interpreter = microlite_shim.interpreter(model, 80000, calls.append, calls.append)
    tensor = interpreter.getInputTensor(0)
    view = tensor.buffer()
    assert len(view) == 96 * 96 * 3 and view.format == "B"
    view[5] = 0xFF
    assert tensor.getValue(5) == -1 and tensor.getType() == "int8"
    assert interpreter.invoke() == 0 and calls == [interpreter, interpreter]
    assert -128 <= interpreter.getOutputTensor(0).getValue(0) <= 127


def test_shim_refuses_bytes_and_a_too_small_arena(tiny_model):
    flatbuffer = (tiny_model / "model.tflite").read_bytes()
    with pytest.raises(TypeError):
        microlite_shim.interpreter(flatbuffer, 80000, None, None)
    from host_tools.errors import SmartbinError
    with pytest.raises(SmartbinError):
        microlite_shim.interpreter(bytearray(flatbuffer), 4096, None, None)
    with pytest.raises(SmartbinError):
        microlite_shim.interpreter(bytearray(flatbuffer), 64, None, None)


def test_the_whole_bin_sorts_with_real_kernels(tiny_model, make_bin):
    contract = json.loads((tiny_model / "model.json").read_text())
    frames = [random_frame(seed, 96 * 96) for seed in (21, 22, 23)]
    storage = flash_with(contract=contract, model=(tiny_model / "model.tflite").read_bytes())
    smart_bin = make_bin(storage, frames=frames, wakes=["sensor"] * 3, microlite=microlite_shim)
    bin_state = smart_bin.run(wakes=3)
    assert bin_state.classifier is not None
    expected = [LABELS[int(np.argmax(host_scores(tiny_model, f)))] for f in frames]
    counts = smart_bin.counts()
    assert counts["items"] == 3
    assert sum(counts["classes"].values()) == 3
    for label in set(expected):
        assert counts["classes"].get(label, 0) == expected.count(label)
