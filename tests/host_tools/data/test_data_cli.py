"""`smartbin data check|split`: output, and one-line errors with exit code 1."""
import json

import pytest

from data_helpers import make_dataset
from host_tools import cli


def _one_line_error(capsys):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_check_reports_counts(tmp_path, capsys):
    make_dataset(tmp_path, {"glass": 2, "paper": 3})
    assert cli.main(["data", "check", str(tmp_path)]) == 0
    assert "2 classes, 5 photos (glass 2, paper 3)" in capsys.readouterr().out


def test_check_json(tmp_path, capsys):
    make_dataset(tmp_path, {"glass": 2, "paper": 3})
    assert cli.main(["data", "check", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"] == {"glass": 2, "paper": 3} and report["total"] == 5


@pytest.mark.parametrize("layout, message", [
    ("missing", "does not exist"),
    ("empty", "no class folders"),
    ("one class", "only one class"),
    ("corrupt", "5 images in"),
])
def test_check_fails_with_one_line(tmp_path, capsys, layout, message):
    data_dir = tmp_path / "data"
    if layout == "empty":
        data_dir.mkdir()
    elif layout == "one class":
        make_dataset(data_dir, {"glass": 2})
    elif layout == "corrupt":
        make_dataset(data_dir, {"glass": 2, "paper": 2})
        for n in range(5):
            (data_dir / "glass" / ("bad%d.jpg" % n)).write_bytes(b"junk\nmore junk")
    assert cli.main(["data", "check", str(data_dir)]) == 1
    err = _one_line_error(capsys)
    assert message in err
    if layout == "corrupt":
        assert "glass/bad0.jpg: not an image format we read" in err
        assert "(and 2 more)" in err


def test_split_warns_when_too_few_photos_leave_val_empty(tmp_path, capsys):
    make_dataset(tmp_path / "data", {"glass": 5, "paper": 5})
    out = tmp_path / "split.json"
    assert cli.main(["data", "split", str(tmp_path / "data"), "--out", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["sizes"]["val"] == 0
    assert captured.err.startswith("warning: the val part is empty")
    assert "at least 6 per class" in captured.err and "test part" not in captured.err


def test_split_writes_the_manifest(tmp_path, capsys):
    make_dataset(tmp_path / "data", {"glass": 10, "paper": 10})
    out = tmp_path / "build" / "split.json"
    assert cli.main(["data", "split", str(tmp_path / "data"), "--out", str(out)]) == 0
    assert "train 14, val 2, test 4 photos" in capsys.readouterr().out
    assert json.loads(out.read_text())["labels"] == ["glass", "paper"]


def test_split_of_a_bad_folder_writes_nothing(tmp_path, capsys):
    out = tmp_path / "build" / "split.json"
    assert cli.main(["data", "split", str(tmp_path / "nope"), "--out", str(out)]) == 1
    _one_line_error(capsys)
    assert not out.exists()


def test_data_without_action_is_a_usage_error(capsys):
    assert cli.main(["data"]) == 2


def test_unwritable_output_is_a_one_line_error(tmp_path, capsys):
    make_dataset(tmp_path / "data", {"glass": 3, "paper": 3})
    out = tmp_path / "taken"
    out.mkdir()  # a folder where the manifest file should go
    assert cli.main(["data", "split", str(tmp_path / "data"), "--out", str(out)]) == 1
    assert "cannot write" in _one_line_error(capsys)


def test_urls_into_a_file_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "urls.txt").write_text("http://127.0.0.1:1/a.png\n")
    (tmp_path / "dest").write_text("not a folder")
    assert cli.main(["data", "urls", str(tmp_path / "urls.txt"), "--label", "can",
                     "--dest", str(tmp_path / "dest")]) == 1
    assert "is a file" in _one_line_error(capsys)


def test_file_names_that_are_not_utf8_are_split_and_printed(tmp_path, capsys):
    import os
    from data_helpers import photo_bytes
    data = tmp_path / "data"
    make_dataset(data, {"glass": 10, "paper": 10})
    odd_name = os.fsdecode(b"caf\xe9.png")
    (data / "glass" / odd_name).write_bytes(photo_bytes(99))
    out = tmp_path / "split.json"
    assert cli.main(["data", "split", str(data), "--out", str(out)]) == 0
    manifest = json.loads(out.read_text())
    assert any("glass/" + odd_name == path for subset in manifest["subsets"].values()
               for path, _ in subset)
    (data / "paper" / odd_name).write_bytes(b"not a photo")
    assert cli.main(["data", "check", str(data)]) == 1
    assert "caf\\xe9.png" in _one_line_error(capsys)


def test_class_folders_differing_only_in_case_are_refused_in_one_line(tmp_path, capsys):
    make_dataset(tmp_path, {"Glass": 2, "glass": 2, "paper": 2})
    assert cli.main(["data", "check", str(tmp_path)]) == 1
    err = _one_line_error(capsys)
    assert "Glass" in err and "glass" in err and "differ only in case" in err
