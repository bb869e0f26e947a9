"""Latch power mode (power.mode "latch"): the bin switches its own supply off after each
item, and a power cut at any step of an item loses or corrupts nothing."""
import copy
import json

import pytest
from sim.fakes import FakeSupply, PowerCut, RamStorage
from smartbin import config as config_module
from smartbin.app import RELEASED_MARKER

from .helpers import FIRMWARE, LABELS, Bin, flash_with, frame_for_class

PAPER = frame_for_class(LABELS.index("paper"))


def latch_raw(**power):
    raw = json.loads((FIRMWARE / "config.json").read_text())
    raw["power"].update({"mode": "latch"}, **power)
    return raw


def latch_flash(storage=None, **power):
    return flash_with(config_text=json.dumps(latch_raw(**power)), storage=storage)


def serve_one(storage, frame=PAPER, **hardware):
    """Switch a latch-powered bin on for one item; (bin, the PowerCut that ended it)."""
    smart_bin = Bin(storage, frames=[frame], wakes=["power_on"], reset_cause="power_on",
                    **hardware)
    try:
        smart_bin.run(wakes=1)
    except PowerCut as cut:
        return smart_bin, cut
    return smart_bin, None


def closed_at_the_end(smart_bin):
    """Every servo that moved ended on its closed pulse, then stopped."""
    for servo, lid in zip(smart_bin.hw.lids, smart_bin.config.lids):
        pulses = [pulse for _, pulse in servo.records if pulse]
        if pulses and pulses[-1] != lid["closed_us"]:
            return False
        if servo.pulse:
            return False
    return True


# --- config ---------------------------------------------------------------------------

def test_deep_sleep_is_the_default_and_claims_no_keep_alive_pin():
    config = config_module.validate(json.loads((FIRMWARE / "config.json").read_text()))
    assert config.power_mode == "deep_sleep" and not config.latch
    assert config.pins["keep_alive"] == -1 and config.problems == []


def test_latch_mode_takes_its_keep_alive_pin_from_the_pin_owner_table():
    config = config_module.validate(latch_raw())
    assert config.latch and config.pins["keep_alive"] == 12 and config.keep_alive_level == 1
    assert config.problems == []
    assert any("GPIO12 for power keep-alive is a strapping pin" in warning
               for warning in config.pin_warnings)


@pytest.mark.parametrize("power,problem", [
    ({"keep_alive_pin": 7}, "GPIO7 for power keep-alive belongs to the SPI flash"),
    ({"keep_alive_pin": 34}, "GPIO34 for power keep-alive is input-only"),
    ({"keep_alive_pin": 13}, "GPIO13 is shared by wake sensor and power keep-alive"),
    ({"keep_alive_pin": 14}, "GPIO14 is shared by power keep-alive and lid paper"),
])
def test_an_unusable_keep_alive_pin_is_refused_and_the_bin_stays_in_deep_sleep_mode(
        power, problem):
    config = config_module.validate(latch_raw(**power))
    assert any(problem in line for line in config.problems), config.problems
    if "lid paper" in problem:  # the keep-alive claimed it first: the lid loses its pin
        assert config.latch and config.lids[0]["pin"] == -1
    else:
        assert not config.latch and config.power_mode == "deep_sleep"
        assert any("latch needs a usable keep_alive_pin" in line for line in config.problems)


@pytest.mark.parametrize("power,problem", [
    ({"mode": "battery"}, "power.mode: must be one of deep_sleep, latch"),
    ({"keep_alive_pin": "12"}, "power.keep_alive_pin: must be a GPIO number"),
    ({"keep_alive_level": 2}, "power.keep_alive_level: must be 0 or 1"),
    ({"release_wait_ms": -5}, "release_wait_ms: must be a number in 0..120000"),
    ({"off_fallback_ms": 60000}, "off_fallback_ms: must be a number in 100..10000"),
])
def test_bad_latch_settings_are_named_and_replaced_by_defaults(power, problem):
    config = config_module.validate(latch_raw(**power))
    assert problem in config.problems


# --- one item, then the power off -----------------------------------------------------

def test_the_bin_serves_the_item_writes_everything_then_releases_the_keep_alive():
    storage = latch_flash(RamStorage())
    smart_bin, cut = serve_one(storage)
    assert cut is not None and "keep-alive released" in str(cut)
    assert smart_bin.moves() == ["paper"] and closed_at_the_end(smart_bin)
    assert smart_bin.counts()["items"] == 1
    assert storage.listdir("/debug") == ["000000.json", "000000.raw"]
    assert storage.exists(RELEASED_MARKER) and not storage.exists("/moving")
    latch = smart_bin.hw.latch
    released_at = latch.records[-1][0]
    assert latch.records[-1][1] == "release"
    last_pulse = max(t for servo in smart_bin.hw.lids for t, _ in servo.records)
    assert released_at >= last_pulse
    assert smart_bin.hw.power.sleeps == []  # the power went off: no deep sleep


def test_a_power_on_after_a_clean_power_off_closes_no_lid_and_serves_the_item():
    storage = latch_flash(RamStorage())
    first, _ = serve_one(storage)
    second, cut = serve_one(storage, frame=frame_for_class(LABELS.index("glass")))
    # the cold first boot closed every lid; the second boot moves only the lid it serves
    assert all(servo.records for servo in first.hw.lids)
    assert second.moves() == ["containers"]
    assert [servo.name for servo in second.hw.lids if servo.records] == ["containers"]
    assert second.counts()["items"] == 2 and cut is not None


def test_the_first_power_on_after_fitting_the_battery_closes_every_lid_then_serves():
    smart_bin, _ = serve_one(latch_flash(RamStorage()))
    assert all(servo.records[0][1] == 1000 for servo in smart_bin.hw.lids)
    assert smart_bin.moves() == ["paper"]


def test_a_sensor_still_active_delays_the_release_until_it_is_idle():
    storage = latch_flash(RamStorage(), release_wait_ms=8000)
    smart_bin, cut = serve_one(storage, active_ms=20000)
    # the item took less than 20 s; the bin waited for the sensor, bounded at 8 s
    release_t = smart_bin.hw.latch.records[-1][0]
    served_t = max(t for servo in smart_bin.hw.lids for t, _ in servo.records)
    assert 8000 <= release_t - served_t <= 8200
    # the sensor still holds the supply: the bin falls back to deep sleep on a timer
    assert cut is None and smart_bin.hw.power.timer_sleeps


def test_a_sensor_that_goes_idle_during_the_wait_is_released_at_once():
    storage = latch_flash(RamStorage(), release_wait_ms=60000)
    smart_bin, cut = serve_one(storage, active_ms=15000)
    release_t = smart_bin.hw.latch.records[-1][0]
    idle_t = smart_bin.hw.wake.active_until  # 15 s after the sensor switched the bin on
    assert idle_t <= release_t <= idle_t + 100 and cut is not None


def test_on_usb_power_the_bin_falls_back_to_deep_sleep_after_a_short_delay(capsys):
    storage = latch_flash(RamStorage(), off_fallback_ms=2000)
    smart_bin, cut = serve_one(storage, cuts_power=False)
    assert cut is None
    release_t = smart_bin.hw.latch.records[-1][0]
    assert smart_bin.hw.power.sleeps == [release_t + 2000]
    assert smart_bin.hw.wake.armed_sensor is True
    assert "power stayed on" in capsys.readouterr().out


def test_a_failed_cycle_closes_every_lid_before_the_power_goes_off():
    storage = latch_flash(RamStorage())
    smart_bin = Bin(storage, frames=[PAPER], wakes=["power_on"], reset_cause="power_on")
    servo = smart_bin.hw.lids[0]
    original = servo.pulse_us

    def jams_when_closing(us):
        if us == 1000 and any(p == 2000 for _, p in servo.records):
            servo.pulse_us = original  # the jam clears: power_off can close it
            raise OSError("servo jammed")
        original(us)

    servo.pulse_us = jams_when_closing
    with pytest.raises(PowerCut):
        smart_bin.run(wakes=1)
    assert "cycle: OSError" in smart_bin.errors()
    assert closed_at_the_end(smart_bin)


# --- a power cut at every step ----------------------------------------------------------

def check_flash_is_whole(files):
    """Nothing on the flash is half-written in a way the bin would read."""
    counts = json.loads(files["/counts.json"])
    for name, data in files.items():
        if name.startswith("/debug/") and name.endswith(".json"):
            json.loads(data)
    log = files.get("/errors.log", b"")
    assert log == b"" or log.endswith(b"\n")
    for line in log.splitlines():
        stamp, _, text = line.partition(b" ")
        assert stamp.isdigit() and text
    if "/gentle" in files:
        assert int(files["/gentle"]) > 0
    return counts["items"]


def debug_pairs(storage):
    names = storage.listdir("/debug")
    assert not [n for n in names if n.endswith(".tmp")]
    stems = sorted({n.rpartition(".")[0] for n in names})
    assert sorted(names) == sorted([s + ".json" for s in stems] + [s + ".raw" for s in stems])
    return stems


def flash_before_the_item(state):
    """The flash as an item finds it: after a clean power-off; after a power cut (cold
    boot: every lid closed, a config problem logged); in gentle mode after a brownout."""
    before = latch_flash(RamStorage())
    serve_one(before)  # one item already sorted: counts, a debug frame, a clean power-off
    if state == "after a power cut":
        raw = latch_raw()
        raw["decide"]["threshold"] = 5  # a bad value: logged at every cold boot
        before.files["/config.json"] = json.dumps(raw).encode()
        del before.files[RELEASED_MARKER]
    elif state == "in gentle mode":
        before.files["/gentle"] = b"2"
    return before


@pytest.mark.parametrize("state", ["after a clean power-off", "after a power cut",
                                   "in gentle mode"])
def test_a_power_cut_at_any_step_of_an_item_loses_nothing_and_the_next_boot_is_normal(
        state):
    before = flash_before_the_item(state)
    supply = FakeSupply()
    clean = RamStorage(supply=supply)
    clean.files = copy.deepcopy(before.files)
    serve_one(clean, supply=supply)
    steps = list(supply.steps)
    assert steps[-1] == "keep-alive off"
    needed = ["rename /counts.json", "rename /debug/000001.raw", "camera on",
              "servo paper", "remove /moving", "rename /released"]
    needed += {"after a clean power-off": ["remove /released"],
               "after a power cut": ["append /errors.log", "servo general"],
               "in gentle mode": ["rename /gentle"]}[state]
    assert set(needed) <= set(steps)
    items_before = json.loads(before.files["/counts.json"])["items"]
    for cut_at in range(1, len(steps)):  # the last step is the planned power-off
        supply = FakeSupply(cut_at)
        storage = RamStorage(supply=supply)
        storage.files = copy.deepcopy(before.files)
        _, cut = serve_one(storage, supply=supply)
        assert cut is not None and "step %d" % cut_at in str(cut)
        where = "cut at step %d (%s)" % (cut_at, steps[cut_at - 1])
        items_cut = check_flash_is_whole(storage.files)
        assert items_cut in (items_before, items_before + 1), where
        # the next item: a normal boot, sorted, counted, and a clean power-off
        storage.supply = None
        after, cut = serve_one(storage, frame=frame_for_class(LABELS.index("glass")))
        assert cut is not None and "keep-alive released" in str(cut), where
        assert after.moves() == ["containers"], where
        assert closed_at_the_end(after), where
        assert check_flash_is_whole(storage.files) == items_cut + 1, where
        assert not storage.exists("/moving") and storage.exists(RELEASED_MARKER), where
        assert len(debug_pairs(storage)) in (2, 3), where
        gentle_before = int(before.files.get("/gentle", b"0"))
        gentle_now = int(storage.files.get("/gentle", b"0"))
        if "power lost during a lid move" in after.errors():
            # only a cut while a servo was moving looks like a brownout: gentle moves for
            # gentle_items items, one of them done
            assert steps[cut_at - 1].startswith(("servo", "remove /moving")), where
            assert gentle_now == after.config.gentle_items - 1, where
        else:  # counted down by the item served, maybe also by the one cut short
            assert gentle_now in (max(0, gentle_before - 1), max(0, gentle_before - 2)), where


# --- a short boot ---------------------------------------------------------------------------

def test_the_camera_starts_before_the_model_is_read_and_the_frame_keeps_boot_to_result():
    storage = latch_flash(RamStorage())
    serve_one(storage)  # the first power-on also closes every lid
    supply = FakeSupply()
    storage.supply = supply
    smart_bin, _ = serve_one(storage, supply=supply, camera_start_ms=250, frame_ms=80)
    steps = supply.steps
    assert steps.index("camera on") < steps.index("read /model.tflite") < steps.index("capture")
    camera_on_t = smart_bin.hw.camera.records[0][0]
    assert smart_bin.hw.camera.records[0][1] == "on" and camera_on_t == 250
    meta = json.loads(storage.read("/debug/000001.json"))
    assert meta["result_ms"] == 250 + 3 * 80  # camera start, two warm-up frames, one frame
    assert not smart_bin.hw.camera.is_on


def test_a_soft_reset_in_latch_mode_serves_nothing_and_leaves_the_camera_off():
    storage = latch_flash(RamStorage())
    smart_bin = Bin(storage, frames=[PAPER], wakes=["sensor"], reset_cause="soft")
    with pytest.raises(PowerCut):
        smart_bin.run(wakes=1)
    assert smart_bin.moves() == [] and not smart_bin.hw.camera.is_on
    assert smart_bin.hw.camera.captures == 0


def test_on_usb_power_every_wake_is_served_and_the_marker_is_written_once():
    supply = FakeSupply()
    storage = latch_flash(RamStorage(supply=supply))
    smart_bin = Bin(storage, frames=[PAPER] * 3, wakes=["power_on", "sensor", "sensor"],
                    reset_cause="power_on", cuts_power=False, supply=supply)
    smart_bin.run(wakes=3)
    assert smart_bin.moves() == ["paper"] * 3 and smart_bin.counts()["items"] == 3
    assert supply.steps.count("rename /released") == 1
    assert supply.steps.count("keep-alive off") == 3
    assert len(smart_bin.hw.power.sleeps) == 3
