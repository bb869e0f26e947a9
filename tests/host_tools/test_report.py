"""The evaluation report's files: written as one set (all new or all old, even on a full
disk), never touching the model beside them, with report.html linked from report.md."""
import errno
import json
import os
import shutil

import pytest

from host_tools import cli

from host_tools.model import evaluate, report
from host_tools.errors import SmartbinError
from disk_full import disk_full
from ml_helpers import make_shapes_dataset, pipeline  # noqa: F401 (fixture)

MODEL_FILES = ("model.tflite", "model.json", "model.h")
HOSTILE_NAME = "<img src=x onerror=console.error('escaped-not')> & \"q\".png"


def mislabelled_photos(root):
    """Shapes photos with three put in the wrong class folder (one under a hostile name):
    the model, right about the shapes, gets exactly these wrong."""
    photos = make_shapes_dataset(root, per_class=4, start_seed=7000)
    (photos / "square" / "square0.png").rename(photos / "disc" / HOSTILE_NAME)
    (photos / "square" / "square1.png").rename(photos / "disc" / "was_square1.png")
    (photos / "triangle" / "triangle0.png").rename(photos / "square" / "was_triangle0.png")
    return photos


@pytest.fixture(scope="module")
def scored(pipeline, tmp_path_factory):  # noqa: F811 (fixture)
    """Metrics of the tiny model on the mislabelled photos, the photos and their render."""
    photos = mislabelled_photos(tmp_path_factory.mktemp("scored") / "photos")
    metrics = evaluate.evaluate_model(pipeline["model"], photos)
    model_contract = json.loads((pipeline["model"] / "model.json").read_text())
    return {"metrics": metrics, "photos": photos, "contract": model_contract,
            "files": report.render(metrics, model_contract)}


def folder_state(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def reported_model(pipeline, tmp_path_factory):  # noqa: F811 (fixture)
    """The model folder with a report of the test split (with curves) beside it."""
    model_dir = tmp_path_factory.mktemp("reported") / "model"
    shutil.copytree(pipeline["model"], model_dir)
    evaluate.evaluate_model(model_dir, pipeline["data"], pipeline["split"], "test",
                            report_dir=model_dir)
    assert (model_dir / "curves.png").is_file()
    return model_dir


@pytest.fixture
def model_with_old_report(reported_model, tmp_path):
    """A fresh copy of `reported_model`, alone in its folder."""
    return shutil.copytree(reported_model, tmp_path / "model")


def test_the_mistakes_are_listed_most_confident_first_with_paths_in_the_data(scored):
    metrics = scored["metrics"]
    files = [mistake["file"] for mistake in metrics["mistakes"]]
    assert set(files) >= {"disc/" + HOSTILE_NAME, "disc/was_square1.png",
                          "square/was_triangle0.png"}
    assert metrics["mistakes_total"] == len(files)
    confidences = [mistake["confidence"] for mistake in metrics["mistakes"]]
    assert confidences == sorted(confidences, reverse=True)
    wrong = {m["file"]: (m["label"], m["predicted"]) for m in metrics["mistakes"]}
    assert wrong["square/was_triangle0.png"] == ("square", "triangle")


def test_the_mistakes_kept_are_capped_and_the_rest_counted(pipeline, tmp_path,  # noqa: F811
                                                           monkeypatch):
    photos = mislabelled_photos(tmp_path / "photos")
    monkeypatch.setattr(evaluate, "_MISTAKES_KEPT", 2)
    metrics = evaluate.evaluate_model(pipeline["model"], photos, report_dir=tmp_path / "out")
    assert len(metrics["mistakes"]) == 2 and metrics["mistakes_total"] >= 3
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert page.count('<li><div class="photo">') == 2
    assert "The first 2 are shown; %d more are not." % (metrics["mistakes_total"] - 2) in page


def test_report_md_links_the_page_and_the_page_needs_no_network(scored):
    files = scored["files"]
    assert "[report.html](report.html)" in files["report.md"].decode()
    page = files["report.html"].decode("utf-8")
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert "http://" not in page and "https://" not in page
    assert page.count('src="data:image/png;base64,') == 3  # confusion, sorting, calibration
    assert page.count('src="data:image/jpeg;base64,') == scored["metrics"]["mistakes_total"]


def test_every_name_from_outside_is_escaped_in_the_page(scored):
    page = scored["files"]["report.html"].decode("utf-8")
    assert HOSTILE_NAME not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=console.error(&#x27;escaped-not&#x27;)&gt; &amp; " \
           "&quot;q&quot;.png" in page


def test_the_page_names_the_model_the_data_and_the_export_check(scored, pipeline):  # noqa
    from host_tools.model import report_html

    figures = json.loads((pipeline["model"] / "export.json").read_text())
    page = report_html.page(scored["metrics"], scored["contract"], {},
                            export_figures=figures)
    assert "<title>Model report: model</title>" in page
    assert "%d from %s" % (scored["metrics"]["images"], scored["photos"]) in page
    assert "quantization check at export</dt><dd>test split, %d photos: float %.1f%%" \
        % (figures["images"], 100 * figures["float_accuracy"]) in page
    assert "<b>accuracy %.1f%%</b>" % (100 * scored["metrics"]["accuracy"]) in page


def test_an_undecodable_file_name_is_shown_not_fatal(scored, tmp_path):
    metrics = dict(scored["metrics"], mistakes=[dict(scored["metrics"]["mistakes"][0],
                                                     file="disc/bad\udcff.png")])
    from host_tools.model import report_html

    page = report_html.page(metrics, scored["contract"], {}, photo_root=tmp_path)
    assert "disc/bad\\xff.png" in page and "photo cannot be read" in page


def test_a_new_report_replaces_the_old_one_whole_and_leaves_the_model_alone(
        model_with_old_report, scored):
    model_dir = model_with_old_report
    before = folder_state(model_dir)
    inodes = {name: (model_dir / name).stat().st_ino for name in MODEL_FILES}
    report.write(model_dir, scored["metrics"], scored["contract"])  # no history this time
    after = folder_state(model_dir)
    assert "curves.png" not in after  # the old report's figure would not match the new one
    for name in set(report.REPORT_FILES) - {"curves.png"}:
        assert after[name] == scored["files"][name]
    for name in MODEL_FILES:
        assert after[name] == before[name] and (model_dir / name).stat().st_ino == inodes[name]
    assert sorted(p.name for p in model_dir.parent.iterdir()) == ["model"]


@pytest.mark.parametrize("free_share", [0.0, 0.001, 0.3, 0.7, 0.999])
def test_a_full_disk_partway_through_keeps_the_old_report_whole(
        model_with_old_report, scored, monkeypatch, free_share):
    model_dir = model_with_old_report
    before = folder_state(model_dir)
    monkeypatch.setattr(report, "render", lambda *args: scored["files"])
    needed = sum(map(len, scored["files"].values()))
    space = disk_full(monkeypatch, model_dir.parent, int(free_share * needed))
    with pytest.raises(SmartbinError, match="No space left on device; it is left as it was"):
        report.write(model_dir, scored["metrics"], scored["contract"])
    assert space.written == int(free_share * needed)  # it failed where the disk filled up
    assert folder_state(model_dir) == before
    assert sorted(p.name for p in model_dir.parent.iterdir()) == ["model"]


@pytest.mark.parametrize("failing_move", [1, 2, 5, 9])
def test_a_failure_while_moving_the_new_files_in_puts_the_old_ones_back(
        model_with_old_report, scored, monkeypatch, failing_move):
    model_dir = model_with_old_report
    before = folder_state(model_dir)
    monkeypatch.setattr(report, "render", lambda *args: scored["files"])
    real_replace, moves = os.replace, []

    def replace(source, target):
        moves.append(target)
        if len(moves) == failing_move:
            raise OSError(errno.EIO, "Input/output error")
        return real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(SmartbinError, match="Input/output error; it is left as it was"):
        report.write(model_dir, scored["metrics"], scored["contract"])
    assert folder_state(model_dir) == before
    assert sorted(p.name for p in model_dir.parent.iterdir()) == ["model"]


def test_a_report_into_a_new_folder_appears_whole_or_not_at_all(scored, tmp_path,
                                                                monkeypatch):
    monkeypatch.setattr(report, "render", lambda *args: scored["files"])
    space = disk_full(monkeypatch, tmp_path, 1000)
    with pytest.raises(SmartbinError, match="No space left"):
        report.write(tmp_path / "out" / "report", scored["metrics"], scored["contract"])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []
    space.free = 10 ** 9  # room again
    report.write(tmp_path / "out" / "report", scored["metrics"], scored["contract"])
    assert folder_state(tmp_path / "out" / "report") == {
        name: data for name, data in sorted(scored["files"].items())}


def test_evaluate_cli_on_a_full_disk_is_one_line_and_keeps_the_old_report(
        model_with_old_report, scored, monkeypatch, capsys):
    model_dir = model_with_old_report
    before = folder_state(model_dir)
    disk_full(monkeypatch, model_dir.parent, 5000)
    code = cli.main(["evaluate", "--model", str(model_dir), "--data", str(scored["photos"]),
                     "--report"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "No space left on device" in err
    assert folder_state(model_dir) == before


def test_the_page_renders_in_chromium_with_every_image_and_the_mistakes_worst_first(
        scored, tmp_path):
    from selenium.webdriver.common.by import By

    from browser import broken_images, chromium, console_errors
    from host_tools.paths import REPO_ROOT

    folder = tmp_path / "report"
    report.write(folder, scored["metrics"], scored["contract"])
    expected = [m["file"] for m in scored["metrics"]["mistakes"]]
    with chromium(width=1100, height=900) as driver:
        driver.get((folder / "report.html").as_uri())
        assert driver.title == "Model report: model"
        assert console_errors(driver) == []
        assert broken_images(driver) == []
        images = driver.find_elements(By.TAG_NAME, "img")
        assert len(images) == 3 + len(expected)
        assert all(image.get_attribute("src").startswith("data:image/") for image in images)
        paths = [item.text for item in driver.find_elements(By.CSS_SELECTOR, ".gallery .path")]
        assert paths == expected  # the most confident mistake first
        assert "disc/" + HOSTILE_NAME in paths
        assert driver.execute_script("return document.scripts.length") == 0
        captions = driver.find_elements(By.CSS_SELECTOR, ".gallery li")
        assert captions[0].text.startswith("1. true ")
        height = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(1100, height + 100)
        screenshot = REPO_ROOT / "build" / "report_page.png"
        screenshot.parent.mkdir(exist_ok=True)
        assert driver.save_screenshot(str(screenshot))
