"""The board side of `smartbin preview`, on fake hardware."""
import binascii

from sim.fakes import build_fake_hardware
from smartbin import config as config_module
from smartbin.preview import Preview

from .helpers import flash_with, frame_for_class


def preview(frames=()):
    storage = flash_with()
    config = config_module.load(storage)
    return Preview(build_fake_hardware(config, frames=frames, storage=storage), config)


def printed_frame(text):
    lines = text.split()
    return b"".join(binascii.a2b_base64(line) for line in lines)


def test_a_frame_is_printed_as_base64_lines_and_the_flash_is_read_back(capsys):
    frame = frame_for_class(2)
    session = preview([frame])
    meta = session.frame(96, 96, False, True)
    printed = capsys.readouterr().out
    assert printed_frame(printed) == frame
    assert max(len(line) for line in printed.split()) <= 1024  # short lines
    assert meta == {"width": 96, "height": 96, "format": "RGB565", "bytes": len(frame),
                    "flash": True}
    assert session.frame(96, 96, False, False)["flash"] is False
    assert session.hw.flash_led.lit is False


def test_the_camera_starts_once_with_its_warmup_and_again_for_a_new_size(capsys):
    session = preview()
    camera = session.hw.camera
    session.frame(96, 96, False, False)
    session.frame(96, 96, False, False)
    warmup = session.config.warmup_frames
    assert camera.power_ups == 1 and camera.captures == warmup + 2
    meta = session.frame(160, 120, True, False)
    assert camera.power_ups == 2 and camera.captures == 2 * warmup + 3
    assert (camera.width, camera.height, camera.grayscale) == (160, 120, True)
    assert meta["format"] == "GRAY" and meta["bytes"] == 160 * 120
    assert len(printed_frame(capsys.readouterr().out)) == 2 * 96 * 96 * 2 + 160 * 120


def test_a_failed_capture_is_reported_and_the_next_frame_restarts_the_camera(capsys):
    session = preview()
    camera = session.hw.camera
    session.frame(96, 96, False, False)
    camera.fail_captures(1)
    assert session.frame(96, 96, False, False) == {"error": "camera: fake capture failure",
                                                   "flash": False}
    assert session.frame(96, 96, False, False)["bytes"] == 96 * 96 * 2
    assert camera.power_ups == 2


def test_stop_switches_the_camera_and_flash_off_and_drives_every_lid_closed(capsys):
    session = preview()
    session.frame(96, 96, False, True)
    assert session.stop() == {"camera_on": False, "flash": False}
    assert session.hw.camera.is_on is False
    for servo, lid in zip(session.hw.lids, session.config.lids):
        pulses = [pulse for _, pulse in servo.records]
        assert pulses == [lid["closed_us"], 0]  # closed, then the PWM stopped
