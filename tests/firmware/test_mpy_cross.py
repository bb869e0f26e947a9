"""Every firmware file compiles with mpy-cross for the ESP32 (xtensawin), including the
viper twin, which only a native-code target can compile."""
import subprocess
import sys

import pytest

from .helpers import FIRMWARE

FIRMWARE_FILES = sorted((FIRMWARE / "smartbin").glob("*.py")) + [FIRMWARE / "main.py"]


def mpy_cross(source, output):
    return subprocess.run([sys.executable, "-m", "mpy_cross", "-march=xtensawin",
                           "-o", str(output), str(source)], capture_output=True, text=True)


@pytest.mark.parametrize("source", FIRMWARE_FILES, ids=lambda p: p.name)
def test_firmware_file_compiles_for_xtensawin(source, tmp_path):
    result = mpy_cross(source, tmp_path / (source.stem + ".mpy"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / (source.stem + ".mpy")).read_bytes()[:1] == b"M"


def test_the_package_has_the_modules_the_app_needs():
    names = {p.stem for p in FIRMWARE_FILES}
    assert {"app", "cycle", "board", "config", "preprocess", "preprocess_viper",
            "classifier", "decide", "lids", "counts", "debug_store", "errors_log"} <= names


def test_mpy_cross_rejects_what_micropython_cannot_run(tmp_path):
    source = tmp_path / "bad.py"
    source.write_text("value = 1\nmatch value:\n    case 1:\n        pass\n")  # no match
    assert mpy_cross(source, tmp_path / "bad.mpy").returncode != 0
