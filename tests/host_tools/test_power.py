"""`smartbin power`: battery life and energy per item from the config."""
import json
import re

import pytest
from PIL import Image

from host_tools.model import latency

from host_tools import power
from host_tools.cli import main
from host_tools.errors import SmartbinError


def write_config(tmp_path, **power_settings):
    raw = json.loads(power.DEFAULT_CONFIG.read_text())
    raw["power"].update(power_settings)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    return path


def test_default_config_gives_a_cited_estimate():
    result = power.estimate()
    assert result["battery_days"] > 1
    assert 0.5 < result["sleep_share"] < 1  # deep sleep dominates a bin's day
    assert set(result["sources"]) == set(power.DEFAULTS)
    assert "GPIO32" in result["sources"]["sleep_ma"]
    hold = [p["ms"] for p in result["phases"] if p["phase"] == "lid hold"][0]
    assert result["awake_outside_hold_ms"] == result["awake_ms_per_item"] - hold


def test_energy_per_item_is_current_times_time_times_voltage(tmp_path):
    zero = {key: 0 for key in ("model_load_ms", "camera_start_ms", "frame_ms",
                               "inference_ms", "log_ms", "servo_moving_ma",
                               "servo_holding_ma")}
    path = write_config(tmp_path, boot_ms=1000, awake_ma=100, board_v=3.3, **zero)
    raw = json.loads(path.read_text())
    raw["servo"].update(ramp_ms=0, settle_ms=0, hold_open_ms=0)
    path.write_text(json.dumps(raw))
    result = power.estimate(path)
    # 1 s at 100 mA on 3.3 V, plus the awake current during the camera's zero-time frames
    assert result["energy_per_item_j"] == pytest.approx(0.33)
    assert result["charge_per_item_mah"] == pytest.approx(100 / 3600)


def test_more_items_a_day_shorten_battery_life(tmp_path):
    few = power.estimate(write_config(tmp_path, items_per_day=5))["battery_days"]
    many = power.estimate(write_config(tmp_path, items_per_day=500))["battery_days"]
    assert many < few


@pytest.mark.parametrize("setting,value,message", [
    ("sleep_ma", -1, "non-negative"), ("warp_ma", 3, "unknown power setting"),
    ("battery_usable", 2, "battery_usable"), ("items_per_day", 100000, "do not fit"),
    ("boot_ms", float("nan"), "non-negative"), ("battery_mah", float("inf"), "non-negative"),
])
def test_bad_power_settings_are_named(tmp_path, setting, value, message):
    with pytest.raises(SmartbinError, match=message):
        power.estimate(write_config(tmp_path, **{setting: value}))


def test_a_bin_that_draws_no_current_is_an_error_not_a_crash(tmp_path):
    with pytest.raises(SmartbinError, match="no current"):
        power.estimate(write_config(tmp_path, sleep_ma=0, items_per_day=0, sensor_standby_ua=0,
                                    switch_leak_ua=0, driver_leak_ua=0))


def test_cli_prints_battery_days_and_json(capsys):
    assert main(["power"]) == 0
    assert "days" in capsys.readouterr().out
    assert main(["power", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["battery_days"] > 1


def test_cli_reports_a_missing_or_broken_config_in_one_line(tmp_path, capsys):
    assert main(["power", "--config", str(tmp_path / "none.json")]) == 1
    assert capsys.readouterr().err.strip().count("\n") == 0
    (tmp_path / "bad.json").write_text("{")
    assert main(["power", "--config", str(tmp_path / "bad.json")]) == 1
    assert "not valid JSON" in capsys.readouterr().err


# --- both power modes ---------------------------------------------------------------------

class Firmware:
    """The firmware config values the model reads, all zero unless given."""

    def __init__(self, **values):
        self.warmup_frames = self.ramp_ms = self.settle_ms = self.hold_open_ms = 0
        self.release_wait_ms = 8000
        self.power_mode = "deep_sleep"
        self.__dict__.update(values)


def simple_settings(**changes):
    settings = {key: 0 for key in power.DEFAULTS}
    settings.update(battery_mah=1000, battery_usable=1.0, items_per_day=10,
                    boot_ms=3600, awake_ma=100.0, board_v=3.3, servo_v=5.0,
                    sleep_ma=1.0, sensor_standby_ua=40.0, switch_leak_ua=5.0,
                    driver_leak_ua=5.0, flash_read_kb_s=100.0, flash_bus_kb_s=10000.0)
    settings.update(changes)
    return settings


def test_the_latch_draws_only_the_sensor_and_the_switch_leakage_between_items():
    settings = simple_settings(switch_off_ms=0)
    assert power.latch_off_ua(settings) == 50.0
    latch = power.mode_estimate("latch", Firmware(), settings)
    # one item: 3.6 s at 100 mA = 0.1 mAh; ten a day = 1 mAh; off 0.05 mA for the rest
    assert latch["charge_per_item_mah"] == pytest.approx(0.1)
    assert latch["between_items_ma"] == pytest.approx(0.05)
    off_mah = 0.05 * (86400 - 36) / 3600
    assert latch["mah_per_day"] == pytest.approx(1 + off_mah)
    assert latch["battery_days"] == pytest.approx(1000 / (1 + off_mah))


def test_deep_sleep_draws_the_board_asleep_and_the_sensor():
    deep = power.mode_estimate("deep_sleep", Firmware(), simple_settings())
    assert deep["between_items_ma"] == pytest.approx(1.04)
    assert deep["mah_per_day"] == pytest.approx(1 + 1.04 * (86400 - 36) / 3600)
    assert deep["battery_days"] == pytest.approx(1000 / deep["mah_per_day"])


def test_the_latch_waits_for_the_sensor_at_most_release_wait_ms():
    settings = simple_settings(sensor_hold_ms=10000)
    phases = power.mode_estimate("latch", Firmware(release_wait_ms=5000), settings)["phases"]
    assert phases[-2]["phase"] == "sensor idle" and phases[-2]["ms"] == 5000
    phases = power.mode_estimate("latch", Firmware(release_wait_ms=60000), settings)["phases"]
    assert phases[-2]["ms"] == 10000 - 3600  # the sensor's hold outlasts the item
    deep = power.mode_estimate("deep_sleep", Firmware(), settings)["phases"]
    assert "sensor idle" not in [p["phase"] for p in deep]


def test_the_latch_pays_for_the_board_staying_on_while_its_gate_drains():
    quick = power.mode_estimate("latch", Firmware(), simple_settings(switch_off_ms=0))
    slow = power.mode_estimate("latch", Firmware(), simple_settings(switch_off_ms=1800))
    assert slow["phases"][-1] == {"phase": "switch-off", "ms": 1800, "board_ma": 100.0,
                                  "servo_ma": 0.0}
    # 1.8 s at 100 mA = 0.05 mAh more per item
    assert slow["charge_per_item_mah"] - quick["charge_per_item_mah"] == pytest.approx(0.05)


def test_boot_to_result_adds_cited_phases_and_bounds_the_model_read():
    settings = simple_settings(boot_ms=700, camera_start_ms=250, frame_ms=80)
    phases = power.boot_to_result(Firmware(warmup_frames=2), settings,
                                  model_bytes=102400, macs=latency.ANCHOR_MACS)
    table = {name: (fast, slow) for name, fast, slow in phases}
    assert table["model read"] == (pytest.approx(10.0), pytest.approx(1000.0))
    assert table["frames"] == (240, 240)
    assert table["inference"] == (pytest.approx(380.0), pytest.approx(380.0))
    assert sum(p[2] for p in phases) == pytest.approx(700 + 1000 + 250 + 240 + 380)


def test_the_default_bin_on_a_latch_lasts_over_six_months_and_deep_sleep_does_not():
    result = power.estimate()
    assert result["power_mode"] == "deep_sleep"
    assert result["modes"]["latch"]["battery_days"] >= power.GOAL_DAYS
    assert result["modes"]["deep_sleep"]["battery_days"] < 60
    assert result["boot_to_result"]["latch_days_with_slow_model_read"] >= power.GOAL_DAYS
    for key in ("sensor_standby_ua", "switch_leak_ua", "driver_leak_ua"):
        assert "datasheet" in result["sources"][key] or "manual" in result["sources"][key]


def test_a_latch_config_is_read_and_its_firmware_keys_are_not_power_settings(tmp_path):
    path = write_config(tmp_path, mode="latch", keep_alive_pin=12, release_wait_ms=4000)
    result = power.estimate(path)
    assert result["power_mode"] == "latch"
    assert result["battery_days"] == result["modes"]["latch"]["battery_days"]
    assert "mode" not in result["settings"]


def test_cli_prints_both_modes_the_goal_and_the_boot_time(capsys):
    assert main(["power"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"deep_sleep .* days", out) and re.search(r"latch .* days", out)
    assert "meets the goal" in out and "Cold boot to first result" in out


def test_a_model_folder_without_sizes_is_one_line_error(tmp_path, capsys):
    (tmp_path / "model.json").write_text(json.dumps({"macs": 5}))
    assert main(["power", "--model", str(tmp_path)]) == 1
    assert "flatbuffer_bytes" in capsys.readouterr().err


def _shipped_config_with(tmp_path, name, change):
    raw = json.loads(power.DEFAULT_CONFIG.read_text())
    change(raw)
    path = tmp_path / name
    path.write_text(json.dumps(raw))
    return path


# Configs the firmware's check finds fault with: the board would run them on its defaults.
FAULTY_CONFIGS = {
    "nolids.json": (lambda raw: raw.pop("lids"), "lids: must be a list"),
    "badlid.json": (lambda raw: raw["class_to_lid"].update(glass="nolid"),
                    "class_to_lid.glass: no lid named nolid"),
    "badtype.json": (lambda raw: raw["servo"].update(ramp_ms="fast"),
                     "ramp_ms: must be a number"),
}


@pytest.mark.parametrize("name", sorted(FAULTY_CONFIGS))
def test_read_config_refuses_a_config_with_problems_naming_file_and_problem(tmp_path, name):
    change, problem = FAULTY_CONFIGS[name]
    path = _shipped_config_with(tmp_path, name, change)
    with pytest.raises(SmartbinError) as raised:
        power.read_config(path)
    assert str(path) in str(raised.value) and problem in str(raised.value)
    # lenient: the Config the firmware would run, with its problems listed
    _, config = power.read_config(path, strict=False)
    assert any(problem in line for line in config.problems)


def test_the_refusal_names_the_first_problems_and_counts_the_rest(tmp_path):
    path = _shipped_config_with(tmp_path, "many.json", lambda raw: raw["servo"].update(
        ramp_ms="a", gentle_ramp_ms="b", step_ms="c", hold_open_ms="d", settle_ms="e"))
    with pytest.raises(SmartbinError) as raised:
        power.read_config(path)
    message = str(raised.value)
    assert "ramp_ms" in message and "step_ms" in message and "and 2 more" in message
    assert "\n" not in message


@pytest.mark.parametrize("name", sorted(FAULTY_CONFIGS))
def test_every_command_whose_figures_depend_on_the_bin_config_refuses_its_problems(
        tmp_path, tiny_int8_model, capsys, name):
    change, problem = FAULTY_CONFIGS[name]
    path = str(_shipped_config_with(tmp_path, name, change))
    photo = tmp_path / "photo.png"
    Image.new("RGB", (120, 90), (90, 120, 60)).save(photo)
    commands = {
        "power": ["power", "--config", path],
        "evaluate": ["evaluate", "--model", str(tiny_int8_model), "--data", str(tmp_path),
                     "--config", path],
        "export": ["export", str(tmp_path / "train"), "--data", str(tmp_path), "--split",
                   str(tmp_path / "split.json"), "--out", str(tmp_path / "model"),
                   "--config", path],
        "predict": ["predict", "--model", str(tiny_int8_model), str(photo), "--config", path],
    }
    for command, argv in commands.items():
        assert main(argv) == 1, command
        captured = capsys.readouterr()
        assert captured.out == "", command  # no figures for another bin
        assert captured.err.count("\n") == 1 and "Traceback" not in captured.err, command
        assert path in captured.err and problem in captured.err, command
    assert not (tmp_path / "model").exists()
