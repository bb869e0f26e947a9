"""The board-side steps of `smartbin servo` and `smartbin selftest`, on fake hardware."""
import pytest

from sim.fake_microlite import FakeMicrolite
from sim.fakes import build_fake_hardware
from smartbin import config as config_module
from smartbin.selftest import Checks

from .helpers import LABELS, flash_with, frame_for_class


def checks(frames=(), microlite=None, storage=None, broken_camera=False):
    storage = storage if storage is not None else flash_with()
    config = config_module.load(storage)
    hw = build_fake_hardware(config, frames=frames, storage=storage)
    hw.camera.broken = broken_camera
    return Checks(hw, config, microlite)


def test_a_lid_step_opens_to_open_us_closes_to_closed_us_and_stops_the_pwm():
    step = checks()
    ok, detail = step.lid(1)
    assert ok and detail.startswith("containers (GPIO15) opened to 2000 us and closed to 1000 us")
    pulses = [pulse for _, pulse in step.hw.lids[1].records]
    assert max(pulses) == 2000 and pulses[-2] == 1000 and pulses[-1] == 0
    assert all(not servo.records for servo in (step.hw.lids[0], step.hw.lids[2]))


def test_move_lid_keeps_the_pulses_on_and_refuses_unknown_lids_and_unsafe_widths():
    step = checks()
    assert step.move_lid("general", 1350) == 2
    assert step.hw.lids[2].pulse == 1350  # still sending: the servo holds the position
    with pytest.raises(ValueError, match="no lid named 'lid9'"):
        step.move_lid("lid9", 1500)
    with pytest.raises(ValueError, match="outside 500..2500"):
        step.move_lid("paper", 2600)
    assert step.hw.lids[0].records == []


def test_photo_and_inference_classify_the_frame_with_the_deployed_model():
    step = checks(frames=[frame_for_class(LABELS.index("metal"))], microlite=FakeMicrolite())
    ok, detail = step.photo()
    assert ok and detail.startswith("96x96 RGB565 frame in ")
    ok, detail = step.inference()
    assert ok and detail.startswith("metal 1.00 in ")


def test_a_uniform_frame_fails_the_photo_step_with_a_hint():
    ok, detail = checks().photo()  # the fake sensor sends zeros
    assert not ok and "every byte of the 96x96 frame is 0x00" in detail


def test_a_dead_camera_fails_the_photo_and_the_inference_says_why_it_cannot_run():
    step = checks(microlite=FakeMicrolite(), broken_camera=True)
    assert step.photo() == (False, "OSError: fake capture failure")
    assert step.inference() == (False, "no photo to classify (the photo step failed)")
    assert not step.hw.camera.is_on


def test_without_microlite_the_inference_step_names_the_firmware():
    step = checks(frames=[frame_for_class(0)])
    assert step.photo()[0]
    ok, detail = step.inference()
    assert not ok and detail.startswith("no microlite module in this firmware")


def test_a_broken_model_fails_the_inference_step_with_its_error():
    step = checks(frames=[frame_for_class(0)], microlite=FakeMicrolite(broken=True))
    step.photo()
    assert step.inference() == (False, "RuntimeError: AllocateTensors() failed")


def test_config_problems_fail_the_config_step_with_each_problem():
    storage = flash_with('{"lids": "three"}')
    ok, detail = checks(storage=storage).config_step()
    assert not ok and "lids: must be a list of 1..6 lids" in detail
