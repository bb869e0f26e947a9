"""`smartbin deploy` against the virtual board: bytes, sha256 diffing, atomicity, boot check."""
import json

import pytest

from host_tools.cli import main
from host_tools.device import flash_space
from host_tools.device.deploy import deploy, plan
from host_tools.errors import SmartbinError

from device_fixtures import level_board, write_model


def board_file(board, board_path):
    return (board.flash_dir / board_path.lstrip("/")).read_bytes()


def test_deploy_puts_every_file_on_the_board_byte_for_byte_and_the_app_boots(
        board, deployed, firmware_copy, tiny_model):
    files = plan(firmware_copy, tiny_model)
    assert sorted(deployed["sent"]) == sorted(path for path, _ in files)
    for board_path, data in files:
        assert board_file(board, board_path) == data, board_path
    assert {"/main.py", "/lib/smartbin/app.py", "/lib/smartbin/remote.py", "/model.tflite",
            "/model.json", "/config.json"} <= set(deployed["sent"])
    assert "Traceback" not in deployed["boot_output"]
    assert not list(board.flash_dir.rglob("*.part"))


def test_second_deploy_sends_nothing(board, deployed, firmware_copy, tiny_model):
    report = deploy(board.port, firmware_copy, tiny_model, boot_seconds=30)
    assert report["sent"] == []
    assert report["bytes_sent"] == 0
    assert len(report["unchanged"]) == len(plan(firmware_copy, tiny_model))


def test_only_the_changed_config_is_sent(board, deployed, firmware_copy, tiny_model, tmp_path):
    config = json.loads((firmware_copy / "config.json").read_text())
    config["debug"]["max_frames"] = 7
    changed = tmp_path / "config.json"
    changed.write_text(json.dumps(config))
    report = deploy(board.port, firmware_copy, tiny_model, config_path=changed, boot_seconds=30)
    assert report["sent"] == ["/config.json"]
    assert board_file(board, "/config.json") == changed.read_bytes()


def test_cut_cable_mid_copy_keeps_the_old_model_and_a_retry_finishes(
        board, deployed, firmware_copy, tiny_model, tmp_path):
    old_model = board_file(board, "/model.tflite")
    new_model_dir = write_model(tmp_path / "new-model", b"TFL3" + bytes(range(255, -1, -1)) * 16)
    board.cut_link(after_host_bytes=5000, after_pattern=b"/model.tflite.part")
    with pytest.raises(SmartbinError, match="lost the connection to the board"):
        deploy(board.port, firmware_copy, new_model_dir, boot_seconds=30)
    assert board.wait_link_cut()
    partial = board_file(board, "/model.tflite.part")  # the cable went mid-file...
    assert 0 < len(partial) < len(new_model_dir.joinpath("model.tflite").read_bytes())
    assert board_file(board, "/model.tflite") == old_model  # ...and the bin's model is whole
    board.connect()
    report = deploy(board.port, firmware_copy, new_model_dir, boot_seconds=30)
    assert "/model.tflite" in report["sent"]
    assert board_file(board, "/model.tflite") == (new_model_dir / "model.tflite").read_bytes()
    assert not list(board.flash_dir.rglob("*.part"))
    deploy(board.port, firmware_copy, tiny_model, boot_seconds=30)  # as the other tests expect


def test_application_crash_at_boot_is_reported_with_its_error(
        board, deployed, firmware_copy, tiny_model, tmp_path):
    import shutil

    broken = tmp_path / "firmware"
    shutil.copytree(firmware_copy, broken)
    (broken / "main.py").write_text("raise RuntimeError('lid 2 jammed')\n")
    try:
        with pytest.raises(SmartbinError, match="crashed at boot: RuntimeError: lid 2 jammed"):
            deploy(board.port, broken, tiny_model, boot_seconds=30)
    finally:
        deploy(board.port, firmware_copy, tiny_model, boot_seconds=30)


def test_deploy_to_a_full_board_changes_nothing_and_says_how_much_is_missing(
        tmp_path, firmware_copy, tiny_model):
    with level_board(tmp_path / "small", capacity=24 * 1024) as small:
        (small.flash_dir / "config.json").write_bytes(b"{}")
        with pytest.raises(SmartbinError, match="KiB free, the deploy needs"):
            deploy(small.port, firmware_copy, tiny_model, boot_seconds=30)
        assert sorted(p.name for p in small.flash_dir.iterdir()) == ["config.json"]
        assert (small.flash_dir / "config.json").read_bytes() == b"{}"


def _blocks_a_first_deploy_takes(firmware_copy, tiny_model):
    steps, made = [], set()
    for board_path, data in plan(firmware_copy, tiny_model):
        parts = board_path.split("/")[1:-1]
        folders = {"/" + "/".join(parts[:depth]) for depth in range(1, len(parts) + 1)}
        steps.append((len(folders - made), len(data), None))
        made |= folders
    return flash_space.peak_blocks(steps, 4096)


def test_a_deploy_that_fills_the_flash_exactly_fits_and_one_block_less_is_refused_first(
        tmp_path, firmware_copy, tiny_model):
    # The virtual board allocates as littlefs does: 2 blocks per folder (the root too),
    # inline files of up to 128 bytes, CTZ pointers in each later block of a file.
    needed = _blocks_a_first_deploy_takes(firmware_copy, tiny_model)
    root = flash_space.FOLDER_BLOCKS
    with level_board(tmp_path / "short", capacity=(root + needed - 1) * 4096) as short:
        with pytest.raises(SmartbinError, match="needs 4 KiB more"):
            deploy(short.port, firmware_copy, tiny_model, boot_seconds=5)
        assert list(short.flash_dir.iterdir()) == []
    with level_board(tmp_path / "exact", capacity=(root + needed) * 4096) as exact:
        report = deploy(exact.port, firmware_copy, tiny_model, boot_seconds=5)
        assert len(report["sent"]) == len(plan(firmware_copy, tiny_model))


def test_leftover_temp_files_are_removed_before_the_room_is_counted(
        tmp_path, firmware_copy, tiny_model):
    needed = _blocks_a_first_deploy_takes(firmware_copy, tiny_model)
    with level_board(tmp_path / "board", capacity=(2 + needed) * 4096) as virtual:
        # an interrupted deploy's half-sent model: 2 blocks the copy needs
        (virtual.flash_dir / "model.tflite.part").write_bytes(b"x" * 5000)
        report = deploy(virtual.port, firmware_copy, tiny_model, boot_seconds=5)
        assert "/model.tflite.part" in report["removed"]
        assert not (virtual.flash_dir / "model.tflite.part").exists()


@pytest.mark.parametrize("size, blocks", [(0, 0), (128, 0), (129, 1), (4096, 1), (4097, 2),
                                          (8188, 2), (8189, 3), (3 * 4096, 4)])
def test_littlefs_file_blocks_count_inline_files_and_the_skip_list_pointers(size, blocks):
    # block 1 holds 4092 bytes after its pointer, block 2 4088 after two
    assert flash_space.file_blocks(size, 4096) == blocks


def test_the_free_space_is_fragment_size_times_available_blocks():
    assert flash_space.free_blocks((8192, 4096, 100, 40, 30, 0, 0, 0, 0, 255)) == (4096, 30)


def test_modules_left_from_an_earlier_deploy_are_removed(board, deployed, firmware_copy,
                                                         tiny_model):
    stale = board.flash_dir / "lib" / "smartbin" / "old_module.mpy"
    stale.write_bytes(b"M\x06")
    (board.flash_dir / "model.json.part").write_bytes(b"half")
    report = deploy(board.port, firmware_copy, tiny_model, boot_seconds=30)
    assert sorted(report["removed"]) == ["/lib/smartbin/old_module.mpy", "/model.json.part"]
    assert not stale.exists() and not (board.flash_dir / "model.json.part").exists()


def test_mpy_deploy_plan_compiles_every_module_for_the_esp32(firmware_copy, tiny_model):
    files = dict(plan(firmware_copy, tiny_model, mpy=True))
    modules = [path for path in files if path.startswith("/lib/smartbin/")]
    sources = sorted((firmware_copy / "smartbin").glob("*.py"))
    assert sorted(modules) == sorted("/lib/smartbin/%s.mpy" % p.stem for p in sources)
    for path in modules:
        assert files[path][:2] == b"M\x06", path
    # Native (viper) code is compiled for the ESP32: the arch in the flags byte's top bits
    # is xtensawin (10).
    assert files["/lib/smartbin/preprocess_viper.mpy"][2] >> 2 == 10


def test_model_not_matching_its_contract_is_refused_before_connecting(tmp_path, firmware_copy):
    model_dir = write_model(tmp_path / "model")
    (model_dir / "model.tflite").write_bytes(b"something else")
    with pytest.raises(SmartbinError, match="does not match the sha256"):
        plan(firmware_copy, model_dir)


def test_cli_without_port_or_with_a_missing_port_fails_in_one_line(capsys, tiny_model):
    assert main(["deploy", "--model", str(tiny_model)]) == 1
    assert main(["deploy", "--port", "/dev/ttyNOPE0", "--model", str(tiny_model)]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert errors[0].startswith("error: no serial port given")
    assert errors[1].startswith("error: serial port /dev/ttyNOPE0 does not exist")
    assert len(errors) == 2


def test_cli_names_a_missing_model_or_broken_config_before_looking_for_the_board(
        tmp_path, capsys, tiny_model):
    broken = tmp_path / "config.json"
    broken.write_text("{lids")
    assert main(["deploy", "--model", str(tmp_path / "no-model")]) == 1
    assert main(["deploy", "--port", "/dev/ttyNOPE0", "--model", str(tiny_model),
                 "--config", str(broken)]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2
    assert "no model contract" in errors[0] and "not valid JSON" in errors[1]


def test_cli_deploy_reports_what_it_did(board, deployed, firmware_copy, tiny_model, capsys):
    code = main(["deploy", "--port", board.port, "--firmware", str(firmware_copy),
                 "--model", str(tiny_model), "--boot-seconds", "30", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["sent"] == [] and report["port"] == board.port


def test_mpy_deploy_boots_even_where_the_native_preprocessing_cannot_load(
        board, deployed, firmware_copy, tiny_model):
    # The VM has no xtensawin emitter: the app must fall back to the plain preprocessing.
    report = deploy(board.port, firmware_copy, tiny_model, mpy=True, boot_seconds=30)
    assert "/lib/smartbin/preprocess_viper.mpy" in report["sent"]
    assert (board.flash_dir / "lib" / "smartbin" / "app.mpy").exists()
    assert not (board.flash_dir / "lib" / "smartbin" / "app.py").exists()
    assert "Traceback" not in report["boot_output"]


# ---- what the board's firmware can do ---------------------------------------------------
def test_a_stock_micropython_board_is_refused_in_one_line_and_nothing_is_copied(
        tmp_path, firmware_copy, tiny_model, capsys):
    with level_board(tmp_path / "stock", firmware="stock") as stock:
        code = main(["deploy", "--port", stock.port, "--firmware", str(firmware_copy),
                     "--model", str(tiny_model)])
        assert code == 1
        error = capsys.readouterr().err
        assert error.count("\n") == 1
        assert "cannot run the bin" in error
        assert "no microlite module" in error and "no camera module" in error
        assert "flash the smartbin firmware image" in error
        assert list(stock.flash_dir.iterdir()) == []


def test_the_deploy_report_names_the_boards_firmware_and_its_missing_viper(
        board, deployed, firmware_copy, tiny_model, capsys):
    assert deployed["firmware"]["microlite"] and deployed["firmware"]["camera"]
    assert tuple(deployed["firmware"]["version"][:2]) >= (1, 27)
    # The VM has no native emitter: the bin runs, with plain-Python preprocessing.
    assert deployed["firmware"]["viper"] is False
    assert any("viper" in warning for warning in deployed["firmware_warnings"])
    assert main(["deploy", "--port", board.port, "--firmware", str(firmware_copy),
                 "--model", str(tiny_model), "--boot-seconds", "30"]) == 0
    out = capsys.readouterr().out
    assert "firmware: MicroPython 1.27.0 with microlite, camera" in out
    assert "firmware warning: this firmware cannot compile viper code" in out


@pytest.mark.parametrize("facts, expected", [
    ({"version": (1, 24, 1), "microlite": True, "camera": True, "viper": True},
     ["MicroPython 1.24.1 (the bin needs 1.27 or newer)"]),
    ({"version": (1, 27, 0), "microlite": False, "camera": True, "viper": True},
     ["no microlite module"]),
    ({"version": (1, 27, 0), "microlite": True, "camera": False, "viper": True},
     ["no camera module"]),
    ({"version": (1, 28, 0), "microlite": True, "camera": True, "viper": True}, []),
])
def test_firmware_judgement_names_each_missing_piece(facts, expected):
    from host_tools.device.firmware_check import judge

    missing, warnings = judge(dict(facts, mpy=6))
    assert len(missing) == len(expected)
    for line, start in zip(missing, expected):
        assert line.startswith(start)
    assert warnings == []


def test_precompiled_modules_need_the_boards_mpy_format(firmware_copy, tiny_model):
    from host_tools.device.deploy import _mpy_version
    from host_tools.device.firmware_check import judge

    made_here = _mpy_version(plan(firmware_copy, tiny_model, mpy=True))
    facts = {"version": (1, 27, 0), "microlite": True, "camera": True, "viper": True}
    assert judge(dict(facts, mpy=made_here), made_here)[0] == []
    missing, _ = judge(dict(facts, mpy=5), made_here)
    assert missing and "deploy without --mpy" in missing[0]


def test_deploy_without_model_takes_the_trained_model_and_says_so(
        board, deployed, firmware_copy, tiny_model, tmp_path, monkeypatch, capsys):
    import shutil

    shutil.copytree(tiny_model, tmp_path / "build" / "model")
    monkeypatch.chdir(tmp_path)
    assert main(["deploy", "--port", board.port, "--firmware", str(firmware_copy),
                 "--boot-seconds", "30"]) == 0
    captured = capsys.readouterr()
    assert "model: build/model (the model you trained)" in captured.err
    assert captured.out.startswith("deployed build/model to %s:" % board.port)


def test_a_config_whose_pins_clash_with_the_board_is_refused_before_looking_for_it(
        tmp_path, firmware_copy, tiny_model, capsys):
    raw = json.loads((firmware_copy / "config.json").read_text())
    raw["lids"][2]["pin"] = 36  # input-only, and the camera's D4
    raw["lids"][1]["pin"] = 7
    clashing = tmp_path / "config.json"
    clashing.write_text(json.dumps(raw))
    assert main(["deploy", "--port", "/dev/ttyNOPE0", "--model", str(tiny_model),
                 "--firmware", str(firmware_copy), "--config", str(clashing)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("error: %s: " % clashing)
    assert "GPIO7 for lid containers belongs to the SPI flash (D0)" in error
    assert "GPIO36 for lid general is input-only" in error


def test_deploy_warns_about_lids_on_strapping_pins(deployed):
    assert [warning.split(" is a strapping pin")[0] for warning in deployed["pin_warnings"]] == [
        "GPIO15 for lid containers", "GPIO2 for lid general"]


def test_a_deeply_nested_config_is_a_one_line_error(tmp_path, firmware_copy, tiny_model):
    nested = tmp_path / "config.json"
    nested.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SmartbinError, match="not valid JSON"):
        plan(firmware_copy, tiny_model, nested)
