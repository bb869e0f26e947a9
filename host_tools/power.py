"""`smartbin power`: battery life and energy per item, from the config's currents and
durations and the firmware's own timings (servo ramps, hold, warm-up frames).

The bin sleeps between items, so the daily charge is sleep current x sleep time plus, per
item, one wake: boot, model load, camera, inference, lid moves, logging. Defaults and
their sources are in `SOURCES`; every value can be overridden in config.json's "power".
"""
import json
import math
import sys
from pathlib import Path

from host_tools.errors import SmartbinError

FIRMWARE_DIR = Path(__file__).resolve().parent.parent / "firmware"
DEFAULT_CONFIG = FIRMWARE_DIR / "config.json"

_MEASURED = ("dimhoff/ESP32-CAM_Interval, doc/power_consumption.md (AI-Thinker ESP32-CAM "
             "at 3.3 V, energy monitor, 5-minute runs)")
DEFAULTS = {
    "battery_mah": 3000, "battery_usable": 0.8, "items_per_day": 40,
    "sleep_ma": 4.0, "awake_ma": 85.0, "board_v": 3.3,
    "servo_moving_ma": 250.0, "servo_holding_ma": 15.0, "servo_v": 5.0,
    "boot_ms": 700, "model_load_ms": 400, "camera_start_ms": 250, "frame_ms": 80,
    "inference_ms": 900, "log_ms": 150,
}
SOURCES = {
    "sleep_ma": "deep sleep with the camera rails cut through CAM_PWR (GPIO32): 4.02 mA; "
                "20-25 mA with the camera left powered. " + _MEASURED + ". A stock board "
                "(AMS1117 regulator) sleeps at 4.4 mA: cicciocb.com forum, 'Sleep mode on "
                "ESP32-Cam' (2021).",
    "awake_ma": "82-88 mA average over a 7.0-7.5 s wake with capture, i.e. about 2 J "
                "(553-569 uWh) per wake. " + _MEASURED + ".",
    "board_v": "the 3.3 V rail the currents above were measured on.",
    "servo_moving_ma": "assumption for an SG90-class micro servo moving a light lid "
                       "(no datasheet figure; stall is several hundred mA): measure yours.",
    "servo_holding_ma": "assumption: a servo holding a light lid with its PWM on.",
    "servo_v": "servo supply (4.8-6 V for SG90-class servos).",
    "boot_ms": "estimate: ESP32 wake from deep sleep to main.py with PSRAM test.",
    "model_load_ms": "estimate: reading the .tflite from flash into PSRAM and "
                     "AllocateTensors; measure with the debug frames' timings.",
    "camera_start_ms": "estimate: OV2640 power-up and driver init.",
    "frame_ms": "estimate: one small RGB565 frame from the OV2640.",
    "inference_ms": "estimate for a MobileNetV1 0.25 96x96 int8 model with reference "
                    "kernels, preprocessing included; `make bench` and the board's debug "
                    "frames ('look_ms') give real numbers.",
    "log_ms": "estimate: counts, debug frame and metadata written to flash.",
    "battery_mah": "example: one 18650 cell or 3 AA.",
    "battery_usable": "share of the rated capacity usable down to the regulator's cut-off.",
    "items_per_day": "example: a busy classroom bin.",
}


def _firmware_config(raw):
    if str(FIRMWARE_DIR) not in sys.path:
        sys.path.insert(0, str(FIRMWARE_DIR))
    from smartbin import config as firmware_config

    return firmware_config.validate(raw)


def read_config(config_path):
    """Parse config.json into (raw dict, firmware Config); SmartbinError if unreadable."""
    path = Path(config_path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SmartbinError("no config file at %s" % path)
    except OSError as error:
        raise SmartbinError("cannot read %s: %s" % (path, error.strerror))
    except ValueError as error:
        raise SmartbinError("%s is not valid JSON: %s" % (path, error))
    if not isinstance(raw, dict):
        raise SmartbinError("%s: top level must be an object" % path)
    return raw, _firmware_config(raw)


def power_settings(raw):
    """DEFAULTS overridden by config's "power" section, each a positive number."""
    section = raw.get("power", {})
    if not isinstance(section, dict):
        raise SmartbinError("config: 'power' must be an object")
    settings = dict(DEFAULTS)
    for key, value in section.items():
        if key not in DEFAULTS:
            raise SmartbinError("config: unknown power setting %r (known: %s)"
                                % (key, ", ".join(sorted(DEFAULTS))))
        # json reads NaN and 1e400 (infinity) as floats; neither is a current or a time
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or value < 0):
            raise SmartbinError("config: power.%s must be a non-negative number" % key)
        settings[key] = value
    if not 0 < settings["battery_usable"] <= 1:
        raise SmartbinError("config: power.battery_usable must be in (0, 1]")
    return settings


def item_phases(firmware, settings):
    """One item's wake as (phase, duration ms, board mA, servo mA), in order."""
    awake = settings["awake_ma"]
    camera_ms = settings["camera_start_ms"] + (firmware.warmup_frames + 1) * settings["frame_ms"]
    ramps_ms = 2 * firmware.ramp_ms + firmware.settle_ms
    return [
        ("boot", settings["boot_ms"], awake, 0.0),
        ("model load", settings["model_load_ms"], awake, 0.0),
        ("camera", camera_ms, awake, 0.0),
        ("inference", settings["inference_ms"], awake, 0.0),
        ("lid moves", ramps_ms, awake, settings["servo_moving_ma"]),
        ("lid hold", firmware.hold_open_ms, awake, settings["servo_holding_ma"]),
        ("log", settings["log_ms"], awake, 0.0),
    ]


def estimate(config_path=DEFAULT_CONFIG):
    """Battery life and energy per item for the config at `config_path` (a dict)."""
    raw, firmware = read_config(config_path)
    settings = power_settings(raw)
    phases = item_phases(firmware, settings)
    item_ms = sum(p[1] for p in phases)
    hold_ms = firmware.hold_open_ms
    board_mas = sum(p[1] * p[2] for p in phases) / 1000.0  # mA*s per item
    servo_mas = sum(p[1] * p[3] for p in phases) / 1000.0
    energy_j = (board_mas * settings["board_v"] + servo_mas * settings["servo_v"]) / 1000.0
    items = settings["items_per_day"]
    awake_s = items * item_ms / 1000.0
    if awake_s > 86400:
        raise SmartbinError("%g items a day at %.1f s each do not fit in a day"
                            % (items, item_ms / 1000.0))
    sleep_mas = settings["sleep_ma"] * (86400 - awake_s)
    mah_per_day = (sleep_mas + items * (board_mas + servo_mas)) / 3600.0
    if mah_per_day <= 0:
        raise SmartbinError("config: with these power settings the bin draws no current "
                            "at all (sleep_ma and every awake current or time are 0)")
    usable_mah = settings["battery_mah"] * settings["battery_usable"]
    return {
        "config": str(config_path),
        "phases": [{"phase": name, "ms": ms, "board_ma": board, "servo_ma": servo}
                   for name, ms, board, servo in phases],
        "awake_ms_per_item": item_ms,
        "awake_outside_hold_ms": item_ms - hold_ms,
        "energy_per_item_j": energy_j,
        "charge_per_item_mah": (board_mas + servo_mas) / 3600.0,
        "sleep_mah_per_day": sleep_mas / 3600.0,
        "mah_per_day": mah_per_day,
        "average_ma": mah_per_day / 24.0,
        "battery_days": usable_mah / mah_per_day,
        "sleep_share": sleep_mas / 3600.0 / mah_per_day,
        "settings": settings,
        "sources": {key: SOURCES[key] for key in DEFAULTS},
    }


def configure(parser):
    parser.add_argument("--config", default=str(DEFAULT_CONFIG),
                        help="config.json to read (default: firmware/config.json)")
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")


def run(args):
    result = estimate(args.config)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    settings = result["settings"]
    print("Per item (one wake from deep sleep):")
    for phase in result["phases"]:
        servo = " + servo %.0f mA" % phase["servo_ma"] if phase["servo_ma"] else ""
        print("  %-11s %6.0f ms at %.0f mA%s" % (phase["phase"], phase["ms"],
                                                 phase["board_ma"], servo))
    print("  awake %.1f s (%.1f s outside the lid hold), %.2f J, %.3f mAh"
          % (result["awake_ms_per_item"] / 1000, result["awake_outside_hold_ms"] / 1000,
             result["energy_per_item_j"], result["charge_per_item_mah"]))
    print("Per day with %g items: %.1f mAh (%.0f%% of it asleep at %.1f mA), average %.2f mA"
          % (settings["items_per_day"], result["mah_per_day"], 100 * result["sleep_share"],
             settings["sleep_ma"], result["average_ma"]))
    print("Battery: %g mAh x %.0f%% usable -> about %.0f days"
          % (settings["battery_mah"], 100 * settings["battery_usable"], result["battery_days"]))
    print("Sources: `smartbin power --json` lists where each default comes from.")
    return 0
