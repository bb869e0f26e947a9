"""The board's reading of model.json (the host's `contract.py` writes it): labels, input
size, colour order, the pixel-to-int8 rule and the output quantisation. Nothing else in
the firmware states these facts."""
import json

from smartbin.isolate import settings_problem as isolate_problem

SCHEMA_VERSION = 1
COLOUR_ORDERS = {"RGB": 3, "GRAY": 1}


class ContractError(Exception):
    pass


# Limits past which a model.json is lying: the ESP32-CAM's PSRAM is 4 MiB, and no model
# for it takes more than a VGA-sized input.
MAX_INPUT_SIDE = 640
MAX_ARENA_BYTES = 4 * 1024 * 1024
RESIZE_METHODS = ("bilinear", "nearest")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    # value - value is 0 only for a finite number (inf - inf and nan - nan are nan).
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and value - value == 0)


def _int8_quantisation(block):
    return (isinstance(block, dict) and block.get("dtype") == "int8"
            and _is_number(block.get("scale")) and block["scale"] > 0
            and _is_int(block.get("zero_point")) and -128 <= block["zero_point"] <= 127)


def check(raw):
    """The rules a parsed model.json must follow, for the board and the host alike; raise
    ContractError naming the first broken one."""
    def need(condition, message):
        if not condition:
            raise ContractError("model.json: " + message)

    need(isinstance(raw, dict), "top level must be an object")
    need(raw.get("schema") == SCHEMA_VERSION,
         "unsupported schema %r (expected %d)" % (raw.get("schema"), SCHEMA_VERSION))
    labels = raw.get("labels")
    need(isinstance(labels, list) and len(labels) >= 2
         and all(isinstance(x, str) and x for x in labels) and len(set(labels)) == len(labels),
         "'labels' must be a list of at least two distinct names")
    model_input = raw.get("input")
    need(isinstance(model_input, dict), "'input' must be an object")
    for key in ("width", "height"):
        need(_is_int(model_input.get(key)) and 0 < model_input[key] <= MAX_INPUT_SIDE,
             "input.%s must be an integer from 1 to %d" % (key, MAX_INPUT_SIDE))
    need(model_input.get("colour_order") in COLOUR_ORDERS,
         "input.colour_order must be one of RGB, GRAY")
    need(COLOUR_ORDERS[model_input["colour_order"]] == model_input.get("channels")
         and _is_int(model_input["channels"]),
         "input.channels does not match input.colour_order")
    need(model_input.get("resize", "bilinear") in RESIZE_METHODS,
         "input.resize must be one of bilinear, nearest")
    need(_int8_quantisation(model_input),
         "input must give dtype int8, a positive scale and an int8 zero_point")
    output = raw.get("output")
    need(_int8_quantisation(output),
         "'output' must give dtype int8, a positive scale and an int8 zero_point")
    # Scores are confidences: the top int8 score must not dequantise past 1 (100%).
    need((127 - output["zero_point"]) * output["scale"] <= 1.001,
         "output quantisation gives confidences above 1 (scale %r, zero_point %r)"
         % (output["scale"], output["zero_point"]))
    need(_is_int(raw.get("arena_bytes")) and 0 < raw["arena_bytes"] <= MAX_ARENA_BYTES,
         "arena_bytes must be a positive integer up to %d" % MAX_ARENA_BYTES)
    sorting = raw.get("sorting", {})
    need(isinstance(sorting, dict), "'sorting' must be an object")
    threshold = sorting.get("threshold")
    need(threshold is None or (_is_number(threshold) and 0 <= threshold <= 1),
         "sorting.threshold must be a number from 0 to 1 (or null)")
    target = sorting.get("target_contamination")
    need(target is None or (_is_number(target) and 0 < target < 1),
         "sorting.target_contamination must be a number between 0 and 1")
    if raw.get("isolate") is not None:
        problem = isolate_problem(raw["isolate"], model_input["width"], model_input["height"])
        need(problem is None, problem)


class ModelContract:
    """Facts about the model, plus the 256-entry input table built once from them."""

    def __init__(self, raw):
        check(raw)
        model_input = raw["input"]
        output = raw["output"]
        scale = model_input["scale"]
        threshold = raw.get("sorting", {}).get("threshold")
        self.labels = raw["labels"]
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
        # find the item against the empty chamber first (smartbin/isolate.py); None: no
        self.isolate = raw.get("isolate")
        # what the camera captures: the model's input, or the larger isolate frame
        self.frame_width = self.isolate["frame_width"] if self.isolate else self.width
        self.frame_height = self.isolate["frame_height"] if self.isolate else self.height

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
    except (ValueError, RuntimeError, MemoryError):
        # RuntimeError: CPython's RecursionError and MicroPython's recursion limit on a
        # deeply nested file.
        raise ContractError("model.json: not valid JSON")
    return ModelContract(raw)
