"""`smartbin evaluate`: int8 accuracy as deployed, the report, and photos outside the split."""
import json
import shutil

import numpy as np
import pytest

from host_tools import cli

from host_tools.model import evaluate
from host_tools.errors import SmartbinError
from ml_helpers import make_shapes_dataset, pipeline  # noqa: F401 (fixture)


def test_evaluate_on_the_test_split_matches_the_export_and_writes_the_report(pipeline, tmp_path):
    report_dir = tmp_path / "report"
    metrics = evaluate.evaluate_model(pipeline["model"], pipeline["data"], pipeline["split"],
                                      "test", report_dir=report_dir)
    figures = json.loads((pipeline["model"] / "export.json").read_text())
    assert metrics["images"] == figures["images"]
    assert metrics["accuracy"] == pytest.approx(figures["int8_accuracy"], abs=1e-4)
    assert sum(map(sum, metrics["confusion"])) == metrics["images"]
    for name in ("metrics.json", "report.md", "confusion.png", "curves.png"):
        assert (report_dir / name).stat().st_size > 0
    assert (report_dir / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "accuracy" in (report_dir / "report.md").read_text()
    saved = json.loads((report_dir / "metrics.json").read_text())
    assert set(saved["per_class"]) == {"disc", "square", "triangle"}


def test_metrics_count_precision_recall_and_f1_per_class():
    metrics = evaluate.classification_metrics(np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1]),
                                              ["a", "b"])
    assert metrics["accuracy"] == 0.75
    assert metrics["per_class"]["a"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667,
                                         "support": 2}
    assert metrics["per_class"]["b"]["precision"] == pytest.approx(0.6667, abs=1e-4)
    assert metrics["confusion"] == [[1, 1], [0, 2]]


def test_evaluate_takes_any_folder_of_class_folders_and_prints_json(pipeline, tmp_path, capsys):
    photos = make_shapes_dataset(tmp_path / "new", per_class=3, start_seed=5000,
                                 labels=("disc", "square"))
    code = cli.main(["evaluate", "--model", str(pipeline["model"]), "--data", str(photos),
                     "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == 6 and result["subset"] is None
    assert 0.0 <= result["accuracy"] <= 1.0


def test_evaluate_refuses_a_class_the_model_does_not_know(pipeline, tmp_path, capsys):
    photos = make_shapes_dataset(tmp_path / "new", per_class=1, labels=("disc",))
    shutil.copytree(photos / "disc", photos / "banana")
    code = cli.main(["evaluate", "--model", str(pipeline["model"]), "--data", str(photos)])
    err = capsys.readouterr().err
    assert code == 1 and "banana" in err and err.count("\n") == 1


def test_evaluate_without_a_model_is_one_line_error(tmp_path, capsys):
    code = cli.main(["evaluate", "--model", str(tmp_path), "--data", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1 and "model.json" in err and err.count("\n") == 1


def test_evaluate_refuses_a_tampered_flatbuffer(pipeline, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(pipeline["model"], model_dir)
    with open(model_dir / "model.tflite", "ab") as f:
        f.write(b"\0")
    with pytest.raises(SmartbinError, match="sha256"):
        evaluate.evaluate_model(model_dir, pipeline["data"], pipeline["split"])


def test_a_missing_history_for_the_report_fails_before_any_photo_is_scored(pipeline, tmp_path):
    stages = []
    with pytest.raises(SmartbinError, match="no training history"):
        evaluate.evaluate_model(pipeline["model"], pipeline["data"], pipeline["split"],
                                report_dir=tmp_path / "report",
                                history=tmp_path / "missing.json",
                                progress=lambda stage, done, total: stages.append(stage))
    assert stages == [] and not (tmp_path / "report").exists()


def test_an_empty_part_of_the_split_is_named(pipeline, tmp_path):
    from host_tools.data import split

    manifest = split.load_split(pipeline["split"])
    manifest["subsets"]["val"] = []
    with pytest.raises(SmartbinError, match="the val part of the split is empty"):
        evaluate.evaluate_model(pipeline["model"], pipeline["data"], manifest, subset="val")


def test_evaluate_draws_the_sorting_curve_and_measures_calibration(pipeline, tmp_path):
    report_dir = tmp_path / "report"
    metrics = evaluate.evaluate_model(pipeline["model"], pipeline["data"], pipeline["split"],
                                      "test", report_dir=report_dir)
    curve = metrics["sorting"]["curve"]
    assert [row["threshold"] for row in curve][:3] == [0.0, 0.01, 0.02]
    coverage = [row["coverage"] for row in curve]
    assert coverage == sorted(coverage, reverse=True)  # a higher bar recycles fewer items
    # no trash class among the shapes: at threshold 0 every item reaches a recycling lid,
    # and the wrong-lid share is the error rate
    assert curve[0]["coverage"] == 1.0
    assert curve[0]["contamination"] == pytest.approx(1 - metrics["accuracy"], abs=1e-4)
    recommended = metrics["sorting"]["recommended"]
    assert recommended["target_contamination"] == 0.1 and recommended["statement"]
    assert 0 <= metrics["calibration"]["ece"] <= 1 and metrics["calibration"]["nll"] > 0
    assert sum(row["count"] for row in metrics["calibration"]["reliability"]) == \
        metrics["images"]
    for name in ("sorting.png", "calibration.png"):
        assert (report_dir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (report_dir / "report.md").read_text()
    assert "## Sorting" in text and "sorting.png" in text and "ECE" in text


def test_evaluate_cli_prints_the_sorting_lines_and_refuses_a_percent_target(pipeline, capsys):
    code = cli.main(["evaluate", "--model", str(pipeline["model"]), "--data",
                     str(pipeline["data"]), "--split", str(pipeline["split"]),
                     "--target-contamination", "0.2"])
    out = capsys.readouterr().out
    assert code == 0 and "target contamination 20%" in out and "ECE" in out
    code = cli.main(["evaluate", "--model", str(pipeline["model"]), "--data",
                     str(pipeline["data"]), "--target-contamination", "10"])
    err = capsys.readouterr().err
    assert code == 1 and "--target-contamination" in err and err.count("\n") == 1


def test_evaluate_help_says_where_the_committed_defaults_report_goes(capsys):
    from host_tools.model.model_choice import DEFAULT_REPORT_DIR

    assert cli.main(["evaluate", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    out_help = help_text.split("--out OUT folder", 1)[1].split("--history HISTORY", 1)[0]
    assert "the model folder" in out_help and "models/default" in out_help
    assert DEFAULT_REPORT_DIR.as_posix() in out_help
