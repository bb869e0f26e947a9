"""Honest confidence: measure how well scores match accuracy, and fix it by temperature
scaling folded into the model.

Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks") divides
the logits by one number T, fitted to minimise the negative log-likelihood on held-out
photos. It never changes which class wins. Folded into the last Dense layer (kernel and
bias divided by T) it costs nothing on the board: the exported int8 model outputs the
calibrated scores itself.

ECE, the expected calibration error: items are binned by their top score into equal-width
bins; ECE is the item-weighted mean of |accuracy - mean top score| over the bins.
"""
import math

import numpy as np

from host_tools.errors import SmartbinError

ECE_BINS = 15
# The search range of T: below 0.05 or above 20 a model is broken, not miscalibrated.
TEMPERATURE_RANGE = (0.05, 20.0)
_LOG_T_RANGE = (math.log(TEMPERATURE_RANGE[0]), math.log(TEMPERATURE_RANGE[1]))
_SEARCH_STEPS = 80
# A score of exactly 0 (int8 output at its floor) would make the NLL infinite.
DEFAULT_PROBABILITY_FLOOR = 1e-7


def softmax(logits, temperature=1.0):
    """Row-wise softmax of logits / temperature, in float64."""
    z = np.asarray(logits, np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    exp = np.exp(z)
    return exp / exp.sum(axis=1, keepdims=True)


def negative_log_likelihood(probabilities, truth, floor=DEFAULT_PROBABILITY_FLOOR):
    """Mean -log(score of the true class); scores below `floor` count as `floor`."""
    probabilities = np.asarray(probabilities, np.float64)
    truth = np.asarray(truth, np.int64)
    true_scores = probabilities[np.arange(len(truth)), truth]
    return float(np.mean(-np.log(np.maximum(true_scores, floor))))


def _bin_index(confidence, bins):
    # bin m holds scores in ((m-1)/M, m/M]; a score of 0 joins the first bin
    return np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)


def reliability(probabilities, truth, bins=ECE_BINS):
    """Per bin of top score: its range, item count, mean top score and accuracy."""
    probabilities = np.asarray(probabilities, np.float64)
    truth = np.asarray(truth, np.int64)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    index = _bin_index(confidence, bins)
    rows = []
    for m in range(bins):
        inside = index == m
        count = int(inside.sum())
        rows.append({"low": round(m / bins, 4), "high": round((m + 1) / bins, 4),
                     "count": count,
                     "confidence": round(float(confidence[inside].mean()), 4) if count else None,
                     "accuracy": round(float(correct[inside].mean()), 4) if count else None})
    return rows


def expected_calibration_error(probabilities, truth, bins=ECE_BINS):
    """ECE over `bins` equal-width bins of the top score (0 for no items)."""
    probabilities = np.asarray(probabilities, np.float64)
    truth = np.asarray(truth, np.int64)
    if len(truth) == 0:
        return 0.0
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == truth).astype(np.float64)
    index = _bin_index(confidence, bins)
    gap = 0.0
    for m in range(bins):
        inside = index == m
        if inside.any():
            gap += inside.sum() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(gap / len(truth))


def figures(probabilities, truth, floor=DEFAULT_PROBABILITY_FLOOR, bins=ECE_BINS):
    """{"ece", "nll"} rounded for reports."""
    return {"ece": round(expected_calibration_error(probabilities, truth, bins), 4),
            "nll": round(negative_log_likelihood(probabilities, truth, floor), 4)}


def fit_temperature(logits, truth):
    """The T in [0.05, 20] minimising the NLL of softmax(logits / T) on (logits, truth).

    The NLL is convex in 1/T, so a golden-section search over log T finds the minimum.
    """
    logits = np.asarray(logits, np.float64)
    truth = np.asarray(truth, np.int64)
    if len(truth) == 0:
        raise SmartbinError("no photos to fit the temperature on")

    def loss(log_t):
        return negative_log_likelihood(softmax(logits, math.exp(log_t)), truth, 0.0)

    low, high = _LOG_T_RANGE
    ratio = (math.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    for _ in range(_SEARCH_STEPS):
        if loss_a <= loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = loss(b)
    return float(math.exp((low + high) / 2))


def at_search_limit(temperature):
    """True when a fitted T sits at the edge of the search range: at 20 the scores carry
    almost no information about these photos, at 0.05 the model is far too timid."""
    low, high = TEMPERATURE_RANGE
    return temperature <= low * 1.01 or temperature >= high * 0.99


# ---- the Keras model's head ---------------------------------------------------------------

def _is_softmax(activation):
    return getattr(activation, "__name__", "") == "softmax"


def _is_linear(activation):
    return activation is None or getattr(activation, "__name__", "") == "linear"


def score_layer(model):
    """The Dense layer whose output the model's final softmax turns into scores.

    Either the last layer is a Dense with a softmax activation, or it is a softmax layer
    (Softmax, or Activation("softmax")) fed directly by a Dense without activation. Any
    other head cannot take the temperature exactly, and is refused.
    """
    keras = _keras()
    last = model.layers[-1]
    if isinstance(last, keras.layers.Dense) and _is_softmax(last.activation):
        return last
    is_softmax_layer = isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and _is_softmax(last.activation))
    if is_softmax_layer and len(model.layers) >= 2:
        before = model.layers[-2]
        if isinstance(before, keras.layers.Dense) and _is_linear(before.activation) \
                and last.input is before.output:
            return before
    raise SmartbinError("cannot fold a temperature into this model: its scores do not come "
                        "from a Dense layer followed by a softmax (last layer: %s)"
                        % type(last).__name__)


def _keras():
    from host_tools.model import backbones

    return backbones.tensorflow().keras


def logits(model, pixels, batch_size=64):
    """The float model's logits (the score layer's input times its kernel, plus its bias),
    in float64, for uint8 pixels."""
    from host_tools.model import backbones

    keras = _keras()
    layer = score_layer(model)
    features_model = keras.Model(model.inputs, layer.input)
    with backbones.quiet_keras():
        features = np.asarray(features_model.predict(
            np.asarray(pixels, np.float32), batch_size=batch_size, verbose=0), np.float64)
    weights = [np.asarray(w, np.float64) for w in layer.get_weights()]
    scores = features @ weights[0]
    return scores + weights[1] if len(weights) > 1 else scores


def fold_temperature(model, temperature):
    """Divide the score layer's kernel and bias by `temperature`, in place: the model then
    outputs softmax(logits / temperature)."""
    if not temperature > 0:
        raise SmartbinError("the temperature must be positive, not %r" % temperature)
    layer = score_layer(model)
    layer.set_weights([(w / temperature).astype(w.dtype) for w in layer.get_weights()])
    return model
