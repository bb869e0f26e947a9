"""The out-of-domain yardstick: drinking-waste photos split by original photo, composite
sets written once and reused, figures per set, and the few-shot curve."""
import json

import numpy as np
import pytest

from host_tools.model import ood
from host_tools.data import split as splits
from ml_helpers import LABELS, make_board_dataset


def test_no_original_photo_is_on_both_sides_of_the_drinking_waste_split():
    crops = [{"file": "metal/%d.jpg" % i, "group": "photo%d" % (i // 3), "label": "metal",
              "box": (0, 0, 1, 1)} for i in range(300)]
    train, test = ood.split_drinking_waste(crops, test_fraction=0.3, seed=1)
    assert not {c["group"] for c in train} & {c["group"] for c in test}
    assert len(train) + len(test) == 300
    assert 0.15 < len(test) / 300 < 0.45
    assert ood.split_drinking_waste(crops, 0.3, 1) == (train, test)


def test_set_metrics_name_the_worst_class():
    figures = ood.set_metrics(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 0]), ["a", "b", "c"])
    assert figures["accuracy"] == 0.75
    assert figures["worst_class"] == "b" and figures["worst_recall"] == 0.5
    assert figures["macro_recall"] == 0.75  # over the classes present only


def test_ood_score_is_the_mean_of_the_built_in_sets():
    scored = {"drinking-waste": {"accuracy": 0.5}, "composites": {"accuracy": 0.7},
              "chamber": {"accuracy": 0.1}}
    assert ood.ood_score(scored) == 0.6
    assert ood.ood_score({}) is None


@pytest.fixture(scope="module")
def board_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("ood")
    data = make_board_dataset(root / "photos", per_class=10)
    manifest = splits.make_split(data, seed=2)
    return root, data, manifest


def test_yardstick_writes_composites_of_test_items_only_and_reuses_them(board_data, tmp_path):
    root, data, manifest = board_data
    user = make_board_dataset(tmp_path / "my-bin", per_class=2, start_seed=500)
    sets = ood.build_yardstick(tmp_path / "ood", data, manifest, user_dirs=[user],
                               seed=manifest["seed"], cache_dir=tmp_path / "cache")
    assert set(sets) == {"composites", "chamber", "my-bin"}
    test_stems = {p.split("/")[1].rsplit(".", 1)[0] for p, _ in manifest["subsets"]["test"]}
    written = {path.stem for path, _ in sets["composites"]}
    assert written and written <= test_stems
    for path, label in sets["composites"]:
        assert path.is_file() and path.parent.name == label
    marker = tmp_path / "ood" / "composites" / ood.MARKER
    stamp = marker.stat().st_mtime_ns
    again = ood.build_yardstick(tmp_path / "ood", data, manifest, seed=manifest["seed"],
                                cache_dir=tmp_path / "cache")
    assert again["composites"] == sets["composites"]
    assert marker.stat().st_mtime_ns == stamp
    assert json.loads(marker.read_text())["recipe"]["seed"] == manifest["seed"]


def test_each_chamber_photo_has_its_empty_scene_with_the_same_light_and_its_own_noise(
        board_data, tmp_path):
    from PIL import Image

    root, data, manifest = board_data
    sets = ood.build_yardstick(tmp_path / "ood", data, manifest, seed=manifest["seed"],
                               cache_dir=tmp_path / "cache")
    for name in ("chamber", "composites"):
        empty_root = ood.empty_folder_for(sets[name])
        assert empty_root == tmp_path / "ood" / (name + "-empty")
        for path, label in sets[name]:
            photo = np.asarray(Image.open(path), np.float64)
            empty = np.asarray(Image.open(empty_root / label / path.name), np.float64)
            difference = np.abs(photo - empty).max(axis=2)
            # the item's place differs, the rest only by noise and JPEG: same light
            assert np.median(difference) < 20 and difference.max() > 40
            assert np.mean(difference > 0) > 0.3  # its own noise, not a copy


def test_a_model_that_isolates_is_scored_against_the_empty_scenes(board_data, tmp_path,
                                                                  tiny_int8_model):
    import shutil

    from host_tools import isolate

    root, data, manifest = board_data
    sets = ood.build_yardstick(tmp_path / "ood", data, manifest, seed=manifest["seed"],
                               cache_dir=tmp_path / "cache")
    model = tmp_path / "model"
    shutil.copytree(tiny_int8_model, model)
    raw = json.loads((model / "model.json").read_text())
    raw["labels"] = list(LABELS) + ["other%d" % i for i in range(6 - len(LABELS))]
    (model / "model.json").write_text(json.dumps(raw))
    plain = ood.score_int8(model, {"chamber": sets["chamber"]})
    assert "isolated" not in plain["chamber"]
    raw["isolate"] = dict(isolate.DEFAULT_SETTINGS)
    (model / "model.json").write_text(json.dumps(raw))
    scored = ood.score_int8(model, {"chamber": sets["chamber"]})
    assert scored["chamber"]["isolated"] > 0.5
    assert "whole_accuracy" not in plain["chamber"]
    # beside it, the same photos as whole frames (no empty frame), as predict scores them
    from host_tools.model import predict

    paths = [path for path, _ in sets["chamber"]]
    model_contract, model_bytes = predict.load_model_folder(model)
    inputs, found = isolate.files_to_inputs(paths, model_contract)
    _, scores = predict.run_int8(model_contract, model_bytes, inputs)
    truth = np.array([raw["labels"].index(label) for _, label in sets["chamber"]])
    assert found == 0.0
    assert scored["chamber"]["whole_accuracy"] == float(np.mean(scores.argmax(1) == truth))


def test_few_shot_curve_reports_each_count(board_data, tmp_path):
    from host_tools.model import train
    from ml_helpers import tiny_options

    root, data, manifest = board_data
    train.train(data, manifest, tmp_path / "train", tiny_options(finetune_epochs=2))
    pixels, labels = train.load_split_arrays(data, manifest, "train",
                                             train.input_spec(tiny_options()))
    shots = [(path, label) for label in LABELS for path in sorted((data / label).iterdir())]
    curve = ood.few_shot_curve(tmp_path / "train", pixels, labels, shots, list(LABELS),
                               counts=(0, 2, 4), repeats=2)
    assert set(curve["accuracy"]) == {"0", "2", "4"}
    assert all(0.0 <= value <= 1.0 for value in curve["accuracy"].values())
    assert curve["photos_added"] == {"0": 0, "2": 6, "4": 12}


def test_calibration_composites_take_val_items_only(board_data, tmp_path):
    root, data, manifest = board_data
    files = ood.calibration_composites(tmp_path / "calibration", data, manifest, seed=3)
    val_stems = {p.split("/")[1].rsplit(".", 1)[0] for p, _ in manifest["subsets"]["val"]}
    written = {path.stem for path, _ in files}
    assert written and written <= val_stems
    assert all(path.is_file() and path.parent.name == label for path, label in files)


def test_calibration_composites_use_surfaces_neither_training_nor_the_yardstick_uses(
        board_data, tmp_path, monkeypatch):
    from host_tools.data import backgrounds

    drawn = []
    procedural = backgrounds.procedural
    monkeypatch.setattr(backgrounds, "procedural",
                        lambda family, rng, size: drawn.append(family) or procedural(
                            family, rng, size))
    root, data, manifest = board_data
    ood.calibration_composites(tmp_path / "calibration", data, manifest, seed=3,
                               empty_folder=tmp_path / "calibration-empty")
    assert drawn and set(drawn) <= set(backgrounds.CALIBRATION_FAMILIES)
    photos = sorted(p.relative_to(tmp_path / "calibration")
                    for p in (tmp_path / "calibration").glob("*/*.jpg"))
    assert photos == sorted(p.relative_to(tmp_path / "calibration-empty")
                            for p in (tmp_path / "calibration-empty").glob("*/*.jpg"))


def test_export_calibrates_on_val_and_its_composites_by_default(board_data):
    from host_tools.model import export, train

    root, data, manifest = board_data
    spec = train.input_spec(__import__("ml_helpers").tiny_options())
    pixels, truth, described, for_threshold, threshold_described = export.held_out_photos(
        data, manifest, list(LABELS), spec)
    val_count = len(manifest["subsets"]["val"])
    assert "val subset" in described and "other backgrounds" in described
    assert val_count < len(truth) <= 2 * val_count
    # the threshold is fitted on the photos like a bin's, not on the white board's
    assert not for_threshold[:val_count].any() and for_threshold[val_count:].all()
    assert threshold_described.startswith("val items on other backgrounds")
    only_val = export.held_out_photos(data, manifest, list(LABELS), spec, ["val"])
    assert len(only_val[1]) == val_count
    assert only_val[3].all() and only_val[4] == only_val[2]  # nothing else to fit it on
