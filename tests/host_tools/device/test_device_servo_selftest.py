"""`smartbin servo` and `smartbin selftest` against the virtual board running the app."""
import re

import pytest

from host_tools.cli import main
from host_tools.device.deploy import plan
from host_tools.device.selftest import selftest
from host_tools.device.servo import move_lid
from host_tools.device.transport import Board
from host_tools.errors import SmartbinError
from device_fixtures import level_board

LIDS = ["paper", "containers", "general"]  # firmware/config.json


def rgb565_frame(level, pixels=96 * 96):
    """A frame of one grey level (the virtual microlite picks class level * 6 // 256)."""
    value = ((level >> 3) << 11) | ((level >> 2) << 5) | (level >> 3)
    return bytes([value >> 8, value & 0xFF]) * pixels


def test_selftest_reports_every_step_ok_and_classifies_the_photo(board, deployed):
    (board.frames_dir / "plastic.raw").write_bytes(rgb565_frame(4 * 256 // 6 + 10))
    try:
        seen = []
        results = selftest(board.port, on_step=lambda *step: seen.append(step))
    finally:
        (board.frames_dir / "plastic.raw").unlink()
    assert seen == results
    assert [name for name, _, _ in results] == (
        ["config"] + ["lid %s" % name for name in LIDS] + ["LEDs", "photo", "inference"])
    assert all(ok for _, ok, _ in results), results
    details = dict((name, detail) for name, _, detail in results)
    assert details["lid paper"].startswith("paper (GPIO14) opened to 2000 us and closed to 1000")
    assert details["photo"].startswith("96x96 RGB565 frame")
    assert re.match(r"^plastic 1\.00 in \d+ ms$", details["inference"])


def test_selftest_cli_prints_ok_per_step(board, deployed, capsys):
    assert main(["selftest", "--port", board.port]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 8
    assert all(line.startswith("OK ") for line in lines[:-1])
    assert lines[-1] == "selftest: all 7 steps passed"


def test_selftest_on_a_stock_firmware_fails_the_camera_and_model_steps_with_reasons(
        tmp_path, firmware_copy, tiny_model, capsys):
    with level_board(tmp_path / "stock", firmware="stock") as stock:
        for board_path, data in plan(firmware_copy, tiny_model):  # as an older deploy left it
            target = stock.flash_dir / board_path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        assert main(["selftest", "--port", stock.port]) == 1
        captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["OK"] * 5 + ["FAIL", "FAIL"]
    assert "ImportError" in lines[5] and "camera" in lines[5]
    assert "no microlite module in this firmware" in lines[6]
    assert captured.err.strip() == "error: selftest: 2 of 7 steps failed (photo, inference)"


def test_selftest_without_the_application_says_to_deploy_first(tmp_path):
    with level_board(tmp_path / "empty") as empty:
        with pytest.raises(SmartbinError, match="application is not on the board.*deploy"):
            selftest(empty.port)


def test_servo_holds_the_lid_at_the_pulse_width_and_leaves_the_bin_at_its_prompt(
        board, deployed):
    assert move_lid(board.port, "containers", 1700) == 15
    # No restart happened: the session's servo output still sends 1700 us pulses.
    with Board(board.port, soft_reset=False) as connection:
        assert connection.eval("_selftest.session().hw.lids[1].pwm.duty_ns()") == 1700000


def test_servo_names_the_boards_lids_when_the_lid_is_unknown(board, deployed):
    with pytest.raises(SmartbinError, match=r"no lid named 'lid9'.*paper, containers, general"):
        move_lid(board.port, "lid9", 1500)


@pytest.mark.parametrize("us", ["3000", "499", "-5", "nan", "1500.5"])
def test_servo_refuses_an_unsafe_pulse_width_in_one_line_before_looking_for_the_board(
        us, capsys):
    assert main(["servo", "--port", "/dev/ttyNOPE0", "--lid", "paper", "--us", us]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "outside the safe range 500..2500 us" in error


def test_servo_cli_says_where_the_lid_is_held_and_what_to_do_next(board, deployed, capsys):
    assert main(["servo", "--port", board.port, "--lid", "paper", "--us", "1250"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("lid paper (GPIO14) held at 1250 us.")
    assert "closed_us or open_us in config.json" in out


def test_after_a_refused_lid_name_the_bin_goes_back_to_its_application(board, deployed):
    with pytest.raises(SmartbinError, match="no lid named"):
        move_lid(board.port, "lid9", 1500)
    # restarted (machine.reset), not left at the prompt with the session's objects
    with Board(board.port, soft_reset=False) as connection:
        assert connection.eval("'_selftest' in globals()") is False
        assert connection.eval("__import__('machine').reset_cause()") == 2  # HARD_RESET


def test_selftest_names_a_clashing_pin_and_skips_the_lid_that_lost_it(
        tmp_path, firmware_copy, tiny_model):
    import json

    with level_board(tmp_path / "clash") as clash:
        for board_path, data in plan(firmware_copy, tiny_model):
            target = clash.flash_dir / board_path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        raw = json.loads((clash.flash_dir / "config.json").read_text())
        raw["lids"][0]["pin"] = 16  # edited on the board by hand: the PSRAM's pin
        (clash.flash_dir / "config.json").write_text(json.dumps(raw))
        results = {name: (ok, detail) for name, ok, detail in selftest(clash.port)}
    assert results["config"] == (False, "1 problem(s), defaults used: pins: GPIO16 for lid "
                                        "paper belongs to the PSRAM (CS)")
    assert results["lid paper"] == (False, "paper: no usable pin in /config.json")
    assert results["lid containers"][0] and results["inference"][0]


def test_selftest_saves_the_photo_it_classified_as_a_png(board, deployed, tmp_path, capsys):
    import numpy as np
    from PIL import Image

    from host_tools import contract

    rgb = np.random.default_rng(5).integers(0, 256, size=(96, 96, 3), dtype=np.uint8)
    (board.frames_dir / "shot.raw").write_bytes(contract.rgb888_to_rgb565(rgb))
    try:
        assert main(["selftest", "--port", board.port, "--photo",
                     str(tmp_path / "seen.png")]) == 0
    finally:
        (board.frames_dir / "shot.raw").unlink()
    assert "photo saved: %s" % (tmp_path / "seen.png") in capsys.readouterr().out
    saved = np.asarray(Image.open(tmp_path / "seen.png"))
    expected = contract.rgb565_to_rgb888(contract.rgb888_to_rgb565(rgb), 96, 96)
    assert saved.tobytes() == expected.tobytes()
    assert not (board.flash_dir / "selftest.raw").exists()


def test_selftest_photo_must_be_a_png_and_is_checked_before_looking_for_the_board(capsys):
    assert main(["selftest", "--port", "/dev/ttyNOPE0", "--photo", "seen.jpg"]) == 1
    assert capsys.readouterr().err == "error: --photo must name a .png file, not seen.jpg\n"
