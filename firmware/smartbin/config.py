"""Read config.json once at boot and validate it: every bad or missing value becomes a safe
default plus a line in `problems` (the app blinks an error code), never a crash loop.
No other module reads the config file; they all receive this object."""
import json

from smartbin import pin_owners
from smartbin.lids import PULSE_MAX_US, PULSE_MIN_US

_MAX_LIDS = 6
# ext0 wake needs an RTC GPIO.
_RTC_PINS = (0, 2, 4, 12, 13, 14, 15, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39)

# (section, key, attribute, default, low, high); a None section is the top level.
_NUMBERS = (
    ("servo", "ramp_ms", "ramp_ms", 400, 0, 5000),
    ("servo", "gentle_ramp_ms", "gentle_ramp_ms", 1200, 0, 10000),
    ("servo", "step_ms", "step_ms", 20, 5, 200),
    ("servo", "hold_open_ms", "hold_open_ms", 2500, 0, 20000),
    ("servo", "settle_ms", "settle_ms", 200, 0, 2000),
    ("servo", "pause_between_ms", "pause_between_ms", 100, 0, 5000),
    ("servo", "gentle_items", "gentle_items", 50, 1, 10000),
    ("camera", "warmup_frames", "warmup_frames", 2, 0, 10),
    ("camera", "xclk_hz", "xclk_hz", 20000000, 5000000, 20000000),
    ("sleep", "wait_idle_ms", "wait_idle_ms", 3000, 0, 60000),
    ("sleep", "busy_sensor_sleep_ms", "busy_sensor_sleep_ms", 60000, 1000, 3600000),
    (None, "watchdog_ms", "watchdog_ms", 30000, 10000, 120000),
    ("debug", "max_frames", "debug_max_frames", 20, 0, 500),
    ("debug", "max_bytes", "debug_max_bytes", 600000, 0, 2000000),
    ("errors", "max_bytes", "errors_max_bytes", 8192, 512, 65536),
    ("power", "release_wait_ms", "release_wait_ms", 8000, 0, 120000),
    ("power", "off_fallback_ms", "off_fallback_ms", 2000, 100, 10000),
)
_BOOLS = (
    ("decide", "recapture", "recapture", True),
    ("camera", "flash", "flash", False),
)
_PATHS = (
    ("model", "tflite", "model_path", "/model.tflite"),
    ("model", "contract", "contract_path", "/model.json"),
    ("debug", "dir", "debug_dir", "/debug"),
    ("errors", "path", "errors_path", "/errors.log"),
    ("counts", "path", "counts_path", "/counts.json"),
)
_PINS = {
    "wake": 13, "wake_level": 1, "button": -1, "camera_power": 32, "flash_led": 4,
    "status_led": 33, "status_led_active_low": True,
    "camera_data": [5, 18, 19, 21, 36, 39, 34, 35], "camera_xclk": 0, "camera_pclk": 22,
    "camera_vsync": 25, "camera_href": 23, "camera_sda": 26, "camera_scl": 27,
    "camera_reset": -1,
}
_DEFAULT_LIDS = (("paper", 14), ("containers", 15), ("general", 2))
_DEFAULT_CLASS_TO_LID = {
    "cardboard": "paper", "paper": "paper", "glass": "containers", "metal": "containers",
    "plastic": "containers", "trash": "general",
}
POWER_MODES = ("deep_sleep", "latch")
# The keep-alive of the latch (docs/power-latch.md): GPIO12 is free on the AI-Thinker board
# and, driven active-high, is low at reset as that strapping pin needs.
_KEEP_ALIVE_PIN = 12
_KNOWN_KEYS = ("schema", "model", "decide", "lids", "class_to_lid", "servo", "camera",
               "pins", "sleep", "watchdog_ms", "debug", "errors", "counts", "power")


class Config:
    """Validated settings as attributes; `problems` lists what was replaced by a default."""

    def __init__(self):
        self.problems = []


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return (_is_int(value) or isinstance(value, float)) and not isinstance(value, bool)


def _section(raw, name, problems):
    if name is None:
        return raw
    value = raw.get(name, {})
    if not isinstance(value, dict):
        problems.append(name + ": not an object")
        return {}
    return value


def _threshold(decide, problems):
    """decide.threshold, or None: use the threshold the model recommends (model.json)."""
    value = decide.get("threshold")
    if value is None or (_is_number(value) and 0.0 <= value <= 1.0):
        return value
    problems.append("threshold: must be a number in 0.0..1.0 (or absent: the model's)")
    return None


def _lid(raw, index, problems):
    name, pin = _DEFAULT_LIDS[index] if index < len(_DEFAULT_LIDS) else ("lid%d" % index, -1)
    lid = {"name": name, "pin": pin, "closed_us": 1000, "open_us": 2000}
    if not isinstance(raw, dict):
        problems.append("lids[%d]: not an object" % index)
        return lid
    if isinstance(raw.get("name"), str) and raw["name"]:
        lid["name"] = raw["name"]
    else:
        problems.append("lids[%d].name: missing" % index)
    if _is_int(raw.get("pin")):
        lid["pin"] = raw["pin"]  # judged with every other pin in pin_owners
    else:
        problems.append("lids[%d].pin: must be a GPIO number" % index)
    for key in ("closed_us", "open_us"):
        value = raw.get(key)
        if _is_int(value) and PULSE_MIN_US <= value <= PULSE_MAX_US:
            lid[key] = value
        else:
            problems.append("lids[%d].%s: must be %d..%d" % (index, key, PULSE_MIN_US,
                                                            PULSE_MAX_US))
    return lid


def _lids(raw, problems):
    value = raw.get("lids")
    if not isinstance(value, list) or not 1 <= len(value) <= _MAX_LIDS:
        problems.append("lids: must be a list of 1..%d lids" % _MAX_LIDS)
        value = [{"name": n, "pin": p, "closed_us": 1000, "open_us": 2000}
                 for n, p in _DEFAULT_LIDS]
    lids = [_lid(item, i, problems) for i, item in enumerate(value)]
    names = [lid["name"] for lid in lids]
    for i, lid in enumerate(lids):
        if names.index(lid["name"]) != i:
            problems.append("lids[%d].name: duplicate" % i)
            lid["name"] = "lid%d" % i
        if lid["pin"] < 0:
            problems.append("lids[%d].pin: missing" % i)
            lid["pin"] = -1  # a lid without a pin is skipped, never drives a wrong servo
    return lids


def _class_to_lid(raw, lid_names, problems):
    value = raw.get("class_to_lid", _DEFAULT_CLASS_TO_LID)
    if not isinstance(value, dict):
        problems.append("class_to_lid: not an object")
        value = _DEFAULT_CLASS_TO_LID
    mapping = {}
    for label in value:
        if value[label] in lid_names:
            mapping[label] = value[label]
        else:
            problems.append("class_to_lid.%s: no lid named %s" % (label, value[label]))
    return mapping


def _pins(raw, problems):
    value = raw.get("pins", {})
    pins = dict(_PINS)
    if not isinstance(value, dict):
        problems.append("pins: not an object")
        return pins
    for key in value:
        if key not in _PINS:
            problems.append("pins.%s: unknown key" % key)
        elif key == "camera_data":
            data = value[key]
            if isinstance(data, list) and len(data) == 8 and all(_is_int(p) for p in data):
                pins[key] = data
            else:
                problems.append("pins.camera_data: must be 8 GPIO numbers")
        elif key == "status_led_active_low":
            if isinstance(value[key], bool):
                pins[key] = value[key]
            else:
                problems.append("pins.status_led_active_low: must be true or false")
        elif _is_int(value[key]) and -1 <= value[key] <= 39:
            pins[key] = value[key]
        else:
            problems.append("pins.%s: must be a GPIO number or -1" % key)
    if pins["wake"] not in _RTC_PINS:
        problems.append("pins.wake: GPIO%d cannot wake the board (needs an RTC GPIO)"
                        % pins["wake"])
        pins["wake"] = _PINS["wake"]
    if pins["wake_level"] not in (0, 1):
        problems.append("pins.wake_level: must be 0 or 1")
        pins["wake_level"] = 1
    return pins


def _power(power, config, problems):
    """power.mode and the latch's keep-alive pin; the rest of "power" is the host's
    battery estimate (`smartbin power`). In deep_sleep mode the keep-alive pin is not
    claimed, so it is free for nothing else to clash with."""
    mode = power.get("mode", "deep_sleep")
    if mode not in POWER_MODES:
        problems.append("power.mode: must be one of " + ", ".join(POWER_MODES))
        mode = "deep_sleep"
    pin = power.get("keep_alive_pin", _KEEP_ALIVE_PIN)
    if not _is_int(pin) or not 0 <= pin <= 39:
        problems.append("power.keep_alive_pin: must be a GPIO number")
        pin = _KEEP_ALIVE_PIN
    level = power.get("keep_alive_level", 1)
    if level not in (0, 1) or isinstance(level, bool):
        problems.append("power.keep_alive_level: must be 0 or 1")
        level = 1
    config.power_mode = mode
    config.latch = mode == "latch"
    config.keep_alive_level = level
    config.pins["keep_alive"] = pin if config.latch else -1  # judged in pin_owners


def validate(raw):
    """Turn parsed JSON (anything) into a Config with defaults for every bad value."""
    config = Config()
    problems = config.problems
    if not isinstance(raw, dict):
        problems.append("config: not a JSON object, using defaults")
        raw = {}
    for key in raw:
        if key not in _KNOWN_KEYS:
            problems.append(key + ": unknown key")
    for section, key, attribute, default, low, high in _NUMBERS:
        value = _section(raw, section, problems).get(key, default)
        if not _is_number(value) or not low <= value <= high or (
                _is_int(default) and not _is_int(value)):
            problems.append("%s: must be a number in %s..%s" % (key, low, high))
            value = default
        setattr(config, attribute, value)
    for section, key, attribute, default in _BOOLS:
        value = _section(raw, section, problems).get(key, default)
        if not isinstance(value, bool):
            problems.append("%s: must be true or false" % key)
            value = default
        setattr(config, attribute, value)
    for section, key, attribute, default in _PATHS:
        value = _section(raw, section, problems).get(key, default)
        if not isinstance(value, str) or not value.startswith("/") or len(value) < 2:
            problems.append("%s.%s: must be an absolute path" % (section, key))
            value = default
        setattr(config, attribute, value.rstrip("/"))
    config.lids = _lids(raw, problems)
    lid_names = [lid["name"] for lid in config.lids]
    decide = _section(raw, "decide", problems)
    config.threshold = _threshold(decide, problems)
    config.general_lid = decide.get("general_lid", "general")
    if config.general_lid not in lid_names:
        problems.append("decide.general_lid: no lid named %s" % config.general_lid)
        config.general_lid = lid_names[-1]
    config.class_to_lid = _class_to_lid(raw, lid_names, problems)
    config.pins = _pins(raw, problems)
    _power(_section(raw, "power", problems), config, problems)
    # flash, PSRAM, console, camera, input-only and shared pins: one table, also the host's
    config.pin_conflicts, config.pin_warnings = pin_owners.settle(config.pins, config.lids)
    problems.extend(config.pin_conflicts)
    if config.latch and config.pins["keep_alive"] < 0:
        problems.append("power.mode: latch needs a usable keep_alive_pin, using deep_sleep")
        config.power_mode = "deep_sleep"
        config.latch = False
    # A watchdog shorter than one open-hold-close would reset the bin mid-move.
    longest_move = 2 * config.gentle_ramp_ms + config.hold_open_ms + config.settle_ms
    if config.watchdog_ms < longest_move + 10000:
        problems.append("watchdog_ms: shorter than a lid cycle plus 10 s")
        config.watchdog_ms = longest_move + 10000
    return config


def load(storage, path="/config.json"):
    """Read and validate the config file; a missing or corrupt file gives all defaults."""
    text = storage.read(path)
    if text is None:
        config = validate({})
        config.problems.insert(0, path + ": missing, using defaults")
        return config
    try:
        raw = json.loads(text)
    except (ValueError, RuntimeError, MemoryError):  # RuntimeError: nested too deeply
        config = validate({})
        config.problems.insert(0, path + ": not valid JSON, using defaults")
        return config
    return validate(raw)
