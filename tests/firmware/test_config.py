"""config.json validation: the committed default is clean; every bad value becomes a safe
default plus a named problem, never an exception."""
import json

from smartbin import config as config_module

from .helpers import FIRMWARE, flash_with


def default_raw():
    return json.loads((FIRMWARE / "config.json").read_text())


def test_the_committed_default_config_has_no_problems():
    config = config_module.validate(default_raw())
    assert config.problems == []
    assert [lid["name"] for lid in config.lids] == ["paper", "containers", "general"]
    assert config.class_to_lid["glass"] == "containers"
    assert config.pins["wake"] == 13 and config.pins["camera_power"] == 32


def test_the_committed_default_config_leaves_the_threshold_to_the_model():
    assert config_module.validate(default_raw()).threshold is None


def test_a_threshold_in_the_config_is_kept_and_a_bad_one_means_the_models():
    raw = default_raw()
    raw["decide"]["threshold"] = 0.75
    assert config_module.validate(raw).threshold == 0.75
    for bad in (1.5, -0.1, True, "0.7"):
        raw["decide"]["threshold"] = bad
        config = config_module.validate(raw)
        assert config.threshold is None
        assert any(p.startswith("threshold:") for p in config.problems)


def test_missing_file_and_invalid_json_give_all_defaults():
    missing = config_module.load(flash_with(config_text=False))
    assert missing.problems[0].startswith("/config.json: missing")
    assert missing.threshold is None and len(missing.lids) == 3
    broken = config_module.load(flash_with(config_text="{oops"))
    assert "not valid JSON" in broken.problems[0]
    not_object = config_module.validate([1, 2])
    assert not_object.problems and not_object.hold_open_ms == 2500


def test_out_of_range_and_wrong_type_values_are_replaced_and_named():
    raw = default_raw()
    raw["decide"]["threshold"] = "high"
    raw["servo"]["step_ms"] = 0
    raw["servo"]["hold_open_ms"] = 2.5
    raw["camera"]["flash"] = "yes"
    raw["debug"]["dir"] = "debug"
    config = config_module.validate(raw)
    assert (config.threshold, config.step_ms, config.hold_open_ms) == (None, 20, 2500)
    assert config.flash is False and config.debug_dir == "/debug"
    text = " ".join(config.problems)
    for name in ("threshold", "step_ms", "hold_open_ms", "flash", "debug.dir"):
        assert name in text


def test_bad_lids_are_repaired_without_driving_a_wrong_pin():
    raw = default_raw()
    raw["lids"][1]["pin"] = 14  # shared with lid 0
    raw["lids"][2]["open_us"] = 9000
    raw["lids"].append({"name": "paper", "pin": 12, "closed_us": 1000, "open_us": 2000})
    config = config_module.validate(raw)
    assert config.lids[1]["pin"] == -1
    assert config.lids[2]["open_us"] == 2000
    assert config.lids[3]["name"] == "lid3"
    assert any("duplicate" in p for p in config.problems)
    assert any("shared" in p for p in config.problems)


def test_class_map_and_general_lid_must_name_real_lids():
    raw = default_raw()
    raw["class_to_lid"]["glass"] = "bottles"
    raw["decide"]["general_lid"] = "landfill"
    config = config_module.validate(raw)
    assert "glass" not in config.class_to_lid
    assert config.general_lid == "general"  # the last lid
    assert any("bottles" in p for p in config.problems)


def test_wake_pin_must_be_an_rtc_gpio_and_unknown_keys_are_reported():
    raw = default_raw()
    raw["pins"]["wake"] = 16
    raw["pins"]["sd_card"] = 5
    raw["colour"] = "green"
    config = config_module.validate(raw)
    assert config.pins["wake"] == 13
    text = " ".join(config.problems)
    assert "pins.wake" in text and "pins.sd_card" in text and "colour" in text


def test_watchdog_is_raised_above_the_longest_lid_cycle():
    raw = default_raw()
    raw["watchdog_ms"] = 10000
    raw["servo"]["hold_open_ms"] = 15000
    config = config_module.validate(raw)
    assert config.watchdog_ms >= 15000 + 2 * config.gentle_ramp_ms + 10000


def test_a_deeply_nested_config_means_defaults_not_a_crash():
    from .helpers import RamStorage
    storage = RamStorage()
    storage.files["/config.json"] = b"[" * 100_000 + b"]" * 100_000
    config = config_module.load(storage)
    assert config.problems[0] == "/config.json: not valid JSON, using defaults"
