"""Item isolation on the host (host_tools/isolate.py): `evaluate --empty` and `simulate
--empty` see each photo as the bin does, and the firmware's box is the host's."""
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from host_tools import contract as host_contract
from host_tools import isolate, simulate
from host_tools.cli import main
from host_tools.errors import SmartbinError
from host_tools.model import evaluate, predict


def chamber(seed, side=192):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / side
    shade = 50 + 40 * np.exp(-((x - 0.5) ** 2 + (y - 0.4) ** 2) / 0.1)
    image = np.stack([shade, shade * 1.05, shade * 0.9], -1) + rng.normal(0, 3, (side, side, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture
def scenes(tmp_path):
    """photos/<label>/<name>.png: items in one chamber; empty/<label>/<name>.png: the same
    chamber without them (its own noise)."""
    rng = np.random.default_rng(5)
    photos, empty = tmp_path / "photos", tmp_path / "empty"
    for label in ("glass", "paper"):
        (photos / label).mkdir(parents=True)
        (empty / label).mkdir(parents=True)
        for i in range(3):
            scene = chamber(10 * i + len(label))
            top, left = rng.integers(10, 100, 2)
            scene[top:top + 70, left:left + 50] = rng.integers(120, 256, 3)
            Image.fromarray(scene).save(photos / label / ("%s%d.png" % (label, i)))
            Image.fromarray(chamber(1000 + 10 * i + len(label))).save(
                empty / label / ("%s%d.png" % (label, i)))
    return photos, empty


@pytest.fixture
def isolating_model(tmp_path, tiny_int8_model):
    folder = tmp_path / "model"
    shutil.copytree(tiny_int8_model, folder)
    raw = json.loads((folder / "model.json").read_text())
    raw["isolate"] = dict(isolate.DEFAULT_SETTINGS)
    (folder / "model.json").write_text(json.dumps(raw))
    return folder


def test_evaluate_finds_every_item_against_its_empty_chamber(scenes, isolating_model):
    photos, empty = scenes
    metrics = evaluate.evaluate_model(isolating_model, photos, empty=empty)
    assert metrics["images"] == 6
    assert metrics["isolate"]["found"] == 1.0
    assert metrics["isolate"]["settings"] == isolate.DEFAULT_SETTINGS


def test_evaluate_without_an_empty_frame_scores_the_whole_frame(scenes, isolating_model):
    metrics = evaluate.evaluate_model(isolating_model, scenes[0])
    assert metrics["isolate"]["found"] == 0.0 and metrics["isolate"]["empty"] is None


def test_the_box_is_the_items_and_its_crop_is_what_the_model_scores(scenes, isolating_model):
    photos, empty = scenes
    model_contract = host_contract.load(isolating_model)
    photo = photos / "glass" / "glass0.png"
    isolation = isolate.Isolation(model_contract, host_contract.load_image(
        empty / "glass" / "glass0.png"))
    inputs, box = isolation.input(host_contract.load_image(photo))
    left, top, width, height, found = box
    assert found and width == height and width < 240
    # the item (70x50 at 192) lies inside the box (scaled to the 240 frame)
    pixels = np.asarray(Image.open(photo))
    ys, xs = np.nonzero(np.abs(pixels.astype(int) - chamber(10 + 5).astype(int)).max(2) > 60)
    scale = 240 / 192
    assert left <= xs.min() * scale and xs.max() * scale <= left + width
    assert top <= ys.min() * scale and ys.max() * scale <= top + height
    batch, _ = isolate.files_to_inputs([photo], model_contract, photos, empty)
    assert np.array_equal(batch[0], inputs)


def test_one_empty_photo_serves_every_photo(scenes, isolating_model):
    photos, empty = scenes
    one = empty / "glass" / "glass0.png"
    assert isolate.empty_image_for(photos / "paper" / "paper2.png", photos, one) == one
    metrics = evaluate.evaluate_model(isolating_model, photos, empty=one)
    assert metrics["isolate"]["empty"] == str(one)


def test_a_missing_empty_frame_in_the_folder_is_a_one_line_error(scenes, isolating_model):
    photos, empty = scenes
    (empty / "paper" / "paper1.png").unlink()
    with pytest.raises(SmartbinError, match="no empty-chamber frame for .*paper1.png"):
        evaluate.evaluate_model(isolating_model, photos, empty=empty)


def test_evaluate_cli_refuses_empty_frames_for_a_model_that_does_not_isolate(
        scenes, tiny_int8_model, capsys):
    photos, empty = scenes
    code = main(["evaluate", "--model", str(tiny_int8_model), "--data", str(photos),
                 "--empty", str(empty)])
    err = capsys.readouterr().err
    assert code == 1 and "needs a model.json with an \"isolate\" block" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_evaluate_cli_tries_the_default_settings_on_any_model(scenes, tiny_int8_model, capsys):
    photos, empty = scenes
    code = main(["evaluate", "--model", str(tiny_int8_model), "--data", str(photos),
                 "--empty", str(empty), "--isolate"])
    out = capsys.readouterr().out
    assert code == 0 and "found in 100.0% of the photos" in out


def test_evaluate_cli_refuses_a_missing_empty_path(scenes, isolating_model, capsys):
    code = main(["evaluate", "--model", str(isolating_model), "--data", str(scenes[0]),
                 "--empty", str(scenes[1] / "nowhere.png")])
    assert code == 1 and "no empty-chamber photo or folder" in capsys.readouterr().err


def test_the_firmware_in_simulate_finds_the_hosts_box_and_decides_as_the_host(
        scenes, isolating_model):
    photos, empty = scenes
    report = simulate.simulate(photos, isolating_model, empty=empty)
    model_contract, model_bytes = predict.load_model_folder(isolating_model)
    frames = simulate._empty_frames(simulate.list_photos(photos), photos, model_contract,
                                    empty)
    settings = model_contract["isolate"]
    for index, item in enumerate(report["items"]):
        # the bin looked at photo i's empty chamber before photo i (at power-on for the first)
        reference = host_contract.rgb565_to_rgb888(frames[index], 240, 240)
        frame = host_contract.rgb565_to_rgb888(
            simulate.camera_frame(photos / item["image"], model_contract), 240, 240)
        box = isolate.find_box(isolate.cells_of(frame, 24), isolate.cells_of(reference, 24),
                               settings, 96, 96)
        assert box[4] and item["isolated_box"] == list(box[:4])
        pixels = isolate.crop(frame, box, 96, 96)
        _, scores = predict.run_int8(model_contract, model_bytes,
                                     host_contract.pixels_to_input(pixels, model_contract)[None])
        assert item["predicted"] == model_contract["labels"][int(scores[0].argmax())]


def test_simulate_without_empty_frames_classifies_whole_frames(scenes, isolating_model):
    report = simulate.simulate(scenes[0], isolating_model)
    assert [item["isolated_box"] for item in report["items"]] == [None] * 6


def test_simulate_refuses_empty_frames_for_a_model_that_does_not_isolate(scenes,
                                                                        tiny_int8_model):
    with pytest.raises(SmartbinError, match="needs a model.json with an \"isolate\" block"):
        simulate.simulate(scenes[0], tiny_int8_model, empty=scenes[1])


class _BoardWithContract:
    def __init__(self, raw):
        self.data = json.dumps(raw).encode()

    def size(self, path):
        return len(self.data)

    def read_file(self, path):
        return self.data


def test_capture_takes_photos_at_the_frame_the_bin_isolates_from(tiny_int8_model):
    from host_tools.device.capture import board_model_input

    raw = json.loads((tiny_int8_model / "model.json").read_text())
    assert board_model_input(_BoardWithContract(raw)) == (96, 96, False)
    raw["isolate"] = dict(isolate.DEFAULT_SETTINGS, frame_width=320, frame_height=240,
                          grid=16)
    assert board_model_input(_BoardWithContract(raw)) == (320, 240, False)


def _bin_path_scores(model_dir, paths, data_dir=None, empty=None):
    """Scores through the bin's isolation path (host_tools/isolate.py), row per photo."""
    model_contract, model_bytes = predict.load_model_folder(model_dir)
    inputs, _ = isolate.files_to_inputs(paths, model_contract, data_dir, empty)
    return predict.run_int8(model_contract, model_bytes, inputs)[1]


@pytest.mark.parametrize("with_empty", (False, True))
def test_predict_and_evaluate_score_a_photo_identically(scenes, isolating_model, with_empty):
    photos, empty = scenes
    empty = empty if with_empty else None
    paths = sorted(photos.glob("*/*.png"))
    expected = _bin_path_scores(isolating_model, paths, photos, empty)
    model_contract = host_contract.load(isolating_model)
    for path, row in zip(paths, expected):
        # predict takes the photos as given; a folder of empty frames holds the same names
        one_empty = None if empty is None else empty / path.parent.name / path.name
        result = predict.predict_images(isolating_model, [path], empty=one_empty)[0]
        assert [result["scores"][label] for label in model_contract["labels"]] == \
            [round(float(score), 4) for score in row]
        assert result["isolated"]["found"] == (1.0 if with_empty else 0.0)
    metrics = evaluate.evaluate_model(isolating_model, photos, empty=empty)
    labels = model_contract["labels"]
    predicted = [labels[int(row.argmax())] for row in expected]
    assert metrics["accuracy"] == round(float(np.mean(
        [guess == path.parent.name for guess, path in zip(predicted, paths)])), 4)
    confidence = {path.relative_to(photos).as_posix(): round(float(row.max()), 4)
                  for path, row in zip(paths, expected)}
    for mistake in metrics["mistakes"]:
        assert mistake["confidence"] == confidence[mistake["file"]]


def test_predict_looks_up_each_photos_empty_frame_by_name_in_a_folder(
        scenes, isolating_model, capsys):
    photos, empty = scenes
    photo = photos / "glass" / "glass1.png"
    assert main(["predict", "--model", str(isolating_model), str(photo),
                 "--empty", str(empty / "glass")]) == 0
    out = capsys.readouterr().out
    assert "found in 100.0% of the photos" in out
    assert main(["predict", "--model", str(isolating_model), str(photo)]) == 0
    assert "photos scored whole, as the bin before its first empty-chamber frame (give " \
           "--empty to isolate the item)" in capsys.readouterr().out


def test_predict_refuses_empty_frames_for_a_model_that_does_not_isolate(
        scenes, tiny_int8_model, capsys):
    photos, empty = scenes
    code = main(["predict", "--model", str(tiny_int8_model), str(photos / "glass" /
                 "glass0.png"), "--empty", str(empty)])
    err = capsys.readouterr().err
    assert code == 1 and "needs a model.json with an \"isolate\" block" in err
    assert err.count("\n") == 1


def test_evaluate_without_an_empty_frame_says_the_photos_were_scored_whole(
        scenes, isolating_model, capsys):
    assert main(["evaluate", "--model", str(isolating_model), "--data", str(scenes[0])]) == 0
    out = capsys.readouterr().out
    assert ("photos scored whole, as the bin before its first empty-chamber frame (give "
            "--empty to isolate the item)") in out
    assert "no empty frame" not in out


def test_predict_scores_a_fine_grained_photo_by_the_bins_nearest_resize(tmp_path,
                                                                        isolating_model):
    photo = tmp_path / "grain.png"
    rng = np.random.default_rng(11)
    Image.fromarray(rng.integers(0, 256, (480, 480, 3), dtype=np.uint8)).save(photo)
    bin_scores = _bin_path_scores(isolating_model, [photo])[0]
    model_contract, model_bytes = predict.load_model_folder(isolating_model)
    contract_scores = predict.run_int8(model_contract, model_bytes, predict.files_to_inputs(
        [photo], model_contract))[1][0]
    assert not np.allclose(bin_scores, contract_scores, atol=1e-3)  # the two resizes differ
    result = predict.predict_images(isolating_model, [photo])[0]
    assert [result["scores"][label] for label in model_contract["labels"]] == \
        [round(float(score), 4) for score in bin_scores]


def test_predict_tries_the_default_settings_on_any_model_as_evaluate_does(
        scenes, tiny_int8_model, capsys):
    photos, empty = scenes
    photo = photos / "paper" / "paper2.png"
    assert main(["predict", "--model", str(tiny_int8_model), str(photo), "--isolate",
                 "--empty", str(empty / "paper" / "paper2.png"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)[0]
    assert result["isolated"]["found"] == 1.0
    assert result["isolated"]["settings"] == isolate.DEFAULT_SETTINGS
