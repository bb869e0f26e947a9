"""Every version of the firmware image is written once, in firmware/image/versions.env."""
import re

import pytest

from .image_checks import (IMAGE_DIR, VERSIONS_FILE, ImageCheckError, check_pins_written_once,
                           pinned_values, read_versions, repository_text_files)


def test_every_pin_is_written_once_in_the_repository():
    assert len(pinned_values(read_versions())) >= 8
    check_pins_written_once(VERSIONS_FILE, repository_text_files())


def test_a_pin_repeated_elsewhere_is_reported(tmp_path):
    versions = tmp_path / "versions.env"
    versions.write_text("ULAB_TAG=9.9.9\nULAB_URL=https://example.invalid/ulab.git\n")
    readme = tmp_path / "README.md"
    readme.write_text("Built with ulab v9.9.9.\n")
    with pytest.raises(ImageCheckError, match="ULAB_TAG=9.9.9 is written 2 times"):
        check_pins_written_once(versions, [versions, readme])
    readme.write_text("Built with the ulab release named in versions.env.\n")
    check_pins_written_once(versions, [versions, readme])


def test_versions_file_rejects_a_key_set_twice(tmp_path):
    versions = tmp_path / "versions.env"
    versions.write_text("ULAB_TAG=1\nULAB_TAG=2\n")
    with pytest.raises(ImageCheckError, match="set twice"):
        read_versions(versions)


def test_build_script_and_workflow_use_only_keys_of_the_versions_file():
    keys = set(read_versions())
    script = (IMAGE_DIR / "build.sh").read_text()
    used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*_(?:URL|TAG|COMMIT|VERSION|IMAGE))\b", script))
    assert used and used <= keys, used - keys
