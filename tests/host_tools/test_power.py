"""`smartbin power`: battery life and energy per item from the config."""
import json

import pytest

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
        power.estimate(write_config(tmp_path, sleep_ma=0, items_per_day=0))


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
