"""`smartbin pull` and `smartbin inbox` against the virtual board's /debug folder."""
import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from host_tools import contract
from host_tools.cli import main
from host_tools.device.inbox import entries, file_inbox
from host_tools.device.pull import pull
from host_tools.errors import SmartbinError


def rgb_frame(seed):
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, size=(96, 96, 3), dtype=np.uint8)
    return contract.rgb888_to_rgb565(rgb)


def put_debug_frames(board, count, label="glass", start=0):
    """Frames on the board's flash as the bin's debug store leaves them."""
    debug = board.flash_dir / "debug"
    debug.mkdir(exist_ok=True)
    frames = {}
    for seq in range(start, start + count):
        raw = rgb_frame(seq)
        (debug / ("%06d.raw" % seq)).write_bytes(raw)
        (debug / ("%06d.json" % seq)).write_text(json.dumps({
            "seq": seq, "time": 1767225600 + seq, "width": 96, "height": 96,
            "format": "RGB565", "label": label, "confidence": 0.75, "lid": "containers"}))
        frames["%06d" % seq] = raw
    return frames


@pytest.fixture
def empty_debug(board):
    debug = board.flash_dir / "debug"
    for path in debug.glob("*") if debug.exists() else ():
        path.unlink()
    yield
    for path in debug.glob("*") if debug.exists() else ():
        path.unlink()


def test_pull_copies_each_frame_verified_and_as_png(board, empty_debug, tmp_path):
    frames = put_debug_frames(board, 3)
    report = pull(board.port, tmp_path / "inbox")
    assert len(report["pulled"]) == 3 and report["deleted"] == []
    for stem, raw in frames.items():
        local_stem = "%s-%s" % (stem, hashlib.sha256(raw).hexdigest()[:12])
        assert (tmp_path / "inbox" / (local_stem + ".raw")).read_bytes() == raw
        meta = json.loads((tmp_path / "inbox" / (local_stem + ".json")).read_text())
        assert meta["label"] == "glass" and meta["sha256"] == hashlib.sha256(raw).hexdigest()
        png = np.asarray(Image.open(tmp_path / "inbox" / (local_stem + ".png")))
        assert np.array_equal(png, contract.rgb565_to_rgb888(raw, 96, 96))
    assert len(list((board.flash_dir / "debug").glob("*.raw"))) == 3  # not moved


def test_second_pull_skips_what_is_already_verified_here(board, empty_debug, tmp_path):
    put_debug_frames(board, 2)
    pull(board.port, tmp_path / "inbox")
    put_debug_frames(board, 1, start=2)
    report = pull(board.port, tmp_path / "inbox")
    assert len(report["skipped"]) == 2 and len(report["pulled"]) == 1


def test_pull_skips_frames_the_inbox_has_filed_and_says_how_many(
        board, empty_debug, tmp_path, capsys):
    put_debug_frames(board, 3, label="metal")
    inbox = tmp_path / "inbox"
    pull(board.port, inbox)
    first, second, third = [stem for stem, _, _ in entries(inbox)]
    file_inbox(inbox, tmp_path / "data", label="metal", names=[first, second])
    damaged = inbox / "filed" / (second + ".raw")
    damaged.write_bytes(b"\x00" + damaged.read_bytes()[1:])  # same name, other bytes
    assert main(["pull", "--port", board.port, "--dest", str(inbox)]) == 0
    assert capsys.readouterr().out.splitlines()[-2] == (
        "1 frame(s) pulled into %s, 2 skipped as already pulled (1 of them filed), "
        "0 deleted on the board" % inbox)
    assert [stem for stem, _, _ in entries(inbox)] == [second, third]
    assert not (inbox / (first + ".png")).exists()
    report = pull(board.port, inbox, move=True)
    assert report["pulled"] == [] and report["filed"] == [first]
    assert len(report["deleted"]) == 3  # a filed frame is safely here too


def test_move_deletes_on_the_board_only_what_is_safely_here(board, empty_debug, tmp_path):
    put_debug_frames(board, 3)
    report = pull(board.port, tmp_path / "inbox", move=True)
    assert len(report["deleted"]) == 3
    assert list((board.flash_dir / "debug").iterdir()) == []
    assert len(list((tmp_path / "inbox").glob("*.png"))) == 3


def test_cut_cable_during_pull_move_loses_no_frame_and_leaves_no_partial_file(
        board, empty_debug, tmp_path):
    frames = put_debug_frames(board, 4)
    board.cut_link(after_host_bytes=300, after_pattern=b"/debug/000001.raw")
    with pytest.raises(SmartbinError, match="lost the connection to the board"):
        pull(board.port, tmp_path / "inbox", move=True)
    assert board.wait_link_cut()
    board.connect()
    inbox = tmp_path / "inbox"
    assert not list(inbox.glob(".*.part")) and not list(inbox.glob("*.part"))
    on_board = {p.stem for p in (board.flash_dir / "debug").glob("*.raw")}
    here = {p.name.split("-")[0] for p in inbox.glob("*.png")}
    # Cut while copying the second frame: the first is here and gone from the board, the
    # rest are still on the board, none is half anywhere.
    assert here == {"000000"} and on_board == {"000001", "000002", "000003"}
    assert len(list(inbox.glob("*.raw"))) == len(list(inbox.glob("*.json"))) == 1
    report = pull(board.port, inbox, move=True)
    assert {p.name.split("-")[0] for p in inbox.glob("*.png")} == set(frames)
    assert list((board.flash_dir / "debug").iterdir()) == []
    assert len(report["pulled"]) + len(report["skipped"]) == len(on_board)


def test_inbox_files_frames_by_prediction_or_by_hand(board, empty_debug, tmp_path):
    put_debug_frames(board, 3, label="metal")
    inbox = tmp_path / "inbox"
    pull(board.port, inbox)
    first, second, third = [stem for stem, _, _ in entries(inbox)]
    report = file_inbox(inbox, tmp_path / "data", label="battery", names=[first + ".png"])
    assert (tmp_path / "data" / "battery" / (first + ".png")).is_file()
    answers = iter(["plastic", ""])
    report = file_inbox(inbox, tmp_path / "data", ask=lambda stem, meta, png: next(answers))
    assert report["filed"][0][:2] == (second, "plastic") and report["skipped"] == [third]
    report = file_inbox(inbox, tmp_path / "data", accept_predictions=True)
    assert report["filed"][0][:2] == (third, "metal")
    assert entries(inbox) == []
    assert len(list((inbox / "filed").glob("*.png"))) == 3


def test_inbox_cli_rejects_a_bad_class_name_in_one_line(tmp_path, capsys):
    (tmp_path / "inbox").mkdir()
    (tmp_path / "inbox" / "000001-abc.png").write_bytes(b"png")
    code = main(["inbox", "--inbox", str(tmp_path / "inbox"), "--data", str(tmp_path / "data"),
                 "--label", "../escape", "000001-abc.png"])
    assert code == 1
    assert capsys.readouterr().err.strip().startswith("error: class name '../escape'")
    assert not (tmp_path / "data").exists()


def test_pull_cli_reports_counts(board, empty_debug, tmp_path, capsys):
    put_debug_frames(board, 2)
    code = main(["pull", "--port", board.port, "--dest", str(tmp_path / "inbox"), "--json"])
    assert code == 0
    assert len(json.loads(capsys.readouterr().out)["pulled"]) == 2


def test_inbox_cli_asks_per_image_with_the_prediction_as_default(
        board, empty_debug, tmp_path, monkeypatch, capsys):
    put_debug_frames(board, 2, label="paper")
    pull(board.port, tmp_path / "inbox")
    answers = iter(["", "q"])  # Enter takes the prediction, q stops
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    code = main(["inbox", "--inbox", str(tmp_path / "inbox"), "--data", str(tmp_path / "data")])
    assert code == 0
    out = capsys.readouterr().out
    assert "predicted: paper (75%)" in out and "1 frame(s) filed" in out
    assert len(list((tmp_path / "data" / "paper").glob("*.png"))) == 1


def test_inbox_question_ends_quietly_at_end_of_input(tmp_path, monkeypatch, capsys):
    from host_tools.device import inbox

    def end_of_input(prompt):
        raise EOFError

    monkeypatch.setattr("builtins.input", end_of_input)
    assert inbox._prompt("000001-ab", {"label": "paper"}, tmp_path / "000001-ab.png") is None


@pytest.mark.parametrize("metadata", ["null", "[1, 2]", "{broken", "[" * 100_000])
def test_a_frame_with_unusable_metadata_is_pulled_with_a_warning_and_so_are_later_ones(
        board, empty_debug, tmp_path, metadata):
    frames = put_debug_frames(board, 3)
    (board.flash_dir / "debug" / "000001.json").write_text(metadata)
    report = pull(board.port, tmp_path / "inbox", move=True)
    assert len(report["pulled"]) == 3 and len(report["deleted"]) == 3
    assert len(report["warnings"]) == 1 and "/debug/000001.raw" in report["warnings"][0]
    inbox = tmp_path / "inbox"
    assert sorted(p.read_bytes() for p in inbox.glob("*.raw")) == sorted(frames.values())
    assert {p.name.split("-")[0] for p in inbox.glob("*.png")} == {"000000", "000002"}
    assert list((board.flash_dir / "debug").iterdir()) == []
    assert len(pull(board.port, inbox)["pulled"]) == 0


def test_a_frame_with_unusable_metadata_still_makes_a_picture_with_the_models_size(
        board, empty_debug, tmp_path):
    from device_fixtures import write_model
    put_debug_frames(board, 1)
    (board.flash_dir / "debug" / "000000.json").write_text("null")
    report = pull(board.port, tmp_path / "inbox", model_dir=write_model(tmp_path / "model"))
    assert len(report["warnings"]) == 1 and len(list((tmp_path / "inbox").glob("*.png"))) == 1


def test_accepting_predictions_never_files_a_frame_the_bin_could_not_classify(
        board, empty_debug, tmp_path):
    put_debug_frames(board, 1, label="unknown")
    put_debug_frames(board, 1, label="metal", start=1)
    put_debug_frames(board, 1, label="../up", start=2)
    inbox = tmp_path / "inbox"
    pull(board.port, inbox)
    report = file_inbox(inbox, tmp_path / "data", accept_predictions=True)
    assert [label for _, label, _ in report["filed"]] == ["metal"]
    assert len(report["skipped"]) == 2
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["metal"]


def test_accepting_predictions_skips_a_label_not_among_the_models_labels(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    Image.new("RGB", (4, 4)).save(inbox / "000000-abc.png")
    (inbox / "000000-abc.json").write_text(json.dumps(
        {"label": "battery", "labels": ["glass", "metal"]}))
    Image.new("RGB", (4, 4)).save(inbox / "000001-abc.png")
    (inbox / "000001-abc.json").write_text("null")
    report = file_inbox(inbox, tmp_path / "data", accept_predictions=True)
    assert report["filed"] == [] and len(report["skipped"]) == 2
