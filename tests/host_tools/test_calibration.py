"""Honest confidence: ECE and NLL on known examples, the fitted temperature, and folding it
into a Keras model's last Dense layer without changing any decision."""
import math

import numpy as np
import pytest

from host_tools.model import backbones, calibration
from host_tools.errors import SmartbinError

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

# top scores 0.9, 0.9, 0.6, 0.6; the first 0.9 is right, the second wrong, both 0.6 right
KNOWN = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
KNOWN_TRUTH = np.array([0, 1, 0, 1])


def test_ece_on_a_known_example():
    # bin of 0.9: accuracy 0.5, gap 0.4; bin of 0.6: accuracy 1.0, gap 0.4 -> ECE 0.4
    assert calibration.expected_calibration_error(KNOWN, KNOWN_TRUTH, bins=10) == \
        pytest.approx(0.4)
    assert calibration.expected_calibration_error(KNOWN, np.array([0, 0, 0, 1]), bins=10) == \
        pytest.approx(0.5 * 0.1 + 0.5 * 0.4)
    bins = calibration.reliability(KNOWN, KNOWN_TRUTH, bins=10)
    assert [row["count"] for row in bins] == [0, 0, 0, 0, 0, 2, 0, 0, 2, 0]
    assert (bins[8]["confidence"], bins[8]["accuracy"]) == (0.9, 0.5)


def test_nll_on_a_known_example_with_a_floor_for_zero_scores():
    expected = -(math.log(0.9) + math.log(0.1) + 2 * math.log(0.6)) / 4
    assert calibration.negative_log_likelihood(KNOWN, KNOWN_TRUTH) == pytest.approx(expected)
    zero = np.array([[1.0, 0.0]])
    assert calibration.negative_log_likelihood(zero, np.array([1]), floor=1 / 512) == \
        pytest.approx(math.log(512))


def test_fitted_temperature_recovers_the_one_that_made_the_labels():
    rng = np.random.default_rng(3)
    logits = rng.normal(0, 3, (20000, 4))
    probabilities = calibration.softmax(logits, 2.0)
    truth = np.array([rng.choice(4, p=row) for row in probabilities])
    temperature = calibration.fit_temperature(logits, truth)
    assert temperature == pytest.approx(2.0, rel=0.05)
    before = calibration.expected_calibration_error(calibration.softmax(logits), truth)
    after = calibration.expected_calibration_error(calibration.softmax(logits, temperature),
                                                   truth)
    assert after < 0.02 < before
    assert not calibration.at_search_limit(temperature)


def test_labels_unrelated_to_the_scores_push_the_temperature_to_its_limit():
    rng = np.random.default_rng(4)
    logits = rng.normal(0, 3, (2000, 4))
    truth = rng.integers(0, 4, 2000)
    temperature = calibration.fit_temperature(logits, truth)
    assert calibration.at_search_limit(temperature) and temperature > 10


def _small_model(head="dense_softmax"):
    keras = backbones.tensorflow().keras
    keras.utils.set_random_seed(5)
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    if head == "dense_softmax":
        outputs = keras.layers.Dense(3, activation="softmax", name="scores")(x)
    elif head == "softmax_layer":
        outputs = keras.layers.Softmax()(keras.layers.Dense(3, name="scores")(x))
    else:
        outputs = keras.layers.Dense(3, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    scores = model.layers[-1] if head != "softmax_layer" else model.get_layer("scores")
    kernel, bias = scores.get_weights()
    scores.set_weights([kernel * 20, bias + np.array([0.5, -0.5, 0.0], np.float32)])
    return model


def _pixels():
    return np.random.default_rng(1).integers(0, 256, (32, 6, 6, 3)).astype(np.uint8)


@pytest.mark.parametrize("head", ["dense_softmax", "softmax_layer"])
def test_folding_the_temperature_softens_scores_and_keeps_every_decision(head):
    model = _small_model(head)
    pixels = _pixels()
    logits = calibration.logits(model, pixels)
    before = model.predict(pixels.astype(np.float32), verbose=0)
    np.testing.assert_allclose(calibration.softmax(logits), before, atol=1e-5)
    calibration.fold_temperature(model, 2.5)
    after = model.predict(pixels.astype(np.float32), verbose=0)
    np.testing.assert_allclose(after, calibration.softmax(logits, 2.5), atol=1e-5)
    assert (after.argmax(1) == before.argmax(1)).all()
    assert after.max(1).mean() < before.max(1).mean()  # softer
    np.testing.assert_allclose(calibration.logits(model, pixels), logits / 2.5, atol=1e-4)


def test_a_head_without_an_exact_fold_is_refused():
    with pytest.raises(SmartbinError, match="cannot fold a temperature"):
        calibration.fold_temperature(_small_model("sigmoid"), 2.0)
    with pytest.raises(SmartbinError, match="positive"):
        calibration.fold_temperature(_small_model(), 0.0)
