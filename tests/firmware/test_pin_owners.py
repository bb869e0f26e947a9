"""Pins in config.json against the AI-Thinker ESP32-CAM's own: flash, PSRAM, console,
camera, SD card, input-only and strapping pins, and one pin given twice."""
import json

import pytest

from smartbin import config as config_module
from smartbin import pin_owners

from .helpers import FIRMWARE


def default_raw():
    return json.loads((FIRMWARE / "config.json").read_text())


def with_lid_pin(pin, index=0):
    raw = default_raw()
    raw["lids"][index]["pin"] = pin
    return config_module.validate(raw)


def test_the_default_pins_clash_with_nothing_and_only_lids_on_strapping_pins_warn():
    config = config_module.validate(default_raw())
    assert config.pin_conflicts == []
    assert config.pin_warnings == [
        "GPIO15 for lid containers is a strapping pin: it must be high at reset (low "
        "silences the boot messages)",
        "GPIO2 for lid general is a strapping pin: it must be low or floating at reset "
        "(high stops flashing)"]  # the camera's XCLK on GPIO0 and D0 on GPIO5 are wired


@pytest.mark.parametrize("pin, owner", [
    (16, "belongs to the PSRAM (CS)"), (17, "belongs to the PSRAM (CLK)"),
    (6, "belongs to the SPI flash (CLK)"), (11, "belongs to the SPI flash (CMD)"),
    (1, "belongs to the serial console (UART0 TX)"),
    (18, None), (13, None), (36, None), (24, "does not exist on the ESP32"),
])
def test_a_lid_on_a_pin_the_board_uses_is_refused_with_the_owner_named_and_never_driven(
        pin, owner):
    config = with_lid_pin(pin)
    assert config.lids[0]["pin"] == -1
    assert len(config.pin_conflicts) == 1
    problem = config.pin_conflicts[0]
    assert problem.startswith("pins: GPIO%d" % pin) and "lid paper" in problem
    assert problem in config.problems  # the bin blinks code 2 and logs it
    if owner:
        assert problem.endswith(owner)


def test_a_pin_used_twice_names_both_devices():
    assert with_lid_pin(18).pin_conflicts == ["pins: GPIO18 is shared by camera D1 and lid paper"]
    assert with_lid_pin(13).pin_conflicts == ["pins: GPIO13 is shared by wake sensor and lid paper"]
    config = with_lid_pin(15, index=0)  # lid containers is on 15 already
    assert config.pin_conflicts == ["pins: GPIO15 is shared by lid paper and lid containers"]
    assert config.lids[0]["pin"] == 15 and config.lids[1]["pin"] == -1


def test_an_input_only_pin_cannot_drive_a_lid_or_an_led():
    assert with_lid_pin(36).pin_conflicts == [
        "pins: GPIO36 for lid paper is input-only: it cannot drive anything"]
    raw = default_raw()
    raw["pins"]["status_led"] = 38
    config = config_module.validate(raw)
    assert config.pin_conflicts == [
        "pins: GPIO38 for status LED is input-only: it cannot drive anything"]
    assert config.pins["status_led"] == -1


def test_a_lid_on_gpio12_warns_that_the_board_may_not_boot():
    config = with_lid_pin(12)
    assert config.pin_conflicts == []
    assert config.lids[0]["pin"] == 12
    assert any(w.startswith("GPIO12 for lid paper is a strapping pin: it must be low at reset")
               for w in config.pin_warnings)


def test_with_the_sd_card_in_use_its_pins_are_refused():
    config = config_module.validate(default_raw())
    refused, _ = pin_owners.settle(config.pins, config.lids, sd_card=True)
    assert "pins: GPIO14 for lid paper belongs to the SD card (CLK)" in refused
    assert "pins: GPIO13 for wake sensor belongs to the SD card (DATA3)" in refused
    assert config.lids[0]["pin"] == -1
