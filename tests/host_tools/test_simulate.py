"""`smartbin simulate`: the firmware itself, on photos, with fake hardware and real TFLM."""
import json

import numpy as np
import pytest
from PIL import Image

from host_tools import contract as host_contract
from host_tools import power, simulate
from host_tools.cli import main
from host_tools.errors import SmartbinError


@pytest.fixture
def photos(tmp_path):
    rng = np.random.default_rng(3)
    folder = tmp_path / "photos"
    for label in ("glass", "paper"):
        (folder / label).mkdir(parents=True)
        for i in range(2):
            pixels = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / label / ("%s%d.png" % (label, i)))
    Image.new("RGB", (50, 40), (200, 30, 30)).save(folder / "loose.jpg")
    return folder


def config_with(tmp_path, **decide):
    raw = json.loads(power.DEFAULT_CONFIG.read_text())
    raw["decide"].update(decide)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    return path


def test_every_photo_goes_through_the_firmware_to_a_lid(photos, tiny_int8_model):
    report = simulate.simulate(photos, tiny_int8_model)
    items, summary = report["items"], report["summary"]
    assert [item["image"] for item in items] == [
        "loose.jpg", "glass/glass0.png", "glass/glass1.png", "paper/paper0.png",
        "paper/paper1.png"]
    assert all(item["lid"] in ("paper", "containers", "general") for item in items)
    assert summary["items"] == 5 and sum(summary["lids"].values()) == 5
    assert summary["labelled"] == 4 and 0 <= summary["accuracy"] <= 1
    assert summary["counts"]["items"] == 5
    assert summary["model_loaded"] and summary["errors_log"] == ""
    # what the bin prints on its serial console for each item, kept out of our stdout
    for item in items:
        assert item["console"].startswith("item %s " % item["predicted"])
        assert "-> lid %s (look " % item["lid"] in item["console"]


def test_the_bin_decides_as_the_host_model_does_on_the_camera_frame(photos, tiny_int8_model):
    from tflite_micro.python.tflite_micro import runtime

    report = simulate.simulate(photos, tiny_int8_model, config_with(photos, threshold=0.0))
    contract = host_contract.load(tiny_int8_model)
    flatbuffer = (tiny_int8_model / "model.tflite").read_bytes()
    for item in report["items"]:
        frame = simulate.camera_frame(photos / item["image"], contract)
        pixels = host_contract.rgb565_to_rgb888(frame, 96, 96)
        interpreter = runtime.Interpreter.from_bytes(flatbuffer, arena_size=80000)
        interpreter.set_input(host_contract.pixels_to_input(pixels, contract)[None], 0)
        interpreter.invoke()
        assert item["predicted"] == contract["labels"][int(np.argmax(interpreter.get_output(0)))]


def test_simulated_awake_time_is_the_power_estimates_timeline(photos, tiny_int8_model):
    config = config_with(photos, threshold=0.0)  # always sure: no re-capture
    report = simulate.simulate(photos, tiny_int8_model, config)
    estimate = power.estimate(config)
    hold = json.loads(config.read_text())["servo"]["hold_open_ms"]
    for item in report["items"]:
        assert item["hold_ms"] == hold
        assert item["awake_outside_hold_ms"] == estimate["awake_outside_hold_ms"]


def test_an_unsure_item_costs_one_more_frame_and_inference(photos, tiny_int8_model):
    sure = simulate.simulate(photos, tiny_int8_model, config_with(photos, threshold=0.0))
    unsure = simulate.simulate(photos, tiny_int8_model, config_with(photos, threshold=1.0))
    settings = power.DEFAULTS
    extra = settings["frame_ms"] + settings["inference_ms"]
    assert all(item["lid"] == "general" for item in unsure["items"])
    assert (unsure["items"][0]["awake_outside_hold_ms"]
            == sure["items"][0]["awake_outside_hold_ms"] + extra)


def test_cli_prints_each_item_and_a_summary(photos, tiny_int8_model, capsys):
    assert main(["simulate", str(photos), "--model", str(tiny_int8_model)]) == 0
    out = capsys.readouterr().out
    assert "glass/glass0.png" in out and "outside the lid hold" in out
    assert "class accuracy" in out
    assert main(["simulate", str(photos), "--model", str(tiny_int8_model), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["items"] == 5


def test_bad_inputs_fail_in_one_line(tmp_path, tiny_int8_model, capsys):
    assert main(["simulate", str(tmp_path / "nope"), "--model", str(tiny_int8_model)]) == 1
    (tmp_path / "empty").mkdir()
    assert main(["simulate", str(tmp_path / "empty"), "--model", str(tiny_int8_model)]) == 1
    assert main(["simulate", str(tmp_path / "empty"), "--model", str(tmp_path)]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("error: ") for line in errors)
    with pytest.raises(SmartbinError, match="no photos"):
        simulate.list_photos(tmp_path / "empty")


def test_a_photo_given_instead_of_its_folder_is_named_as_a_file(tmp_path):
    photo = tmp_path / "glass1.jpg"
    Image.new("RGB", (8, 8)).save(photo)
    with pytest.raises(SmartbinError, match="is a file"):
        simulate.list_photos(photo)


def test_without_model_the_cli_uses_the_trained_model_of_this_folder(
        photos, tiny_int8_model, tmp_path, monkeypatch, capsys):
    import shutil

    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_int8_model, tmp_path / "build" / "model")
    assert main(["simulate", str(photos), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["items"] == 5


def test_a_model_file_that_does_not_match_its_contract_is_refused(photos, tiny_int8_model,
                                                                   tmp_path):
    import shutil

    import hashlib

    model_dir = tmp_path / "model"
    shutil.copytree(tiny_int8_model, model_dir)
    contract = json.loads((model_dir / "model.json").read_text())
    contract["sha256"] = hashlib.sha256((model_dir / "model.tflite").read_bytes()).hexdigest()
    (model_dir / "model.json").write_text(json.dumps(contract))
    with open(model_dir / "model.tflite", "ab") as f:
        f.write(b"\0")
    with pytest.raises(SmartbinError, match="sha256"):
        simulate.simulate(photos, model_dir)


def _with_model_threshold(model_dir, tmp_path, threshold):
    import shutil

    copy = tmp_path / ("model_%s" % threshold)
    shutil.copytree(model_dir, copy)
    raw = json.loads((copy / "model.json").read_text())
    raw["sorting"] = {"threshold": threshold, "target_contamination": 0.1}
    (copy / "model.json").write_text(json.dumps(raw))
    return copy


def test_the_simulated_bin_uses_the_models_threshold_unless_the_config_sets_one(
        photos, tiny_int8_model, tmp_path):
    sure = simulate.simulate(photos, _with_model_threshold(tiny_int8_model, tmp_path, 0.0))
    assert sure["summary"]["uncertain"] == 0
    strict_model = _with_model_threshold(tiny_int8_model, tmp_path, 1.0)
    unsure = simulate.simulate(photos, strict_model)
    assert unsure["summary"]["uncertain"] == 5
    assert unsure["summary"]["lids"]["general"] == 5
    overridden = simulate.simulate(photos, strict_model, config_with(tmp_path, threshold=0.0))
    assert overridden["summary"]["uncertain"] == 0


def test_a_config_whose_pins_clash_with_the_board_is_refused_naming_pin_and_owner(
        photos, tiny_int8_model, tmp_path, capsys):
    raw = json.loads(power.DEFAULT_CONFIG.read_text())
    raw["lids"][0]["pin"] = 16
    raw["pins"]["status_led"] = 13
    path = tmp_path / "pins.json"
    path.write_text(json.dumps(raw))
    assert main(["simulate", str(photos), "--model", str(tiny_int8_model),
                 "--config", str(path)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "GPIO13 is shared by wake sensor and status LED" in error
    assert "GPIO16 for lid paper belongs to the PSRAM (CS)" in error


def test_strapping_pins_of_the_default_config_are_warned_about(photos, tiny_int8_model,
                                                               capsys):
    assert main(["simulate", str(photos), "--model", str(tiny_int8_model)]) == 0
    warnings = [line for line in capsys.readouterr().out.splitlines()
                if line.startswith("pin warning: ")]
    assert [line.split()[2:5] for line in warnings] == [["GPIO15", "for", "lid"],
                                                         ["GPIO2", "for", "lid"]]


def test_a_latch_powered_config_sorts_the_same_as_a_deep_sleeping_one(photos, tiny_int8_model,
                                                                       tmp_path):
    raw = json.loads(power.DEFAULT_CONFIG.read_text())
    raw["power"]["mode"] = "latch"
    latch_config = tmp_path / "latch.json"
    latch_config.write_text(json.dumps(raw))
    latch = simulate.simulate(photos, tiny_int8_model, latch_config)
    deep = simulate.simulate(photos, tiny_int8_model)
    assert [i["lid"] for i in latch["items"]] == [i["lid"] for i in deep["items"]]
    assert latch["summary"]["counts"] == deep["summary"]["counts"]


def test_a_config_with_problems_runs_as_the_board_runs_it_and_each_problem_is_named(
        photos, tiny_int8_model, tmp_path, capsys):
    raw = json.loads(power.DEFAULT_CONFIG.read_text())
    raw["class_to_lid"]["glass"] = "nolid"
    path = tmp_path / "badlid.json"
    path.write_text(json.dumps(raw))
    assert main(["simulate", str(photos), "--model", str(tiny_int8_model),
                 "--config", str(path)]) == 0
    assert ("config problem (the board would blink code 2): class_to_lid.glass: no lid "
            "named nolid") in capsys.readouterr().out
