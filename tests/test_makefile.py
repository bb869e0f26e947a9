"""The Makefile's own checks, run as a maker would run them."""
import subprocess
import sys
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


def test_make_bench_passes_each_out_of_domain_folder():
    commands = _dry_run("bench", "OOD=kitchen floor")
    assert "--ood kitchen --ood floor" in commands
