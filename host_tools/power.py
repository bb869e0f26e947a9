"""`smartbin power`: battery life and energy per item, from the config's currents and
durations and the firmware's own timings (servo ramps, hold, warm-up frames), for both
power modes side by side:

  deep_sleep  the board deep sleeps between items (about 4 mA on an AI-Thinker board);
  latch       the board's supply is cut between items by a latch that the wake sensor
              switches on (docs/power-latch.md); only the sensor and the switch's
              leakage draw current between items.

The daily charge is the current between items x the time between items plus, per item,
one wake: boot, model load, camera, inference, lid moves, logging (and, with the latch,
waiting for the sensor to go idle). Defaults and their sources are in `SOURCES`; every
value can be overridden in config.json's "power". `boot_to_result` estimates the time
from a cold boot to the first inference result, from cited figures.
"""
import json
import math
import sys
from pathlib import Path

from host_tools.model import latency
from host_tools.errors import SmartbinError

from host_tools.paths import COMMITTED_DEFAULT, FIRMWARE_DIR

DEFAULT_CONFIG = FIRMWARE_DIR / "config.json"
DEFAULT_MODEL = COMMITTED_DEFAULT
MODES = ("deep_sleep", "latch")
# Keys of "power" that the firmware reads (smartbin/config.py validates them).
FIRMWARE_KEYS = ("mode", "keep_alive_pin", "keep_alive_level", "release_wait_ms",
                 "off_fallback_ms")
GOAL_DAYS = 182.5  # six months

_MEASURED = ("dimhoff/ESP32-CAM_Interval, doc/power_consumption.md (AI-Thinker ESP32-CAM "
             "at 3.3 V, energy monitor, 5-minute runs)")
DEFAULTS = {
    "battery_mah": 3000, "battery_usable": 0.8, "items_per_day": 40,
    "sleep_ma": 4.0, "awake_ma": 85.0, "board_v": 3.3,
    "servo_moving_ma": 250.0, "servo_holding_ma": 15.0, "servo_v": 5.0,
    "boot_ms": 700, "model_load_ms": 400, "camera_start_ms": 250, "frame_ms": 80,
    "inference_ms": 900, "log_ms": 150,
    "sensor_standby_ua": 50.0, "switch_leak_ua": 1.0, "driver_leak_ua": 1.0,
    "sensor_hold_ms": 5000, "switch_off_ms": 1100,
    "flash_read_kb_s": 137.0, "flash_bus_kb_s": 10000.0,
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
    "boot_ms": "estimate: reset to main.py. Measured by glenn20/upy-esp32-experiments "
               "(OptimisingMicropythonBootTime/README.md, Power Profiler Kit II): 635 ms "
               "from reset through image validation (217 ms) and _boot.py to main.py on "
               "an ESP32-S3 with stock MicroPython; 70 ms on an ESP32 once image "
               "validation and the Python boot files are cut. The same boot follows a "
               "deep-sleep wake and a latch power-on.",
    "model_load_ms": "estimate: reading the .tflite from flash into PSRAM and "
                     "AllocateTensors; measure with the debug frames' timings.",
    "camera_start_ms": "estimate: OV2640 power-up and driver init. esp32-camera (the "
                       "release pinned in firmware/image/versions.env) waits 80 ms in fixed delays (driver/esp_camera.c: PWDN 2 x 10 ms, "
                       "probe 10 ms, reset 10 ms; sensors/ov2640.c: reset, frame size "
                       "and pixel format 10 ms each, pixel format twice) plus the SCCB "
                       "register writes of the OV2640 tables.",
    "frame_ms": "estimate: one small RGB565 frame from the OV2640.",
    "inference_ms": "estimate for a MobileNetV1 0.25 96x96 int8 model with reference "
                    "kernels, preprocessing included; `make bench` and the board's debug "
                    "frames ('look_ms') give real numbers.",
    "log_ms": "estimate: counts, debug frame and metadata written to flash.",
    "battery_mah": "example: one 18650 cell or 3 AA.",
    "battery_usable": "share of the rated capacity usable down to the regulator's cut-off.",
    "items_per_day": "example: a busy classroom bin.",
    "sensor_standby_ua": "PIR sensor idle current, drawn in both modes (the latch keeps it "
                         "powered): HC-SR501 < 50 uA (its manual; 35 uA measured idle, "
                         "smarthomatic.org wiki 'hcsr501'). A Senba BS412 digital PIR "
                         "draws 9.5 uA typ., 11 uA max (senbasensor.com, BS412).",
    "switch_leak_ua": "latch only: P-MOSFET high-side switch off-state leakage, AO3401A "
                      "I_DSS max 1 uA at V_DS = -30 V, 25 C (5 uA at 55 C) (Alpha & "
                      "Omega AO3401A datasheet, Rev 3 2011); Vishay Si2301CDS: 1 uA max.",
    "driver_leak_ua": "latch only: N-MOSFET gate driver off-state leakage, 2N7002 I_DSS "
                      "max 1 uA at V_DS = 60 V, 25 C (onsemi 2N7002 datasheet); it flows "
                      "through the P-MOSFET's gate pull-up, the latch's only path. The "
                      "3.3 V regulator (MCP1700-3302, I_q 1.6 uA typ. 4 uA max, Microchip "
                      "DS20001826; or HT7333, about 4 uA, Holtek HT73xx) sits behind the "
                      "switch and draws nothing while the latch is off. The board's own "
                      "AMS1117 (about 5 mA quiescent in the AMS datasheet, 2 mA in "
                      "clones' datasheets) is bypassed.",
    "sensor_hold_ms": "latch only: how long the PIR output stays active after the last "
                      "motion; the bin waits for it (at most power.release_wait_ms) before "
                      "releasing the latch. HC-SR501: adjustable, about 3-5 s at its "
                      "minimum (its manual: 0.3 s - 5 min; 2.5 s lock time after).",
    "switch_off_ms": "latch only: after the keep-alive is released the latch's hold "
                     "capacitor (C1 1 uF) drains through R2 (1 MOhm) from about 3.0 V to "
                     "the 2N7002's 1.0 V minimum threshold: RC x ln(3) = 1.1 s with the "
                     "board still on (docs/power-latch.md).",
    "flash_read_kb_s": "pessimistic file read speed from flash for the boot estimate: "
                       "LittleFS on an ESP32 read five 88 KB files in 3.2 s (137 KB/s, "
                       "joltwallet/esp_littlefs README, 'Reading 5 88KB files', cache "
                       "512). The firmware reads the model with one readinto into a "
                       "preallocated buffer, which lets LittleFS skip its cache.",
    "flash_bus_kb_s": "optimistic bound: the SPI flash bus itself, 40 MHz DIO = 2 bits "
                      "x 40 MHz = 10 MB/s (ESP32 datasheet, SPI flash modes).",
}


def _firmware_config(raw):
    if str(FIRMWARE_DIR) not in sys.path:
        sys.path.insert(0, str(FIRMWARE_DIR))
    from smartbin import config as firmware_config

    return firmware_config.validate(raw)


# How many of a config's problems the refusal names; the rest are counted.
_PROBLEMS_NAMED = 3


def config_problems_text(problems, where):
    """One line naming the first of the firmware's config problems and the file."""
    named = "; ".join(problems[:_PROBLEMS_NAMED])
    more = len(problems) - _PROBLEMS_NAMED
    return "%s: %s%s (the bin would put its defaults in their place: fix the config)" % (
        where, named, " (and %d more)" % more if more > 0 else "")


def read_config(config_path, strict=True):
    """Parse a bin config.json into (raw dict, firmware Config).

    SmartbinError when the file is missing, unreadable or not a JSON object, and, when
    `strict`, when the firmware's own check (smartbin/config.py) finds problems: the board
    would run with defaults in their place, so lids, threshold or timings computed from the
    file would describe another bin. The error names the file and its first problems.
    `strict=False` is only for commands that run the firmware on the config and report
    `Config.problems` themselves, as the board does (simulate, try)."""
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
    config = _firmware_config(raw)
    if strict and config.problems:
        raise SmartbinError(config_problems_text(config.problems, path))
    return raw, config


def power_settings(raw):
    """DEFAULTS overridden by config's "power" section, each a positive number."""
    section = raw.get("power", {})
    if not isinstance(section, dict):
        raise SmartbinError("config: 'power' must be an object")
    settings = dict(DEFAULTS)
    for key, value in section.items():
        if key in FIRMWARE_KEYS:
            continue  # the firmware's own settings, validated by smartbin/config.py
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


def latch_off_ua(settings):
    """Current between items with the latch off: the sensor and the switch's leakage."""
    return (settings["sensor_standby_ua"] + settings["switch_leak_ua"]
            + settings["driver_leak_ua"])


def mode_phases(mode, firmware, settings):
    """item_phases, plus (latch) the wait for the sensor to go idle before the release."""
    phases = item_phases(firmware, settings)
    if mode == "latch":
        busy_ms = sum(p[1] for p in phases)
        wait_ms = min(max(0, settings["sensor_hold_ms"] - busy_ms), firmware.release_wait_ms)
        phases.append(("sensor idle", wait_ms, settings["awake_ma"], 0.0))
        phases.append(("switch-off", settings["switch_off_ms"], settings["awake_ma"], 0.0))
    return phases


def mode_estimate(mode, firmware, settings):
    """Battery life in one power mode; plain numbers, no config reading."""
    phases = mode_phases(mode, firmware, settings)
    item_ms = sum(p[1] for p in phases)
    board_mas = sum(p[1] * p[2] for p in phases) / 1000.0  # mA*s per item
    servo_mas = sum(p[1] * p[3] for p in phases) / 1000.0
    energy_j = (board_mas * settings["board_v"] + servo_mas * settings["servo_v"]) / 1000.0
    items = settings["items_per_day"]
    awake_s = items * item_ms / 1000.0
    if awake_s > 86400:
        raise SmartbinError("%g items a day at %.1f s each do not fit in a day"
                            % (items, item_ms / 1000.0))
    if mode == "latch":
        between_ma = latch_off_ua(settings) / 1000.0
    else:
        between_ma = settings["sleep_ma"] + settings["sensor_standby_ua"] / 1000.0
    between_mas = between_ma * (86400 - awake_s)
    mah_per_day = (between_mas + items * (board_mas + servo_mas)) / 3600.0
    if mah_per_day <= 0:
        raise SmartbinError("config: with these power settings the bin draws no current "
                            "at all (sleep_ma and every awake current or time are 0)")
    usable_mah = settings["battery_mah"] * settings["battery_usable"]
    hold_ms = firmware.hold_open_ms
    return {
        "mode": mode,
        "phases": [{"phase": name, "ms": ms, "board_ma": board, "servo_ma": servo}
                   for name, ms, board, servo in phases],
        "awake_ms_per_item": item_ms,
        "awake_outside_hold_ms": item_ms - hold_ms,
        "energy_per_item_j": energy_j,
        "charge_per_item_mah": (board_mas + servo_mas) / 3600.0,
        "between_items_ma": between_ma,
        "sleep_mah_per_day": between_mas / 3600.0,
        "mah_per_day": mah_per_day,
        "average_ma": mah_per_day / 24.0,
        "battery_days": usable_mah / mah_per_day,
        "sleep_share": between_mas / 3600.0 / mah_per_day,
    }


def read_model(model_dir):
    """(flatbuffer bytes, MACs) from a model folder's model.json."""
    path = Path(model_dir) / "model.json"
    try:
        contract = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SmartbinError("no model.json in %s" % model_dir)
    except (OSError, ValueError) as error:
        raise SmartbinError("cannot read %s: %s" % (path, error))
    size = contract.get("flatbuffer_bytes") if isinstance(contract, dict) else None
    macs = contract.get("macs") if isinstance(contract, dict) else None
    if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
               for v in (size, macs)):
        raise SmartbinError("%s: needs positive integers flatbuffer_bytes and macs" % path)
    return size, macs


def boot_to_result(firmware, settings, model_bytes, macs):
    """Cold boot (power-on or deep-sleep wake) to the first inference result, in ms, as
    phases (name, fast ms, slow ms): the two model-load figures bound the flash read."""
    frames_ms = (firmware.warmup_frames + 1) * settings["frame_ms"]
    inference_ms = latency.estimate_ms(macs, "esp_nn")
    load_fast = model_bytes / settings["flash_bus_kb_s"] / 1.024  # KB/s -> bytes/ms
    load_slow = model_bytes / settings["flash_read_kb_s"] / 1.024
    return [
        ("reset to main.py", settings["boot_ms"], settings["boot_ms"]),
        ("model read", load_fast, load_slow),
        ("camera start", settings["camera_start_ms"], settings["camera_start_ms"]),
        ("frames", frames_ms, frames_ms),
        ("inference", inference_ms, inference_ms),
    ]


def estimate(config_path=DEFAULT_CONFIG, model_dir=DEFAULT_MODEL):
    """Battery life in both power modes and the boot-to-result estimate; the top-level
    figures are those of the mode config.json chooses."""
    raw, firmware = read_config(config_path)
    settings = power_settings(raw)
    modes = {mode: mode_estimate(mode, firmware, settings) for mode in MODES}
    model_bytes, macs = read_model(model_dir)
    boot = boot_to_result(firmware, settings, model_bytes, macs)
    slow_load = dict(settings, model_load_ms=boot[1][2])
    result = dict(modes[firmware.power_mode])
    result.update({
        "config": str(config_path),
        "power_mode": firmware.power_mode,
        "modes": modes,
        "latch_off_ua": latch_off_ua(settings),
        "goal_days": GOAL_DAYS,
        "boot_to_result": {
            "model": str(model_dir), "model_bytes": model_bytes, "macs": macs,
            "phases": [{"phase": n, "fast_ms": f, "slow_ms": w} for n, f, w in boot],
            "fast_ms": sum(p[1] for p in boot), "slow_ms": sum(p[2] for p in boot),
            "latch_days_with_slow_model_read":
                mode_estimate("latch", firmware, slow_load)["battery_days"],
        },
        "settings": settings,
        "sources": {key: SOURCES[key] for key in DEFAULTS},
    })
    return result


def configure(parser):
    parser.add_argument("--config", default=str(DEFAULT_CONFIG),
                        help="config.json to read (default: firmware/config.json)")
    parser.add_argument("--model", default=str(DEFAULT_MODEL),
                        help="model folder for the boot-time estimate (default: "
                             "models/default)")
    parser.add_argument("--json", action="store_true", help="print the estimate as JSON")


def run(args):
    result = estimate(args.config, args.model)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    settings = result["settings"]
    modes = result["modes"]
    latch = modes["latch"]
    print("Per item (one wake; the latch also waits for the sensor to go idle):")
    for phase in latch["phases"]:
        servo = " + servo %.0f mA" % phase["servo_ma"] if phase["servo_ma"] else ""
        print("  %-11s %6.0f ms at %.0f mA%s" % (phase["phase"], phase["ms"],
                                                 phase["board_ma"], servo))
    print("%g items a day on %g mAh x %.0f%% usable:" % (
        settings["items_per_day"], settings["battery_mah"], 100 * settings["battery_usable"]))
    print("  %-12s %13s %11s %10s %8s" % ("mode", "between items", "per item", "per day",
                                          "battery"))
    for mode in MODES:
        m = modes[mode]
        chosen = " <- config.json" if mode == result["power_mode"] else ""
        print("  %-12s %10.3f mA %7.3f mAh %6.1f mAh %5.0f days%s" % (
            mode, m["between_items_ma"], m["charge_per_item_mah"], m["mah_per_day"],
            m["battery_days"], chosen))
    print("  deep_sleep: board asleep %.1f mA + sensor %.0f uA; latch off: sensor %.0f uA "
          "+ P-MOSFET %.0f uA + driver %.0f uA" % (
              settings["sleep_ma"], settings["sensor_standby_ua"],
              settings["sensor_standby_ua"], settings["switch_leak_ua"],
              settings["driver_leak_ua"]))
    verdict = "meets" if latch["battery_days"] >= result["goal_days"] else "misses"
    print("  the latch %s the goal of %.0f days (6 months)" % (verdict, result["goal_days"]))
    boot = result["boot_to_result"]
    print("Cold boot to first result (model %d KB, %.1f M MACs): %.1f-%.1f s" % (
        boot["model_bytes"] // 1024, boot["macs"] / 1e6, boot["fast_ms"] / 1000,
        boot["slow_ms"] / 1000))
    for phase in boot["phases"]:
        span = ("%6.0f ms" % phase["fast_ms"] if phase["fast_ms"] == phase["slow_ms"]
                else "%6.0f-%.0f ms" % (phase["fast_ms"], phase["slow_ms"]))
        print("  %-16s %s" % (phase["phase"], span))
    print("  with the slow model read every item, the latch lasts %.0f days"
          % boot["latch_days_with_slow_model_read"])
    print("Sources: `smartbin power --json` lists where each figure comes from.")
    return 0
