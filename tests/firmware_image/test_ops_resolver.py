"""The image's TFLM operator list covers the models it must run."""
import importlib.util
from pathlib import Path

from .image_checks import (DEFAULT_MODEL_DIR, OPS_RESOLVER_CC, OPS_RESOLVER_H, missing_ops,
                           model_builtin_ops, resolver_capacity, resolver_ops)


def _models():
    # tflite-micro's own sine model always; the committed default model once it is there
    package = Path(list(importlib.util.find_spec("tflite_micro").submodule_search_locations)[0])
    models = [package / "python" / "tflite_micro" / "sine_float.tflite"]
    if (DEFAULT_MODEL_DIR / "model.tflite").is_file():
        models.append(DEFAULT_MODEL_DIR / "model.tflite")
    return models


def test_operator_list_fits_its_capacity_without_repeats():
    ops = resolver_ops(OPS_RESOLVER_CC.read_text())
    assert len(ops) == len(set(ops)) and ops == sorted(ops)
    assert 0 < len(ops) <= resolver_capacity(OPS_RESOLVER_H.read_text())


def test_models_use_only_registered_operators():
    registered = resolver_ops(OPS_RESOLVER_CC.read_text())
    for model in _models():
        ops = model_builtin_ops(model.read_bytes())
        assert ops, model
        assert missing_ops(ops, registered) == [], model


def test_an_unregistered_operator_is_reported():
    assert missing_ops({"CONV_2D", "PADV2", "RELU6", "LSTM"}, ["Conv2D", "PadV2", "Relu6"]) == ["LSTM"]
