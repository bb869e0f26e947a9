"""`smartbin predict`: label and confidence per photo, contact sheet, one-line errors."""
import json
import sys

from PIL import Image

from host_tools import cli, power

from host_tools.model import predict
from disk_full import disk_full
from ml_helpers import pipeline, shape_photo  # noqa: F401 (fixture)


def test_predict_labels_photos_with_scores_that_sum_to_one(pipeline, tmp_path):
    paths = []
    for index, label in enumerate(("disc", "square", "triangle")):
        path = tmp_path / ("%s.png" % label)
        shape_photo(label, 9000 + index).save(path)
        paths.append(path)
    results = predict.predict_images(pipeline["model"], paths)
    assert [r["file"] for r in results] == [str(p) for p in paths]
    for result in results:
        assert result["label"] in ("disc", "square", "triangle")
        assert result["confidence"] == max(result["scores"].values())
        assert abs(sum(result["scores"].values()) - 1.0) < 0.02


def test_predict_cli_prints_json_and_writes_a_contact_sheet(pipeline, tmp_path, capsys):
    photo = tmp_path / "photo.jpg"
    shape_photo("square", 9100).save(photo)
    sheet = tmp_path / "sheet.png"
    code = cli.main(["predict", "--model", str(pipeline["model"]), str(photo), str(photo),
                     "--json", "--contact-sheet", str(sheet)])
    assert code == 0
    results = json.loads(capsys.readouterr().out)
    assert len(results) == 2 and results[0]["label"] == results[1]["label"]
    with Image.open(sheet) as image:
        assert image.format == "PNG" and image.width >= 2 * 100


def test_a_full_disk_keeps_the_old_contact_sheet_and_leaves_no_part_file(pipeline, tmp_path,
                                                                          monkeypatch, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    photo = photos / "photo.png"
    shape_photo("disc", 9200).save(photo)
    out = tmp_path / "out"
    out.mkdir()
    sheet = out / "sheet.png"
    sheet.write_bytes(b"the old sheet")
    for free_bytes in (0, 700):
        space = disk_full(monkeypatch, out, free_bytes)
        code = cli.main(["predict", "--model", str(pipeline["model"]), str(photo),
                         "--contact-sheet", str(sheet)])
        err = capsys.readouterr().err
        assert code == 1 and "No space left on device" in err and err.count("\n") == 1
        assert space.written == free_bytes
        assert sheet.read_bytes() == b"the old sheet"
        assert [p.name for p in out.iterdir()] == ["sheet.png"]
        monkeypatch.undo()


def test_predict_names_the_corrupt_photo_in_one_line(pipeline, tmp_path, capsys):
    good = tmp_path / "good.png"
    shape_photo("disc", 9200).save(good)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    code = cli.main(["predict", "--model", str(pipeline["model"]), str(good), str(bad)])
    err = capsys.readouterr().err
    assert code == 1 and "broken.jpg" in err and err.count("\n") == 1


def test_predict_refuses_a_contact_sheet_that_is_not_png(pipeline, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    shape_photo("disc", 9300).save(photo)
    code = cli.main(["predict", "--model", str(pipeline["model"]), str(photo),
                     "--contact-sheet", str(tmp_path / "sheet.jpg")])
    assert code == 1 and ".png" in capsys.readouterr().err
    assert not (tmp_path / "sheet.jpg").exists()


def test_default_model_is_found_when_run_outside_the_project_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model_dir = predict.default_model_dir()
    assert model_dir.is_absolute() and model_dir.name == "default"
    assert model_dir.parent.name == "models"


def test_default_model_prefers_the_trained_one_in_this_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "build" / "model").mkdir(parents=True)
    (tmp_path / "build" / "model" / "model.json").write_text("{}")
    (tmp_path / "build" / "model" / "model.tflite").write_bytes(b"TFL3")
    assert str(predict.default_model_dir()) == "build/model"


def test_predict_draws_progress_on_a_terminal_and_keeps_stdout_clean(pipeline, tmp_path,
                                                                     capsys, monkeypatch):
    photo = tmp_path / "photo.png"
    shape_photo("disc", 9300).save(photo)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli.main(["predict", "--model", str(pipeline["model"]), str(photo), "--json"]) == 0
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 1
    assert "decode" in captured.err and "tflm" in captured.err


def test_predict_sends_each_photo_to_a_lid_by_the_bins_rule(pipeline, tmp_path, capsys):
    photo = tmp_path / "square.png"
    shape_photo("square", 9400).save(photo)
    model_threshold = predict.predict_images(pipeline["model"], [photo])[0]
    recommended = json.loads((pipeline["model"] / "model.json").read_text())["sorting"]
    assert model_threshold["threshold"] == (recommended["threshold"]
                                            if recommended["threshold"] is not None else 0.6)
    sure = predict.predict_images(pipeline["model"], [photo], threshold=0.0)[0]
    assert sure["lid"] == sure["label"]  # every shape class has a lid of its own
    unsure = predict.predict_images(pipeline["model"], [photo], threshold=1.0)[0]
    assert unsure["lid"] == "general"
    code = cli.main(["predict", "--model", str(pipeline["model"]), str(photo),
                     "--threshold", "1"])
    assert code == 0 and "-> general lid" in capsys.readouterr().out
    code = cli.main(["predict", "--model", str(pipeline["model"]), str(photo),
                     "--threshold", "60"])
    err = capsys.readouterr().err
    assert code == 1 and "threshold" in err and err.count("\n") == 1


def _bin_config(tmp_path, change):
    raw = json.loads(power.DEFAULT_CONFIG.read_text())
    change(raw)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(raw))
    return path


def _rename_lids(raw):
    """The shipped bin with its recycling lids called otherwise."""
    names = {"paper": "fibre", "containers": "rigid"}
    for lid in raw["lids"]:
        lid["name"] = names.get(lid["name"], lid["name"])
    raw["class_to_lid"] = {label: names.get(lid, lid)
                           for label, lid in raw["class_to_lid"].items()}


def test_predict_names_the_lid_of_the_bin_as_shipped_unless_a_config_is_given(
        tiny_int8_model, tmp_path, capsys):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (120, 90), (150, 140, 90)).save(photo)
    assert cli.main(["predict", "--model", str(tiny_int8_model), str(photo), "--json",
                     "--threshold", "0"]) == 0
    shipped = power.read_config(power.DEFAULT_CONFIG)[1]
    result = json.loads(capsys.readouterr().out)[0]
    assert result["lid"] == shipped.class_to_lid[result["label"]]
    renamed = _bin_config(tmp_path, _rename_lids)
    assert cli.main(["predict", "--model", str(tiny_int8_model), str(photo), "--config",
                     str(renamed), "--threshold", "0"]) == 0
    out = capsys.readouterr().out
    lid = power.read_config(renamed)[1].class_to_lid[result["label"]]
    assert lid in ("fibre", "rigid", "general") and out.rstrip().endswith("-> %s lid" % lid)


def test_predict_uses_the_configs_threshold_before_the_models(tiny_int8_model, tmp_path):
    photo = tmp_path / "photo.png"
    Image.new("RGB", (120, 90), (150, 140, 90)).save(photo)
    strict = _bin_config(tmp_path, lambda raw: raw["decide"].update(threshold=1.0))
    result = predict.predict_images(tiny_int8_model, [photo], bin_config_path=strict)[0]
    assert result["threshold"] == 1.0 and result["lid"] == "general"
    given = predict.predict_images(tiny_int8_model, [photo], threshold=0.0,
                                   bin_config_path=strict)[0]
    assert given["threshold"] == 0.0
    assert given["lid"] == power.read_config(strict)[1].class_to_lid[given["label"]]
