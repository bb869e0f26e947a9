"""The board's reading of model.json (the host's `contract.py` writes it): labels, input
size, colour order, the pixel-to-int8 rule and the output quantisation. Nothing else in
the firmware states these facts."""
import json

SCHEMA_VERSION = 1
_CHANNELS = {"RGB": 3, "GRAY": 1}


class ContractError(Exception):
    pass


class ModelContract:
    """Facts about the model, plus the 256-entry input table built once from them."""

    def __init__(self, raw):
        def need(condition, message):
            if not condition:
                raise ContractError("model.json: " + message)

        need(isinstance(raw, dict) and raw.get("schema") == SCHEMA_VERSION,
             "unsupported schema")
        labels = raw.get("labels")
        need(isinstance(labels, list) and len(labels) >= 2
             and all(isinstance(x, str) and x for x in labels), "bad labels")
        model_input = raw.get("input")
        need(isinstance(model_input, dict), "input must be an object")
        for key in ("width", "height", "channels", "zero_point"):
            need(isinstance(model_input.get(key), int), "input.%s must be an integer" % key)
        need(model_input.get("colour_order") in _CHANNELS, "bad input.colour_order")
        need(_CHANNELS[model_input["colour_order"]] == model_input["channels"],
             "input.channels does not match colour_order")
        need(model_input.get("dtype") == "int8", "input.dtype must be int8")
        scale = model_input.get("scale")
        need(isinstance(scale, (int, float)) and scale > 0, "bad input.scale")
        output = raw.get("output")
        need(isinstance(output, dict) and output.get("dtype") == "int8"
             and isinstance(output.get("scale"), (int, float)) and output["scale"] > 0
             and isinstance(output.get("zero_point"), int), "bad output quantisation")
        need(isinstance(raw.get("arena_bytes"), int) and raw["arena_bytes"] > 0,
             "bad arena_bytes")
        sorting = raw.get("sorting", {})
        need(isinstance(sorting, dict), "sorting must be an object")
        threshold = sorting.get("threshold")
        need(threshold is None or (isinstance(threshold, (int, float))
                                   and not isinstance(threshold, bool)
                                   and 0 <= threshold <= 1), "bad sorting.threshold")
        self.labels = labels
        self.width = model_input["width"]
        self.height = model_input["height"]
        self.channels = model_input["channels"]
        self.colour_order = model_input["colour_order"]
        self.input_scale = float(scale)
        self.input_zero_point = model_input["zero_point"]
        self.output_scale = float(output["scale"])
        self.output_zero_point = output["zero_point"]
        self.arena_bytes = raw["arena_bytes"]
        # the export's recommended confidence threshold (None: the model names none)
        self.threshold = threshold
        self.input_lut = input_lut(self.input_scale, self.input_zero_point)

    @property
    def input_bytes(self):
        return self.width * self.height * self.channels

    def confidence(self, score):
        """Dequantise one int8 output score to 0..1."""
        return (score - self.output_zero_point) * self.output_scale

    def score_at_least(self, confidence):
        """The smallest int8 score whose confidence reaches `confidence` (128: none does).

        Deciding on int8 scores keeps floats out of the hot path."""
        for score in range(-128, 128):
            if self.confidence(score) >= confidence:
                return score
        return 128


def input_lut(scale, zero_point):
    """bytearray: channel value 0..255 -> int8 input as an unsigned byte (q & 0xFF).

    Same rule as the host: q = floor(p / scale + 0.5) + zero_point, clamped to int8;
    with the contract's scale 1 and zero point -128 it is p - 128."""
    lut = bytearray(256)
    for pixel in range(256):
        q = int(pixel / scale + 0.5) + zero_point
        q = -128 if q < -128 else (127 if q > 127 else q)
        lut[pixel] = q & 0xFF
    return lut


def load(storage, path):
    """Read and check model.json; raise ContractError with a one-line reason."""
    text = storage.read(path)
    if text is None:
        raise ContractError("model.json: missing at " + path)
    try:
        raw = json.loads(text)
    except ValueError:
        raise ContractError("model.json: not valid JSON")
    return ModelContract(raw)
