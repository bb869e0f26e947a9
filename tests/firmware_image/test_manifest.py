"""firmware/manifest.py: every file it freezes exists and compiles for the ESP32."""
import re
import subprocess

import pytest

from .image_checks import (MANIFEST, REPO, ImageCheckError, compile_frozen, evaluate_manifest,
                           mpy_cross, read_versions)


def test_every_frozen_file_exists_and_compiles_for_xtensawin(tmp_path):
    manifest = evaluate_manifest(MANIFEST)
    names = [name for _, name in manifest.files]
    assert "main.py" in names
    assert "smartbin/__init__.py" in names
    sizes = compile_frozen(manifest, tmp_path)
    assert set(sizes) == set(names)
    assert all(size > 0 for size in sizes.values())


def test_manifest_keeps_the_ports_own_frozen_modules():
    # _boot.py (in the port's manifest) mounts the filesystem the model is read from.
    assert "$(PORT_DIR)/boards/manifest.py" in evaluate_manifest(MANIFEST).external


def test_manifest_freezes_every_module_of_the_application_package():
    frozen = {source.resolve() for source, _ in evaluate_manifest(MANIFEST).files}
    package = REPO / "firmware" / "smartbin"
    on_disk = {p.resolve() for p in package.rglob("*.py") if "__pycache__" not in p.parts}
    assert on_disk and on_disk <= frozen


def test_manifest_version_is_the_application_version():
    init = (REPO / "firmware" / "smartbin" / "__init__.py").read_text()
    version = re.search(r"^__version__\s*=\s*[\"']([^\"']+)", init, re.M).group(1)
    assert evaluate_manifest(MANIFEST).metadata["version"] == version


def test_mpy_cross_is_the_pinned_micropython_release():
    tag = read_versions()["MICROPYTHON_TAG"]
    out = subprocess.run([mpy_cross(), "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("MicroPython %s " % tag), out


def test_missing_frozen_file_is_reported(tmp_path):
    (tmp_path / "manifest.py").write_text('module("gone.py")\n')
    with pytest.raises(ImageCheckError, match="gone.py does not exist"):
        evaluate_manifest(tmp_path / "manifest.py")


def test_missing_package_folder_is_reported(tmp_path):
    (tmp_path / "manifest.py").write_text('package("smartbin")\n')
    with pytest.raises(ImageCheckError, match="no folder"):
        evaluate_manifest(tmp_path / "manifest.py")


def test_module_that_micropython_cannot_compile_is_reported(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("")
    (tmp_path / "app" / "broken.py").write_text("def f(:\n    pass\n")
    (tmp_path / "manifest.py").write_text('package("app")\n')
    manifest = evaluate_manifest(tmp_path / "manifest.py")
    with pytest.raises(ImageCheckError, match="app/broken.py"):
        compile_frozen(manifest, tmp_path)
