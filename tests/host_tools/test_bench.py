"""`smartbin bench` on a tiny generated data set with two tiny points (scratch CNN, 32 px,
one epoch): one table and bench.json with every column and a row per point."""
import contextlib
import io
import json

import pytest

from host_tools.model import bench, latency

from host_tools import cli
from ml_helpers import make_board_dataset, make_shapes_dataset

_TINY = dict(backbone="scratch", input_size=32, finetune_epochs=1, head_epochs=0,
             batch_size=8, augment=0.3, patience=1, seed=7)
TINY_POINTS = {
    "tiny-a": ("scratch CNN 32 px, one epoch", dict(_TINY)),
    "tiny-b": ("the same without augmentation", dict(_TINY, augment=0.0)),
}


def _tables(text):
    """The Markdown tables of a text: lists of consecutive lines that start with '|'."""
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    """Run the bench CLI once (table, then --json from the written file)."""
    root = tmp_path_factory.mktemp("bench")
    data_dir = make_board_dataset(root / "photos", per_class=12)
    user_dir = make_board_dataset(root / "kitchen", per_class=2, start_seed=900)
    out_dir = root / "out"
    patch = pytest.MonkeyPatch()
    patch.chdir(root)  # no data/drinking_waste here: the yardstick is the composites only
    patch.setattr(bench, "POINTS", TINY_POINTS)
    patch.setattr(bench, "DEFAULT_POINTS", tuple(TINY_POINTS))
    stdout = io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout):
            code = cli.main(["bench", "--data", str(data_dir), "--out", str(out_dir),
                             "--ood", str(user_dir)])
    finally:
        patch.undo()
    return {"code": code, "stdout": stdout.getvalue(), "out": out_dir, "data": data_dir}


def test_bench_exits_zero_and_writes_bench_json(bench_run):
    assert bench_run["code"] == 0
    written = json.loads((bench_run["out"] / bench.BENCH_FILE).read_text())
    assert written["complete"] is True
    assert [row["point"] for row in written["rows"]] == list(TINY_POINTS)


def test_every_row_has_every_column(bench_run):
    written = json.loads((bench_run["out"] / bench.BENCH_FILE).read_text())
    for row in written["rows"]:
        for column in bench.COLUMNS:
            assert column in row, column
        assert sorted(row["recall"]) == written["labels"]
        assert 0.0 <= row["int8_accuracy"] <= 1.0
        assert row["flatbuffer_bytes"] > 0 and row["arena_bytes"] > 0 and row["macs"] > 0


def test_latency_columns_follow_the_anchor(bench_run):
    written = json.loads((bench_run["out"] / bench.BENCH_FILE).read_text())
    for row in written["rows"]:
        assert row["latency_ms_esp_nn"] == pytest.approx(
            row["macs"] * 380.0 / latency.ANCHOR_MACS, abs=0.05)
        assert row["latency_ms_reference"] == pytest.approx(
            row["macs"] * 4084.0 / latency.ANCHOR_MACS, abs=0.05)


def test_table_has_every_column_and_one_row_per_point(bench_run):
    lines = _tables(bench_run["stdout"])[0]
    header = lines[0]
    for name in ("int8 %", "float %", "int8-float", "flatbuffer B", "arena B", "MACs",
                 "ms ESP-NN", "ms ref", "train s", "recall disc", "recall square",
                 "recall triangle"):
        assert name in header
    rows = lines[2:]
    assert [row.split("|")[1].strip() for row in rows] == list(TINY_POINTS)
    assert all(row.count("|") == header.count("|") for row in rows)


def test_table_and_json_give_the_same_figures(bench_run):
    written = json.loads((bench_run["out"] / bench.BENCH_FILE).read_text())
    assert bench.format_table(written) in bench_run["stdout"]


def test_unknown_point_is_one_line_error_before_anything_is_written(tmp_path, capsys):
    data_dir = make_shapes_dataset(tmp_path / "photos", per_class=3)
    code = cli.main(["bench", "--data", str(data_dir), "--out", str(tmp_path / "out"),
                     "--points", "finetune-96,no-such-point"])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown bench point 'no-such-point'")
    assert "\n" not in err
    assert not (tmp_path / "out").exists()


def test_missing_default_data_says_how_to_get_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["bench"]) == 1
    assert "make data" in capsys.readouterr().err


def test_every_point_is_scored_on_every_out_of_domain_set(bench_run):
    written = json.loads((bench_run["out"] / bench.BENCH_FILE).read_text())
    assert set(written["ood_sets"]) == {"composites", "chamber", "kitchen"}
    for row in written["rows"]:
        assert set(row["ood"]) == set(written["ood_sets"])
        for figures in row["ood"].values():
            assert 0.0 <= figures["accuracy"] <= 1.0
            assert figures["worst_recall"] <= figures["macro_recall"]
            assert figures["worst_class"] in written["labels"]
        assert row["ood_score"] == row["ood"]["composites"]["accuracy"]
        assert set(row["few_shot"]["accuracy"]) == {"0", "10", "30"}


def test_points_are_exported_and_scored_as_the_bin_isolates_items(bench_run):
    from host_tools import isolate

    written = json.loads((bench_run["out"] / bench.BENCH_FILE).read_text())
    for row in written["rows"]:
        model_json = json.loads((bench_run["out"] / row["point"] / "model" / "model.json")
                                .read_text())
        assert model_json["isolate"] == isolate.DEFAULT_SETTINGS
        for name in ("composites", "chamber"):  # the sets with empty scenes
            assert 0.0 <= row["ood"][name]["whole_accuracy"] <= 1.0
            assert row["ood"][name]["isolated"] > 0.5
        assert "whole_accuracy" not in row["ood"]["kitchen"]  # a folder without them
    assert "(whole frame " in _tables(bench_run["stdout"])[1][2]


def test_out_of_domain_table_has_a_row_per_point_and_a_column_per_set(bench_run):
    tables = _tables(bench_run["stdout"])
    assert len(tables) == 2
    lines = tables[1]
    header = lines[0]
    for name in ("OOD score %", "composites top-1", "chamber top-1", "kitchen top-1",
                 "few-shot N=0", "few-shot N=30"):
        assert name in header
    assert [line.split("|")[1].strip() for line in lines[2:]] == list(TINY_POINTS)


def test_models_are_scored_without_training(bench_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = bench_run["out"] / "tiny-a" / "model"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = cli.main(["bench", "--data", str(bench_run["data"]), "--out",
                         str(tmp_path / "out"), "--models", str(model), "--json"])
    assert code == 0
    written = json.loads(stdout.getvalue())
    assert [row["point"] for row in written["rows"]] == [str(model)]
    assert "composites" in written["rows"][0]["ood"]
    assert not (tmp_path / "out" / "tiny-a").exists()


def test_a_point_needing_drinking_waste_without_it_is_a_one_line_error(tmp_path, capsys,
                                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    data_dir = make_shapes_dataset(tmp_path / "photos", per_class=3)
    code = cli.main(["bench", "--data", str(data_dir), "--out", str(tmp_path / "out"),
                     "--points", "composite"])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert "drinking-waste" in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_every_named_point_builds_valid_training_options():
    for name in bench.POINTS:
        bench.point_options(name, drinking_dir="data/drinking_waste").check()
    assert len(bench.DEFAULT_POINTS) >= 3
    assert set(bench.DEFAULT_POINTS) <= set(bench.POINTS)


def test_a_full_disk_during_a_point_keeps_the_previous_runs_point_folder_whole(tmp_path,
                                                                              monkeypatch):
    from disk_full import disk_full
    from host_tools.model import export

    monkeypatch.chdir(tmp_path)
    data_dir = make_board_dataset(tmp_path / "photos", per_class=8)
    out_dir = tmp_path / "out"
    for name, text in (("train/model.keras", "old training"), ("model/model.tflite",
                                                                "old model")):
        (out_dir / "tiny-a" / name).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / "tiny-a" / name).write_text(text)
    (out_dir / bench.BENCH_FILE).write_text('{"rows": ["the previous run"]}')
    real_write = export.write_model_folder

    def write_on_a_full_disk(*args, **kwargs):
        disk_full(monkeypatch, out_dir, 5000)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(export, "write_model_folder", write_on_a_full_disk)
    with pytest.raises(OSError, match="No space left on device"):
        bench.run_bench(data_dir, out_dir, ["tiny-a"], TINY_POINTS)
    monkeypatch.undo()
    assert (out_dir / "tiny-a" / "train" / "model.keras").read_text() == "old training"
    assert (out_dir / "tiny-a" / "model" / "model.tflite").read_text() == "old model"
    assert sorted(p.name for p in (out_dir / "tiny-a").iterdir()) == ["model", "train"]
    assert not [p.name for p in out_dir.iterdir() if p.name.startswith(".")]
    # the index beside the new split is the new run's: nothing measured yet
    written = json.loads((out_dir / bench.BENCH_FILE).read_text())
    assert written["rows"] == [] and written["complete"] is False
    assert written["split"] == str(out_dir / bench.SPLIT_FILE)
    assert json.loads((out_dir / bench.SPLIT_FILE).read_text())["labels"] == written["labels"]
