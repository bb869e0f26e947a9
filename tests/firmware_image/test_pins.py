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
    versions.write_text("CAMERA_API_TAG=9.9.9\nCAMERA_API_URL=https://example.invalid/camera.git\n")
    readme = tmp_path / "README.md"
    readme.write_text("Built with the camera binding v9.9.9.\n")
    with pytest.raises(ImageCheckError, match="CAMERA_API_TAG=9.9.9 is written 2 times"):
        check_pins_written_once(versions, [versions, readme])
    readme.write_text("Built with the camera binding release named in versions.env.\n")
    check_pins_written_once(versions, [versions, readme])


def test_versions_file_rejects_a_key_set_twice(tmp_path):
    versions = tmp_path / "versions.env"
    versions.write_text("CAMERA_API_TAG=1\nCAMERA_API_TAG=2\n")
    with pytest.raises(ImageCheckError, match="set twice"):
        read_versions(versions)


def test_build_script_and_workflow_use_only_keys_of_the_versions_file():
    keys = set(read_versions())
    script = (IMAGE_DIR / "build.sh").read_text()
    used = set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*_(?:URL|TAG|COMMIT|VERSION|IMAGE))\b", script))
    assert used and used <= keys, used - keys


def test_every_source_has_a_commit_an_archive_and_its_checksum():
    versions = read_versions()
    sources = [key[:-len("_URL")] for key in versions if key.endswith("_URL")]
    # the image's sources, and no more (ulab was dropped: nothing in firmware/ imports it)
    assert sorted(sources) == sorted(["MICROPYTHON", "MICROLITE", "ESP_TFLITE_MICRO", "ESP_NN",
                                      "ESP32_CAMERA", "CAMERA_API"])
    for name in sources:
        assert re.fullmatch(r"[0-9a-f]{40}", versions[name + "_COMMIT"]), name
        assert re.fullmatch(r"[0-9a-f]{64}", versions[name + "_ARCHIVE_SHA256"]), name
        # the archive is named after the release or commit it holds, so a pin changed
        # without its archive (or the other way round) shows here
        archive = versions[name + "_ARCHIVE"]
        release = versions.get(name + "_TAG") or versions.get(name + "_VERSION")
        if release:
            assert "-%s.tar.gz" % release.lstrip("v") in archive, (name, release, archive)
        else:
            assert "-%s" % versions[name + "_COMMIT"][:7] in archive, (name, archive)
