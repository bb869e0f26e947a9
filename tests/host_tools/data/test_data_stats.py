"""`smartbin data stats`: counts, imbalance, duplicates, and duplicates across a split."""
import json

from data_helpers import make_dataset, near_copy_bytes, photo_bytes
from host_tools import cli
from host_tools.data import split, stats


def test_balanced_set_has_no_warnings(tmp_path):
    make_dataset(tmp_path, {"glass": 4, "paper": 5})
    report = stats.dataset_stats(tmp_path)
    assert report["counts"] == {"glass": 4, "paper": 5} and report["total"] == 9
    assert report["exact_duplicates"] == [] and report["near_duplicates"] == []
    assert report["warnings"] == []


def test_imbalance_past_3x_is_warned(tmp_path):
    make_dataset(tmp_path, {"glass": 13, "trash": 4})
    report = stats.dataset_stats(tmp_path)
    assert report["imbalance"] == 3.25
    assert any("class imbalance: glass has 13 photos, trash only 4" in w
               for w in report["warnings"])


def test_exact_and_near_duplicates_are_found_also_across_classes(tmp_path):
    make_dataset(tmp_path, {"glass": 3, "metal": 3})
    (tmp_path / "metal" / "same.png").write_bytes((tmp_path / "glass" / "glass1.png").read_bytes())
    (tmp_path / "glass" / "near.jpg").write_bytes(near_copy_bytes(1))  # copy of glass2
    report = stats.dataset_stats(tmp_path)
    assert report["exact_duplicates"] == [["glass/glass1.png", "metal/same.png"]]
    assert sorted(report["near_duplicates"]) == [["glass/glass1.png", "metal/same.png"],
                                                 ["glass/glass2.png", "glass/near.jpg"]]
    assert any("filed under two classes" in w for w in report["warnings"])


def test_duplicates_straddling_a_split_and_unlisted_photos_are_reported(tmp_path):
    data_dir = make_dataset(tmp_path / "data", {"glass": 3, "paper": 3})
    manifest = {"schema": 1, "seed": 0, "labels": ["glass", "paper"],
                "subsets": {"train": [["glass/glass1.png", "glass"], ["paper/paper1.png", "paper"],
                                      ["glass/copy.png", "glass"]],
                            "val": [["paper/paper2.png", "paper"]],
                            "test": [["glass/glass2.png", "glass"], ["paper/paper3.png", "paper"],
                                     ["glass/gone.png", "glass"]]}}
    (data_dir / "glass" / "copy.png").write_bytes(photo_bytes(1))  # = glass2.png, in test
    report = stats.dataset_stats(data_dir, manifest)
    assert report["split"]["groups_across_subsets"] == [["glass/copy.png", "glass/glass2.png"]]
    assert report["split"]["unlisted"] == ["glass/glass3.png"]
    assert report["split"]["missing"] == ["glass/gone.png"]
    assert report["split"]["counts"]["test"] == {"glass": 2, "paper": 1}
    assert any("straddles the split" in w for w in report["warnings"])


def test_a_fresh_split_has_no_duplicates_across_subsets(tmp_path):
    data_dir = make_dataset(tmp_path / "data", {"glass": 10, "paper": 10})
    for n in range(1, 6):
        (data_dir / "paper" / ("copy%d.jpg" % n)).write_bytes(near_copy_bytes(n - 1))
    report = stats.dataset_stats(data_dir, split.make_split(data_dir))
    assert len(report["near_duplicates"]) == 5
    assert report["split"]["groups_across_subsets"] == []


def test_undecodable_photos_are_reported_not_fatal(tmp_path):
    make_dataset(tmp_path, {"glass": 2, "paper": 2})
    (tmp_path / "paper" / "bad.jpg").write_bytes(b"nope")
    report = stats.dataset_stats(tmp_path)
    assert list(report["undecodable"]) == ["paper/bad.jpg"]
    assert any("do" in w and "paper/bad.jpg" in w for w in report["warnings"])


def test_stats_cli_prints_table_and_json(tmp_path, capsys):
    data_dir = make_dataset(tmp_path / "data", {"glass": 10, "trash": 3})
    out = tmp_path / "split.json"
    assert cli.main(["data", "split", str(data_dir), "--out", str(out)]) == 0
    capsys.readouterr()
    assert cli.main(["data", "stats", str(data_dir), "--split", str(out)]) == 0
    text = capsys.readouterr().out
    assert "13 photos in 2 classes" in text
    assert "duplicate groups across subsets: 0" in text
    assert "warning: class imbalance" in text
    assert cli.main(["data", "stats", str(data_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"] == {"glass": 10, "trash": 3}


def test_stats_cli_with_a_bad_split_file_fails_with_one_line(tmp_path, capsys):
    data_dir = make_dataset(tmp_path / "data", {"glass": 2, "trash": 2})
    bad = tmp_path / "split.json"
    bad.write_text('{"schema": 1}')
    assert cli.main(["data", "stats", str(data_dir), "--split", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "split.json" in err
