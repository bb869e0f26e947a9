"""One rule for the model a command uses without --model, shared with `make`, and the
committed default's report left as committed."""
import hashlib
import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from host_tools.paths import REPO_ROOT
from host_tools import cli

from host_tools.model import model_choice

REPO = REPO_ROOT


def make_model_choice(build_dir):
    """The MODEL that `make deploy` would pass, with BUILD=build_dir (dry run)."""
    result = subprocess.run(["make", "-n", "--no-print-directory", "deploy", "PORT=/dev/null",
                             "BUILD=%s" % build_dir, "VENV=%s" % (REPO / ".venv")],
                            cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return re.search(r"--model (\S+)", result.stdout).group(1)


@pytest.mark.parametrize("trained", [True, False])
def test_commands_and_make_pick_the_same_model(trained, tmp_path, monkeypatch):
    model = tmp_path / "build" / "model"
    model.mkdir(parents=True)
    (model / "model.json").write_text("{}")  # a half-made export does not count
    if trained:
        (model / "model.tflite").write_bytes(b"TFL3")
    by_make = (REPO / make_model_choice(tmp_path / "build")).resolve()
    monkeypatch.chdir(tmp_path)
    assert model_choice.default_model_dir().resolve() == by_make
    assert by_make == (model if trained else model_choice.COMMITTED_DEFAULT)


def test_the_choice_is_said_on_stderr(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    model_choice.default_model_dir(announce=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("model: %s (the committed default; no build/model yet)"
                                   % model_choice.COMMITTED_DEFAULT)


def _photos(root):
    labels = json.loads((model_choice.COMMITTED_DEFAULT / "model.json").read_text())["labels"]
    rng = np.random.default_rng(3)
    for label in labels:
        (root / label).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
            root / label / "a.png")
    return root


def _fingerprint(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_evaluate_report_on_the_committed_default_goes_to_build_report(
        tmp_path, monkeypatch, capsys):
    photos = _photos(tmp_path / "photos")
    before = _fingerprint(model_choice.COMMITTED_DEFAULT)
    monkeypatch.chdir(tmp_path)
    assert cli.main(["evaluate", "--data", str(photos), "--report"]) == 0
    captured = capsys.readouterr()
    assert "model: %s" % model_choice.COMMITTED_DEFAULT in captured.err
    assert captured.out.startswith("model %s: accuracy" % model_choice.COMMITTED_DEFAULT)
    assert "report: build/report/report.md" in captured.out
    assert (tmp_path / "build" / "report" / "metrics.json").is_file()
    assert _fingerprint(model_choice.COMMITTED_DEFAULT) == before


def test_evaluate_refuses_to_write_its_report_over_the_committed_one(tmp_path, capsys):
    photos = _photos(tmp_path / "photos")
    before = _fingerprint(model_choice.COMMITTED_DEFAULT)
    assert cli.main(["evaluate", "--data", str(photos), "--report",
                     "--out", str(model_choice.COMMITTED_DEFAULT)]) == 1
    assert "committed report" in capsys.readouterr().err
    assert _fingerprint(model_choice.COMMITTED_DEFAULT) == before
