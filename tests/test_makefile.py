"""The Makefile's own checks, run as a maker would run them."""
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_an_unsupported_python_is_refused_in_one_line_before_the_venv_is_made(tmp_path):
    claims_313 = tmp_path / "python3.13"
    claims_313.write_text(
        '#!/bin/sh\n'
        'if [ "$1" = "-c" ]; then exec "%s" -c "import sys; sys.version_info = (3, 13, 0); $2"; fi\n'
        'echo "reached: python $*" >&2; exit 1\n' % sys.executable)  # never builds a venv
    claims_313.chmod(0o755)
    venv = tmp_path / "venv"
    result = subprocess.run(["make", "--no-print-directory", "venv", "VENV=%s" % venv,
                             "PYTHON=%s" % claims_313],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert result.stderr.splitlines()[0].startswith("needs Python 3.11 or 3.12")
    assert "not 3.13" in result.stderr
    assert not venv.exists()


def _dry_run(*arguments):
    result = subprocess.run(["make", "--no-print-directory", "-n", *arguments], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.replace("\\\n", " ").split())


def test_make_model_passes_your_photos_backgrounds_and_drinking_waste_to_training():
    commands = _dry_run("model", "DATA=photos", "MINE=my-bin", "BACKGROUNDS=empty-bin",
                        "DRINKING_WASTE=dw")
    train = next(line for line in commands.split(" .venv/bin/smartbin ") if line.startswith("train"))
    for option in ("--mine my-bin", "--backgrounds empty-bin", "--drinking-waste dw",
                   "--cache build/cache"):
        assert option in train
    plain = _dry_run("model", "DATA=photos", "DRINKING_WASTE=")
    assert "--mine" not in plain and "--drinking-waste" not in plain


def test_make_model_fits_the_threshold_for_the_shipped_bins_lids_unless_told_otherwise():
    def step(commands, name):
        return next(line for line in commands.split(" .venv/bin/smartbin ")
                    if line.startswith(name))

    shipped = _dry_run("model", "DATA=photos", "DRINKING_WASTE=")
    for name in ("export", "evaluate"):
        assert "--config firmware/config.json" in step(shipped, name)
    own = _dry_run("model", "DATA=photos", "DRINKING_WASTE=", "BIN_CONFIG=my-bin.json")
    assert "--config my-bin.json" in step(own, "export")
    strict = _dry_run("model", "DATA=photos", "DRINKING_WASTE=", "BIN_CONFIG=")
    assert "--config" not in step(strict, "export") + step(strict, "evaluate")


def test_make_bench_passes_each_out_of_domain_folder():
    commands = _dry_run("bench", "OOD=kitchen floor")
    assert "--ood kitchen --ood floor" in commands


FAKE_SMARTBIN = r'''#!/bin/sh
# Logs each step and writes the file that step makes, as the real commands do.
echo "$1 $2" >> "$STEP_LOG"
out=""; prev=""
for a in "$@"; do [ "$prev" = "--out" ] && out="$a"; prev="$a"; done
case "$1 $2" in
  "data split"*) echo '{}' > "$out" ;;
  train*) mkdir -p "$out" && touch "$out/model.keras" ;;
  export*) mkdir -p "$out" && touch "$out/model.tflite" ;;
  evaluate*) touch build-under-test/model/report.md ;;
esac
'''


def _make_steps(tmp_path, *arguments):
    log = tmp_path / "steps.log"
    log.write_text("")
    fake = tmp_path / "smartbin"
    fake.write_text(FAKE_SMARTBIN)
    fake.chmod(0o755)
    venv = tmp_path / "venv"
    if not venv.exists():
        venv.mkdir()
        (venv / ".installed").touch()
    result = subprocess.run(
        ["make", "--no-print-directory", *arguments, "SMARTBIN=%s" % fake, "VENV=%s" % venv,
         "BUILD=build-under-test"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "STEP_LOG": str(log)})
    assert result.returncode == 0, result.stderr
    return [line.split()[0] if not line.startswith("data") else line for line in
            log.read_text().splitlines()]


def test_each_model_step_is_a_file_redone_only_when_its_inputs_change(tmp_path):
    for name in ("Makefile", "requirements.lock", "pyproject.toml"):
        (tmp_path / name).symlink_to(REPO / name)
    (tmp_path / "firmware").mkdir()
    config = tmp_path / "firmware" / "config.json"
    config.write_text((REPO / "firmware" / "config.json").read_text())
    photos = tmp_path / "photos" / "glass"
    photos.mkdir(parents=True)
    (photos / "a.jpg").write_bytes(b"x")
    first = _make_steps(tmp_path, "model", "DATA=photos", "DRINKING_WASTE=")
    assert first == ["data check", "data split", "train", "export", "evaluate"]
    assert _make_steps(tmp_path, "model", "DATA=photos", "DRINKING_WASTE=") == []
    assert _make_steps(tmp_path, "evaluate", "DATA=photos", "DRINKING_WASTE=") == []
    # Another export option exports and scores again, without training again.
    assert _make_steps(tmp_path, "model", "DATA=photos", "DRINKING_WASTE=",
                       "EXPORT_ARGS=--threshold 0.8") == ["export", "evaluate"]
    # New lids in the bin's config: the threshold is fitted again, the network is kept.
    config.write_text(config.read_text() + "\n")
    os.utime(config, (time.time() + 5, time.time() + 5))
    assert _make_steps(tmp_path, "model", "DATA=photos", "DRINKING_WASTE=",
                       "EXPORT_ARGS=--threshold 0.8") == ["export", "evaluate"]
    # A new photo in the data folder is a new model.
    (photos / "b.jpg").write_bytes(b"yy")
    assert _make_steps(tmp_path, "model", "DATA=photos", "DRINKING_WASTE=",
                       "EXPORT_ARGS=--threshold 0.8") == [
        "data check", "data split", "train", "export", "evaluate"]
    # So is another training option.
    assert _make_steps(tmp_path, "train", "DATA=photos", "DRINKING_WASTE=",
                       "TRAIN_ARGS=--epochs 3") == ["data check", "data split", "train"]


def _phony_targets():
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith(".PHONY:"))
    return set(line.split(":", 1)[1].split())


def test_make_help_lists_every_user_facing_target():
    result = subprocess.run(["make", "--no-print-directory", "help"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    listed = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("make ")}
    targets = _phony_targets()
    assert {"venv", "node", "browser", "train", "try", "preview", "clean"} <= targets
    assert targets - listed == set()
    assert listed - targets == set()  # nothing listed that make does not know
