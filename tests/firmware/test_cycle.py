"""The bin's cycle under CPython with fake hardware: which lid opens, how the lids move,
what gets logged, and that no fault stops the bin."""
import json
import re

from sim.fake_microlite import FakeMicrolite
from smartbin import storage as storage_module
from smartbin.counts import Counts
from smartbin.debug_store import DebugStore
from smartbin.errors_log import ErrorLog
from smartbin.lids import ease

from .helpers import LABELS, contract_dict, flash_with, frame_for_class


def test_each_item_opens_the_lid_its_class_maps_to(make_bin):
    frames = [frame_for_class(LABELS.index(name)) for name in ("paper", "glass", "cardboard",
                                                               "metal", "plastic")]
    smart_bin = make_bin(flash_with(), frames=frames, wakes=["sensor"] * 5)
    smart_bin.run(wakes=5)
    assert smart_bin.moves() == ["paper", "containers", "paper", "containers", "containers"]
    counts = smart_bin.counts()
    assert counts["items"] == 5
    assert counts["classes"] == {"paper": 1, "glass": 1, "cardboard": 1, "metal": 1,
                                 "plastic": 1}
    assert counts["lids"] == {"paper": 2, "containers": 3}


def test_trash_goes_to_the_general_lid(make_bin):
    smart_bin = make_bin(flash_with(), frames=[frame_for_class(LABELS.index("trash"))])
    smart_bin.run()
    assert smart_bin.moves() == ["general"]


def test_unsure_item_is_recaptured_once_then_goes_to_the_general_lid(make_bin):
    smart_bin = make_bin(flash_with(), frames=[frame_for_class(LABELS.index("glass"))],
                         microlite=FakeMicrolite(winner_score=0))  # confidence 0.5 < 0.6
    smart_bin.run()
    assert smart_bin.moves() == ["general"]
    assert smart_bin.hw.camera.captures == smart_bin.config.warmup_frames + 2
    assert smart_bin.counts()["uncertain"] == 1


def _contract_with_threshold(threshold):
    contract = contract_dict()
    contract["sorting"] = {"threshold": threshold, "target_contamination": 0.1}
    return contract


def test_the_models_recommended_threshold_decides_when_the_config_sets_none(make_bin):
    glass = frame_for_class(LABELS.index("glass"))
    lenient = make_bin(flash_with(contract=_contract_with_threshold(0.45)), frames=[glass],
                       microlite=FakeMicrolite(winner_score=0))  # confidence 0.5
    lenient.run()
    assert lenient.moves() == ["containers"]
    strict = make_bin(flash_with(contract=_contract_with_threshold(0.55)), frames=[glass],
                      microlite=FakeMicrolite(winner_score=0))
    strict.run()
    assert strict.moves() == ["general"]


def test_a_threshold_in_config_json_overrides_the_models(make_bin):
    config = json.loads(flash_with().read("/config.json"))
    config["decide"]["threshold"] = 0.6
    storage = flash_with(json.dumps(config), contract=_contract_with_threshold(0.45))
    smart_bin = make_bin(storage, frames=[frame_for_class(LABELS.index("glass"))],
                         microlite=FakeMicrolite(winner_score=0))
    smart_bin.run()
    assert smart_bin.moves() == ["general"]


def test_a_bad_threshold_in_model_json_is_a_model_error(make_bin):
    smart_bin = make_bin(flash_with(contract=_contract_with_threshold(1.5)),
                         frames=[frame_for_class(1)])
    bin_state = smart_bin.run()
    assert bin_state.classifier is None
    assert "sorting.threshold" in smart_bin.errors()


def test_without_recapture_an_unsure_item_is_captured_once(make_bin):
    config = json.loads(flash_with().read("/config.json"))
    config["decide"]["recapture"] = False
    smart_bin = make_bin(flash_with(json.dumps(config)), frames=[frame_for_class(1)],
                         microlite=FakeMicrolite(winner_score=0))
    smart_bin.run()
    assert smart_bin.hw.camera.captures == smart_bin.config.warmup_frames + 1


def test_camera_is_off_before_any_lid_moves_and_servo_pwm_stops_after(make_bin):
    smart_bin = make_bin(flash_with(), frames=[frame_for_class(1)])
    smart_bin.run()
    camera_off = [t for t, event in smart_bin.hw.camera.records if event == "off"][-1]
    servo = smart_bin.hw.lids[1]
    first_pulse_of_item = [t for t, pulse in servo.records if pulse not in (0, 1000)][0]
    assert camera_off <= first_pulse_of_item
    assert servo.records[-1][1] == 0 and servo.pulse == 0


def test_only_one_servo_moves_at_a_time(make_bin):
    frames = [frame_for_class(i) for i in range(6)]
    smart_bin = make_bin(flash_with(), frames=frames, wakes=["sensor"] * 6)
    smart_bin.run(wakes=6)
    intervals = []
    for servo in smart_bin.hw.lids:
        start = None
        for t, pulse in servo.records:
            if pulse and start is None:
                start = t
            if not pulse and start is not None:
                intervals.append((start, t))
                start = None
    intervals.sort()
    assert len(intervals) >= 6 + 3  # boot closes three lids, six items
    for (_, end), (next_start, _) in zip(intervals, intervals[1:]):
        assert end <= next_start


def test_lid_eases_open_holds_and_closes_within_its_calibration(make_bin):
    config = json.loads(flash_with().read("/config.json"))
    config["lids"][0]["closed_us"] = 1200
    config["lids"][0]["open_us"] = 1900
    smart_bin = make_bin(flash_with(json.dumps(config)), frames=[frame_for_class(3)],
                         reset_cause="deep_sleep")
    smart_bin.run()
    pulses = [pulse for _, pulse in smart_bin.hw.lids[0].records if pulse]
    assert min(pulses) >= 1200 and max(pulses) == 1900
    opening = pulses[:pulses.index(1900) + 1]
    steps = [b - a for a, b in zip(opening, opening[1:])]
    assert steps[0] < max(steps) and steps[-1] < max(steps)  # slow start, slow stop
    times = [t for t, pulse in smart_bin.hw.lids[0].records if pulse == 1900]
    assert times[-1] - times[0] == 0  # one open pulse, then held without new pulses
    assert ease(0, 10) == 0 and ease(10, 10) == 256


def test_cold_boot_closes_every_lid_but_a_wake_from_deep_sleep_does_not(make_bin):
    cold = make_bin(flash_with(), wakes=["power_on"])
    cold.run()
    assert all(servo.records and servo.records[0][1] == 1000 for servo in cold.hw.lids)
    warm = make_bin(flash_with(), wakes=["timer"], reset_cause="deep_sleep")
    warm.run()
    assert all(not servo.records for servo in warm.hw.lids)


def test_power_on_and_timer_wakes_open_no_lid(make_bin):
    smart_bin = make_bin(flash_with(), wakes=["power_on", "timer"])
    smart_bin.run(wakes=2)
    assert smart_bin.moves() == []
    assert smart_bin.hw.camera.power_ups == 0


def test_a_soft_reset_does_not_serve_the_stale_wake_of_the_last_deep_sleep(make_bin):
    # after `smartbin deploy` restarts the app, the ESP32 still reports the ext0 wake
    smart_bin = make_bin(flash_with(), frames=[frame_for_class(1)], wakes=["sensor"],
                         reset_cause="soft")
    smart_bin.run()
    assert smart_bin.moves() == [] and smart_bin.hw.camera.power_ups == 0


def test_camera_failure_still_empties_the_chute_into_the_general_lid(make_bin):
    smart_bin = make_bin(flash_with(), frames=[frame_for_class(1)])
    smart_bin.hw.camera.broken = True
    smart_bin.run()
    assert smart_bin.moves() == ["general"]
    assert "camera" in smart_bin.errors()
    assert not smart_bin.hw.camera.is_on


def test_an_exception_in_a_cycle_is_logged_and_the_next_item_is_served(make_bin):
    smart_bin = make_bin(flash_with(), frames=[frame_for_class(1), frame_for_class(3)],
                         wakes=["sensor", "sensor"])
    smart_bin.hw.lids[1].pulse_us = None  # a driver bug: calling it raises TypeError
    bin_state = smart_bin.run(wakes=2)
    assert "cycle: TypeError" in smart_bin.errors()
    assert smart_bin.moves() == ["paper"]
    assert bin_state.counts.values["errors"] == 1
    assert smart_bin.hw.power.sleeps and len(smart_bin.hw.power.sleeps) == 2


def test_a_full_filesystem_never_stops_the_bin(make_bin):
    storage = flash_with()
    smart_bin = make_bin(storage, frames=[frame_for_class(i) for i in (1, 3, 5)],
                         wakes=["sensor"] * 3)
    storage.full = True
    smart_bin.run(wakes=3)
    assert smart_bin.moves() == ["containers", "paper", "general"]
    assert len(smart_bin.hw.power.sleeps) == 3


def test_debug_frames_are_kept_with_their_prediction(make_bin):
    smart_bin = make_bin(flash_with(), frames=[frame_for_class(2)])
    smart_bin.run()
    meta = json.loads(smart_bin.storage.read("/debug/000000.json"))
    assert meta["label"] == "metal" and meta["lid"] == "containers"
    assert meta["width"] == 96 and meta["format"] == "RGB565"
    assert meta["scores"][2] == 127 and meta["labels"] == LABELS
    assert smart_bin.storage.read("/debug/000000.raw") == frame_for_class(2)


def test_bad_config_values_fall_back_to_defaults_and_blink_the_config_code(make_bin):
    config = json.loads(flash_with().read("/config.json"))
    config["decide"]["threshold"] = 7
    config["lids"][0]["pin"] = 34  # input-only GPIO
    smart_bin = make_bin(flash_with(json.dumps(config)), frames=[frame_for_class(1)])
    bin_state = smart_bin.run()
    assert bin_state.config.threshold is None  # the model's threshold
    assert "threshold" in smart_bin.errors()
    assert "GPIO34 for lid paper is input-only" in smart_bin.errors()
    assert smart_bin.hw.status_led.blinks() == 2 * 2  # code 2, shown twice
    assert smart_bin.moves() == ["containers"]


def test_corrupt_model_json_keeps_the_bin_sorting_into_the_general_lid(make_bin):
    storage = flash_with()
    storage.files["/model.json"] = b"{not json"
    smart_bin = make_bin(storage, frames=[frame_for_class(1)])
    bin_state = smart_bin.run()
    assert bin_state.classifier is None
    assert "model: model.json: not valid JSON" in smart_bin.errors()
    assert smart_bin.hw.status_led.blinks() == 3 * 2
    assert smart_bin.moves() == ["general"]


def test_a_model_the_interpreter_rejects_is_logged_not_fatal(make_bin):
    smart_bin = make_bin(flash_with(), frames=[frame_for_class(1)],
                         microlite=FakeMicrolite(broken=True))
    smart_bin.run()
    assert "AllocateTensors" in smart_bin.errors()
    assert smart_bin.moves() == ["general"]


def test_a_model_whose_scores_do_not_match_the_labels_is_logged_not_used(make_bin):
    smart_bin = make_bin(flash_with(), frames=[frame_for_class(1)],
                         microlite=FakeMicrolite(labels=4))
    bin_state = smart_bin.run()
    assert bin_state.classifier is None
    assert "output size does not match" in smart_bin.errors()
    assert smart_bin.moves() == ["general"]


def test_an_arena_that_fell_back_to_psram_is_logged_at_a_cold_boot(make_bin):
    smart_bin = make_bin(flash_with(), frames=[frame_for_class(1)],
                         microlite=FakeMicrolite(arena_internal=False))
    smart_bin.run()
    assert "arena (60000 bytes) is in PSRAM" in smart_bin.errors()
    assert smart_bin.moves() == ["containers"]  # slower, but glass still goes to its lid


def test_an_arena_in_internal_ram_logs_nothing(make_bin):
    smart_bin = make_bin(flash_with(), frames=[frame_for_class(1)],
                         microlite=FakeMicrolite(arena_internal=True))
    smart_bin.run()
    assert "PSRAM" not in smart_bin.errors()


def test_firmware_without_bulk_buffer_fills_the_tensor_value_by_value(make_bin):
    smart_bin = make_bin(flash_with(), frames=[frame_for_class(4)],
                         microlite=FakeMicrolite(with_buffer=False))
    bin_state = smart_bin.run()
    assert bin_state.classifier.staging is not None
    assert smart_bin.moves() == ["containers"]
    assert smart_bin.counts()["classes"] == {"plastic": 1}


def _opening_steps(servo, cold):
    """Pulses of a servo's first opening move (after the boot close on a cold start)."""
    pulses = [p for _, p in servo.records if p][1 if cold else 0:]
    return pulses[:pulses.index(2000) + 1]


def _with_config(**servo):
    config = json.loads(flash_with().read("/config.json"))
    config["servo"].update(servo)
    return flash_with(json.dumps(config))


def test_a_power_on_restart_mid_move_gives_gentle_moves_for_a_bounded_number_of_items(make_bin):
    storage = _with_config(gentle_items=2)
    storage.files["/moving"] = b"1"  # left by a lid that was moving when power was lost
    smart_bin = make_bin(storage, frames=[frame_for_class(3)], reset_cause="power_on")
    bin_state = smart_bin.run()
    assert bin_state.brownout
    assert "power lost during a lid move" in smart_bin.errors()
    assert not storage.exists("/moving")
    config = smart_bin.config
    assert len(_opening_steps(smart_bin.hw.lids[0], True)) == config.gentle_ramp_ms // config.step_ms
    # the first item used one of the two gentle items; the next uses the second, then normal
    second = make_bin(storage, frames=[frame_for_class(3)], reset_cause="deep_sleep")
    second.run()
    assert len(_opening_steps(second.hw.lids[0], False)) == config.gentle_ramp_ms // config.step_ms
    third = make_bin(storage, frames=[frame_for_class(3)], reset_cause="deep_sleep")
    assert not third.run().lids.gentle
    assert len(_opening_steps(third.hw.lids[0], False)) == config.ramp_ms // config.step_ms
    assert not storage.exists("/gentle")


def test_a_watchdog_restart_mid_move_is_logged_but_does_not_slow_the_lids(make_bin):
    storage = flash_with()
    storage.files["/moving"] = b"1"
    smart_bin = make_bin(storage, frames=[frame_for_class(3)], reset_cause="watchdog")
    bin_state = smart_bin.run()
    assert not bin_state.brownout and not bin_state.lids.gentle
    assert "watchdog reset during a lid move" in smart_bin.errors()
    assert not storage.exists("/moving") and not storage.exists("/gentle")


def test_a_marker_from_an_older_firmware_or_a_garbled_count_ends_gentle_mode_soon(make_bin):
    storage = flash_with()
    storage.files["/gentle"] = b"1"  # older firmware: "gentle forever"
    smart_bin = make_bin(storage, reset_cause="deep_sleep", frames=[frame_for_class(3)])
    smart_bin.run()
    config = smart_bin.config
    assert len(_opening_steps(smart_bin.hw.lids[0], False)) == (config.gentle_ramp_ms
                                                               // config.step_ms)
    assert not storage.exists("/gentle")
    storage.files["/gentle"] = b"garbled"
    assert not make_bin(storage, reset_cause="deep_sleep", wakes=["timer"]).run().lids.gentle


def test_an_error_during_a_lid_move_leaves_no_restart_marker(make_bin):
    smart_bin = make_bin(flash_with(), frames=[frame_for_class(3)], reset_cause="deep_sleep")

    def broken_servo(us):
        raise ValueError("servo driver fault")

    smart_bin.hw.lids[0].pulse_us = broken_servo
    smart_bin.run()
    assert "servo driver fault" in smart_bin.errors()
    assert not smart_bin.storage.exists("/moving")


def test_the_watchdog_is_fed_through_a_long_hold(make_bin):
    config = json.loads(flash_with().read("/config.json"))
    config["servo"]["hold_open_ms"] = 20000
    smart_bin = make_bin(flash_with(json.dumps(config)), frames=[frame_for_class(1)] * 3,
                         wakes=["sensor"] * 3)
    smart_bin.run(wakes=3)
    assert smart_bin.hw.power.watchdog_timeouts == 0
    assert smart_bin.hw.power.watchdog_ms >= 30000


def test_the_bin_waits_for_the_sensor_to_go_quiet_then_arms_it(make_bin):
    config = json.loads(flash_with().read("/config.json"))
    config["sleep"]["wait_idle_ms"] = 60000
    smart_bin = make_bin(flash_with(json.dumps(config)), frames=[frame_for_class(1)],
                         active_ms=50000, reset_cause="deep_sleep")
    smart_bin.run()
    quiet_at = smart_bin.hw.wake.active_until
    assert smart_bin.hw.lids[1].records[-1][0] < quiet_at  # the sensor outlasted the cycle
    assert quiet_at <= smart_bin.hw.power.sleeps[0] < quiet_at + 100
    assert smart_bin.hw.wake.armed_sensor is True
    assert smart_bin.hw.power.instant_wakes == 0 and smart_bin.hw.power.timer_sleeps == []


def test_a_sensor_that_stays_active_is_not_armed_and_nothing_more_is_sorted(make_bin):
    """A PIR idling at the wake level (or holding longer than the wait) would re-wake the
    bin at once through the level-triggered ext0 wake; the bin sleeps on a timer instead."""
    smart_bin = make_bin(flash_with(), frames=[frame_for_class(1)] * 3,
                         wakes=["sensor", "timer", "timer"], active_ms=10 ** 9,
                         reset_cause="deep_sleep")
    smart_bin.run(wakes=3)
    power = smart_bin.hw.power
    assert power.instant_wakes == 0
    assert [ms for _, ms in power.timer_sleeps] == [smart_bin.config.busy_sensor_sleep_ms] * 3
    assert smart_bin.hw.wake.armed_sensor is False
    assert smart_bin.moves() == ["containers"]  # the one real item; timer wakes sort nothing
    assert smart_bin.errors().count("wake sensor still active") == 1


def test_the_old_behaviour_would_have_woken_the_bin_at_once(make_bin):
    """The fake reports what a board does when the sensor is armed while active."""
    smart_bin = make_bin(flash_with(), wakes=["timer"], active_ms=10 ** 9)
    smart_bin.hw.wake.reason()
    smart_bin.hw.power.deep_sleep()
    assert smart_bin.hw.power.instant_wakes == 1


def test_counts_survive_a_power_cut_in_the_middle_of_a_write(tmp_path, monkeypatch):
    storage = storage_module.Storage(str(tmp_path))
    counts = Counts(storage, "/counts.json")
    counts.add_item("glass", "containers", True)

    def power_cut(source, destination):
        raise OSError(5, "power lost")

    monkeypatch.setattr(storage_module.os, "rename", power_cut)
    try:
        counts.add_item("paper", "paper", True)
    except OSError:
        pass
    monkeypatch.undo()
    reloaded = Counts(storage, "/counts.json")
    assert reloaded.problem is None
    assert reloaded.values["items"] == 1 and reloaded.values["classes"] == {"glass": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counts.json"]


def test_corrupt_counts_file_restarts_counting_and_says_so(tmp_path):
    storage = storage_module.Storage(str(tmp_path))
    (tmp_path / "counts.json").write_bytes(b"\x00garbage")
    counts = Counts(storage, "/counts.json")
    assert counts.problem and counts.values["items"] == 0


def test_debug_store_is_bounded_in_count_and_bytes_dropping_the_oldest(tmp_path):
    storage = storage_module.Storage(str(tmp_path))
    store = DebugStore(storage, "/debug", max_frames=3, max_bytes=10000)
    for i in range(5):
        assert store.keep(bytes([i]) * 1000, {"label": "x"})
    names = sorted(p.name for p in (tmp_path / "debug").iterdir())
    assert names == ["000002.json", "000002.raw", "000003.json", "000003.raw",
                     "000004.json", "000004.raw"]
    (tmp_path / "debug" / "000009.raw.tmp").write_bytes(b"cut short")
    small = DebugStore(storage, "/debug", max_frames=50, max_bytes=2500)
    assert not (tmp_path / "debug" / "000009.raw.tmp").exists()
    assert small.next_seq == 5  # numbering continues after a reboot
    small.keep(bytes(1000), {"label": "y"})
    assert len(small.kept) == 2  # bytes bound: only two frames fit
    assert not small.keep(bytes(5000), {})  # larger than the whole budget: skipped


def test_debug_store_on_a_full_flash_drops_old_frames_then_gives_up_quietly():
    from sim.fakes import RamStorage

    storage = RamStorage(capacity_bytes=3500)
    store = DebugStore(storage, "/debug", max_frames=10, max_bytes=100000)
    results = [store.keep(bytes(1000), {"label": "x"}) for _ in range(6)]
    assert results[:3] == [True, True, True]
    assert any(results[3:])  # room made by dropping the oldest
    storage.full = True
    assert store.keep(bytes(1000), {}) is False
    assert storage.used() <= 3500


def test_errors_log_stays_within_its_limit():
    from sim.fakes import FakeClock, RamStorage

    storage = RamStorage()
    log = ErrorLog(storage, "/errors.log", 600, FakeClock())
    for i in range(100):
        assert log.add("fault number %d" % i)
    text = storage.read("/errors.log")
    assert len(text) <= 600
    assert text.endswith(b"fault number 99\n") and b"fault number 0\n" not in text
    storage.full = True
    assert log.add("no room") is False


def test_grayscale_models_get_grayscale_frames(make_bin):
    contract = contract_dict(colour_order="GRAY")
    frame = bytes([200]) * (96 * 96)
    smart_bin = make_bin(flash_with(contract=contract), frames=[frame],
                         microlite=FakeMicrolite(input_bytes=96 * 96))
    smart_bin.run()
    assert smart_bin.hw.camera.grayscale
    assert smart_bin.counts()["classes"] == {"plastic": 1}  # 200 * 6 // 256 = 4


def test_each_item_prints_one_console_line_with_class_score_lid_and_times(make_bin, capsys):
    smart_bin = make_bin(flash_with(), frames=[frame_for_class(LABELS.index("glass"))])
    smart_bin.run()
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("item ")]
    assert len(lines) == 1
    assert lines[0].startswith("item glass 1.00 -> lid containers (look ")
    look, lid = [int(n) for n in re.findall(r"(\d+) ms", lines[0])]
    assert lid > 0 and look >= 0


def test_an_item_without_a_model_prints_unknown_and_the_general_lid(make_bin, capsys):
    smart_bin = make_bin(flash_with(model=None), frames=[frame_for_class(1)])
    smart_bin.run()
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("item ")]
    assert len(lines) == 1 and lines[0].startswith("item unknown 0.00 -> lid general (look ")


def test_with_the_default_model_and_config_the_debug_store_keeps_what_the_docs_say(make_bin):
    import re as regex

    from .helpers import FIRMWARE, REPO_ROOT

    contract = json.loads((REPO_ROOT / "models" / "default" / "model.json").read_text())
    frame_pixels = contract["isolate"]["frame_width"] * contract["isolate"]["frame_height"]
    config = json.loads((FIRMWARE / "config.json").read_text())["debug"]
    items = config["max_frames"]
    frames = [frame_for_class(n % len(LABELS), pixels=frame_pixels) for n in range(items)]
    smart_bin = make_bin(flash_with(contract=contract), frames=frames, wakes=["sensor"] * items)
    smart_bin.run(wakes=items)
    raw = sorted(name for name in smart_bin.storage.files if name.startswith("/debug/")
                 and name.endswith(".raw"))
    frame_bytes = len(smart_bin.storage.files[raw[0]])
    kept_bytes = sum(len(data) for name, data in smart_bin.storage.files.items()
                     if name.startswith("/debug/"))
    assert smart_bin.counts()["items"] == items
    assert kept_bytes <= config["max_bytes"] and len(raw) < config["max_frames"]
    assert raw[-1] == "/debug/%06d.raw" % (items - 1)  # the newest kept, the oldest gone
    docs = " ".join((REPO_ROOT / "docs" / "config.md").read_text().split())
    stated = regex.search(r"(\d+)x(\d+) RGB565 frames of ([\d,]+) bytes each, so the default "
                          r"`max_bytes` of (\d+) keeps the last (\d+) frames", docs)
    assert stated, "docs/config.md no longer states what the default debug store keeps"
    width, height, each, budget, kept = stated.groups()
    assert (int(width), int(height)) == (contract["isolate"]["frame_width"],
                                         contract["isolate"]["frame_height"])
    assert int(each.replace(",", "")) == frame_bytes == frame_pixels * 2
    assert int(budget) == config["max_bytes"] and int(kept) == len(raw)
