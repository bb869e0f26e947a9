"""`smartbin export`: the int8 flatbuffer, its contract, C header, TFLM check and int8 gate."""
import json
import re

import numpy as np
import pytest

from host_tools.model import backbones, export, tflm

from host_tools import cli, contract
from host_tools.data import split
from host_tools.errors import SmartbinError
from disk_full import disk_full
from ml_helpers import pipeline  # noqa: F401 (fixture)

# tf.lite.Interpreter is deprecated in favour of ai_edge_litert; it is the reference here.
# Keras 3 itself trips NumPy 2's __array__ copy-keyword deprecation.
pytestmark = [pytest.mark.filterwarnings("ignore:.*tf.lite.Interpreter is deprecated"),
              pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")]


def test_export_writes_a_valid_contract_with_the_pixel_rule_quantisation(pipeline):
    model_contract = contract.load(pipeline["model"])
    assert model_contract["labels"] == ["disc", "square", "triangle"]
    model_input = model_contract["input"]
    assert (model_input["width"], model_input["height"], model_input["channels"]) == (32, 32, 3)
    assert model_input["scale"] == 1.0 and model_input["zero_point"] == -128
    assert model_contract["output"]["dtype"] == "int8"
    tflite_bytes = (pipeline["model"] / "model.tflite").read_bytes()
    assert model_contract["flatbuffer_bytes"] == len(tflite_bytes)
    assert model_contract["arena_bytes"] >= model_contract["arena_bytes_measured"] > 0
    assert model_contract["macs"] > 0


def test_tflite_says_input_and_output_are_int8_with_scale_1_and_zero_point_minus_128(pipeline):
    tf = backbones.tensorflow()
    interpreter = tf.lite.Interpreter(model_path=str(pipeline["model"] / "model.tflite"))
    details = interpreter.get_input_details()[0]
    assert details["dtype"] == np.int8
    assert details["quantization"] == (1.0, -128)
    assert interpreter.get_output_details()[0]["dtype"] == np.int8


def test_c_header_array_is_the_flatbuffer_byte_for_byte(pipeline):
    tflite_bytes = (pipeline["model"] / "model.tflite").read_bytes()
    header = (pipeline["model"] / "model.h").read_text()
    body = re.search(r"alignas\(16\) const unsigned char smartbin_model\[\] = \{(.*?)\};",
                     header, re.S).group(1)
    array = bytes(int(token, 16) for token in re.findall(r"0x[0-9a-f]{2}", body))
    assert array == tflite_bytes
    assert "const unsigned int smartbin_model_len = %d;" % len(tflite_bytes) in header
    assert 'smartbin_model_labels[] = {"disc", "square", "triangle"};' in header
    assert "smartbin_model_input_zero_point = -128;" in header


def test_tflite_and_tflm_agree_on_every_test_photo(pipeline):
    model_contract = contract.load(pipeline["model"])
    tflite_bytes = (pipeline["model"] / "model.tflite").read_bytes()
    files = split.split_files(pipeline["manifest"], pipeline["data"], "test")
    inputs = np.stack([contract.image_file_to_input(path, model_contract) for path, _ in files])
    micro = tflm.run(tflite_bytes, inputs, arena_bytes=model_contract["arena_bytes"])["outputs"]
    tf = backbones.tensorflow()
    # TFLM runs the reference kernels; so does this TFLite interpreter (no XNNPACK).
    interpreter = tf.lite.Interpreter(
        model_content=tflite_bytes,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    input_index = interpreter.get_input_details()[0]["index"]
    output_index = interpreter.get_output_details()[0]["index"]
    for sample, micro_scores in zip(inputs, micro):
        interpreter.set_tensor(input_index, sample[None])
        interpreter.invoke()
        lite_scores = interpreter.get_tensor(output_index)[0]
        assert lite_scores.argmax() == micro_scores.argmax()
        np.testing.assert_array_equal(lite_scores, micro_scores)


def test_export_records_float_and_int8_accuracy(pipeline):
    figures = json.loads((pipeline["model"] / export.EXPORT_FILE).read_text())
    assert figures["subset"] == "test"
    assert figures["images"] == len(pipeline["manifest"]["subsets"]["test"])
    assert 0.0 <= figures["int8_accuracy"] <= 1.0
    assert (pipeline["model"] / "history.json").is_file()


def test_int8_gate_fails_loudly_and_writes_nothing(pipeline, tmp_path):
    out = tmp_path / "model"
    with pytest.raises(SmartbinError, match="below float"):
        export.export_model(pipeline["train"], pipeline["data"], pipeline["split"], out,
                            max_int8_drop=-1.0, calibration_images=10)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def _folder_state(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.parametrize("free_bytes", [0, 1000, 60000, 290000])
def test_a_full_disk_partway_through_the_model_folder_keeps_the_old_one_whole(
        pipeline, tmp_path, monkeypatch, free_bytes):
    import shutil

    old = tmp_path / "model"
    shutil.copytree(pipeline["model"], old)
    (old / "report.md").write_text("the old model's report")
    before = _folder_state(old)
    new_bytes = (pipeline["model"] / "model.tflite").read_bytes()[::-1]  # another model
    model_contract = contract.load(pipeline["model"])
    figures = json.loads((pipeline["model"] / export.EXPORT_FILE).read_text())
    space = disk_full(monkeypatch, tmp_path, free_bytes)
    with pytest.raises(OSError, match="No space left on device"):
        export.write_model_folder(old, new_bytes, "smartbin_model", model_contract, figures,
                                  pipeline["train"])
    assert space.written == free_bytes  # it failed where the disk filled up
    assert _folder_state(old) == before
    assert [p.name for p in tmp_path.iterdir()] == ["model"]
    space.free = 10 ** 9  # room again: the new folder replaces the old one whole
    export.write_model_folder(old, new_bytes, "smartbin_model", model_contract, figures,
                              pipeline["train"])
    assert (old / "model.tflite").read_bytes() == new_bytes
    assert not (old / "report.md").exists()  # a report of the old model would mislead
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_calibration_spans_pixels_0_to_255():
    pixels = np.full((5, 4, 4, 3), 100, np.uint8)
    samples = export.calibration_samples(pixels, 3, seed=0)
    assert samples.shape == (3, 4, 4, 3)
    assert samples.min() == 0.0 and samples.max() == 255.0


def test_macs_are_counted_from_the_convolutions():
    keras = backbones.tensorflow().keras
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)          # 8*8*4 * 3*3*2 = 4608
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)          # 8*8*4 * 3*3   = 2304
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(5)(x)                              # 5 * 4         = 20
    model = keras.Model(inputs, outputs)
    samples = np.random.default_rng(0).uniform(0, 255, (4, 8, 8, 2)).astype(np.float32)
    samples[0, 0, 0], samples[0, 0, 1] = 0, 255
    ops, macs = export.describe_flatbuffer(export.quantize(model, samples))
    assert macs == 4608 + 2304 + 20
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} <= set(ops)


def test_export_cli_refuses_a_folder_that_is_not_a_training_output(pipeline, tmp_path,
                                                                   capsys):
    code = cli.main(["export", str(tmp_path), "--data", str(pipeline["data"]), "--split",
                     str(pipeline["split"]), "--out", str(tmp_path / "model")])
    err = capsys.readouterr().err
    assert code == 1 and "smartbin train" in err and err.count("\n") == 1
    assert not (tmp_path / "model").exists()


def test_export_cli_checks_the_split_before_loading_the_model(tmp_path, capsys):
    code = cli.main(["export", str(tmp_path), "--data", str(tmp_path), "--split",
                     str(tmp_path / "split.json"), "--out", str(tmp_path / "model")])
    err = capsys.readouterr().err
    assert code == 1 and "split" in err and err.count("\n") == 1
    assert not (tmp_path / "model").exists()


def test_export_recommends_the_threshold_evaluate_finds_on_the_val_subset(pipeline):
    from host_tools.model import evaluate

    sorting_block = contract.load(pipeline["model"])["sorting"]
    assert sorting_block["target_contamination"] == 0.1
    assert sorting_block["measured_on"].startswith("val subset of %s" % pipeline["split"])
    val = evaluate.evaluate_model(pipeline["model"], pipeline["data"], pipeline["split"], "val")
    recommended = val["sorting"]["recommended"]
    assert (sorting_block["threshold"], sorting_block["target_met"]) == \
        (recommended["threshold"], recommended["target_met"])
    assert val["sorting"]["model_threshold_from"] == (
        "model.json's" if sorting_block["threshold"] is not None else "the default")


def test_export_records_calibration_before_and_after_the_fitted_temperature(pipeline):
    figures = json.loads((pipeline["model"] / export.EXPORT_FILE).read_text())["calibration"]
    assert figures["fitted"] and figures["temperature"] > 0
    assert figures["fitted_on"].startswith("val subset")
    before = figures["before"]["calibration_set"]["float"]
    after = figures["after"]["calibration_set"]["float"]
    # the temperature minimises the NLL on that set, and T = 1 was a candidate
    assert after["nll"] <= before["nll"] + 1e-4
    assert set(figures["after"]["test"]) == {"float", "int8"}


def test_export_calibrates_on_a_given_folder_or_not_at_all(pipeline, tmp_path):
    from ml_helpers import make_shapes_dataset

    folder = make_shapes_dataset(tmp_path / "held_out", per_class=4, start_seed=7000)
    exported = export.export_model(pipeline["train"], pipeline["data"], pipeline["split"],
                                   tmp_path / "model", max_int8_drop=100.0,
                                   calibration_images=10, calibrate_on=["val", folder],
                                   target_contamination=0.3)
    val_photos = len(pipeline["manifest"]["subsets"]["val"])
    # the temperature is fitted on both, the threshold on the photos like a bin's
    assert exported["export"]["calibration"]["fitted_on"] == (
        "val subset of %s (%d photos) + folder %s (12 photos)"
        % (pipeline["split"], val_photos, folder))
    assert exported["sorting"]["measured_on"] == "folder %s (12 photos), int8 model" % folder
    assert exported["sorting"]["target_contamination"] == 0.3
    assert exported["export"]["calibration"]["fitted_on"].endswith("(12 photos)")
    raw = export.export_model(pipeline["train"], pipeline["data"], pipeline["split"],
                              tmp_path / "raw", max_int8_drop=100.0, calibration_images=10,
                              calibrate=False)
    assert raw["export"]["calibration"]["temperature"] == 1.0
    assert not raw["export"]["calibration"]["fitted"]


def test_export_writes_item_isolation_into_model_json_for_the_board(pipeline, tmp_path):
    from host_tools import isolate
    from host_tools.firmware_modules import firmware_module

    exported = export.export_model(pipeline["train"], pipeline["data"], pipeline["split"],
                                   tmp_path / "model", max_int8_drop=100.0,
                                   calibration_images=10, isolate=isolate.DEFAULT_SETTINGS)
    assert exported["isolate"] == isolate.DEFAULT_SETTINGS
    written = json.loads((tmp_path / "model" / "model.json").read_text())
    board = firmware_module("model_contract").ModelContract(written)
    assert (board.frame_width, board.frame_height) == (240, 240)
    # the threshold is fitted on val photos as the bin will see them
    assert "val subset of %s as whole frames" % pipeline["split"] \
        in written["sorting"]["measured_on"]


def test_calibration_photos_of_an_isolating_model_are_what_the_bin_feeds_it(tmp_path):
    from host_tools import isolate
    from host_tools.data import split as splits
    from ml_helpers import make_board_dataset

    data = make_board_dataset(tmp_path / "photos", per_class=10)
    manifest = splits.make_split(data, seed=4)
    labels = manifest["labels"]
    spec = {"width": 96, "height": 96, "channels": 3, "colour_order": "RGB",
            "resize": "bilinear"}
    block = isolate.DEFAULT_SETTINGS
    whole, truth, name = export.held_out_photos(data, manifest, labels, spec,
                                                ["val-composites"])[:3]
    isolated, isolated_truth, isolated_name = export.held_out_photos(
        data, manifest, labels, spec, ["val-composites"], isolate_block=block)[:3]
    assert isolated_name.startswith("val items on other backgrounds, isolated (")
    assert np.array_equal(truth, isolated_truth) and isolated.shape == whole.shape
    assert not np.array_equal(isolated, whole)
    val, _, val_name = export.held_out_photos(data, manifest, labels, spec, ["val"],
                                              isolate_block=block)[:3]
    files = splits.split_files(manifest, data, "val")
    frames, found = isolate.files_to_pixels([path for path, _ in files],
                                            {"input": spec, "isolate": block})
    assert np.array_equal(val, frames) and found == 0.0
    assert "as whole frames" in val_name


def test_export_refuses_a_bad_isolate_block_before_any_slow_step(pipeline, tmp_path):
    from host_tools import isolate

    with pytest.raises(SmartbinError, match="isolate.grid must divide the frame"):
        export.export_model(pipeline["train"], pipeline["data"], pipeline["split"],
                            tmp_path / "model", isolate=dict(isolate.DEFAULT_SETTINGS, grid=7))
    assert not (tmp_path / "model").exists()


def test_export_cli_refuses_a_percent_target_and_an_unknown_calibration_class(pipeline,
                                                                              tmp_path, capsys):
    base = ["export", str(pipeline["train"]), "--data", str(pipeline["data"]), "--split",
            str(pipeline["split"]), "--out", str(tmp_path / "model")]
    assert cli.main(base + ["--target-contamination", "10"]) == 1
    assert "--target-contamination" in capsys.readouterr().err
    (tmp_path / "held_out" / "banana").mkdir(parents=True)
    photo = tmp_path / "held_out" / "banana" / "b.png"
    from ml_helpers import shape_photo

    shape_photo("disc", 1).save(photo)
    assert cli.main(base + ["--calibrate-on", str(tmp_path / "held_out")]) == 1
    err = capsys.readouterr().err
    assert "banana" in err and err.count("\n") == 1
    assert not (tmp_path / "model").exists()


def test_the_export_command_writes_item_isolation_unless_told_not_to(pipeline, tmp_path):
    from host_tools import isolate

    base = ["export", str(pipeline["train"]), "--data", str(pipeline["data"]), "--split",
            str(pipeline["split"]), "--calibration-images", "10"]
    assert cli.main(base + ["--out", str(tmp_path / "isolated")]) == 0
    written = json.loads((tmp_path / "isolated" / "model.json").read_text())
    assert written["isolate"] == isolate.DEFAULT_SETTINGS
    assert cli.main(base + ["--out", str(tmp_path / "whole"), "--no-isolate"]) == 0
    assert "isolate" not in json.loads((tmp_path / "whole" / "model.json").read_text())


def test_the_threshold_is_fitted_for_a_lid_per_class_unless_a_bin_config_is_given(pipeline,
                                                                                tmp_path):
    from host_tools.power import DEFAULT_CONFIG, read_config

    base = ["export", str(pipeline["train"]), "--data", str(pipeline["data"]), "--split",
            str(pipeline["split"]), "--calibration-images", "10"]
    assert cli.main(base + ["--out", str(tmp_path / "strict")]) == 0
    strict = json.loads((tmp_path / "strict" / "model.json").read_text())["sorting"]
    assert strict["lids"].startswith("one per recycling class")
    assert strict["class_to_lid"] == {label: label for label in strict["class_to_lid"]}
    assert cli.main(base + ["--out", str(tmp_path / "shipped"), "--config",
                            str(DEFAULT_CONFIG)]) == 0
    shipped = json.loads((tmp_path / "shipped" / "model.json").read_text())["sorting"]
    config = read_config(DEFAULT_CONFIG)[1]
    assert shipped["lids"].startswith("lids of config.json")
    # the generated shapes are no waste classes: the shipped bin sends them all to general
    assert shipped["class_to_lid"] == {label: config.class_to_lid.get(label, config.general_lid)
                                       for label in shipped["class_to_lid"]}
    assert cli.main(base + ["--out", str(tmp_path / "bad"), "--config",
                            str(tmp_path / "missing.json")]) == 1
    assert not (tmp_path / "bad").exists()
