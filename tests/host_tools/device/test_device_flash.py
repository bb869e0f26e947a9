"""`smartbin flash`: the image checks, the esptool command line, esptool with no chip."""
import os
import pty
import struct

import pytest

from host_tools.cli import main
from host_tools.device import flash as flash_module
from host_tools.device.flash import check_image, esptool_arguments, flash
from host_tools.errors import SmartbinError


def esp_image(path, chip_id=0, size=300 * 1024, magic=0xE9):
    header = bytes([magic, 3, 2, 0x20]) + bytes(8) + struct.pack("<H", chip_id) + bytes(10)
    path.write_bytes(header + bytes(size - len(header)))
    return path


def test_command_line_erases_then_writes_at_0x1000_for_the_esp32(tmp_path):
    image = esp_image(tmp_path / "micropython.bin")
    assert esptool_arguments("/dev/ttyUSB0", image) == [
        "--chip", "esp32", "--port", "/dev/ttyUSB0", "--baud", "460800",
        "write-flash", "--erase-all", "0x1000", str(image)]
    assert "--erase-all" not in esptool_arguments("/dev/ttyUSB0", image, erase=False)


def test_flash_runs_esptool_after_it_detected_an_esp32(tmp_path, monkeypatch):
    image = esp_image(tmp_path / "micropython.bin")
    master, slave = pty.openpty()
    port = os.ttyname(slave)
    calls = []
    monkeypatch.setattr(flash_module, "detect_chip", lambda *args: "ESP32")
    import esptool
    monkeypatch.setattr(esptool, "main", lambda arguments: calls.append(arguments))
    report = flash(port, image, baud=115200, erase=False)
    assert calls == [["--chip", "esp32", "--port", port, "--connect-attempts", "7",
                      "--baud", "115200", "write-flash", "0x1000", str(image)]]
    assert report["chip"] == "ESP32" and report["offset"] == 0x1000
    os.close(master)
    os.close(slave)


def test_a_board_that_is_not_an_esp32_is_refused_before_writing(tmp_path, monkeypatch):
    image = esp_image(tmp_path / "micropython.bin")
    master, slave = pty.openpty()
    monkeypatch.setattr(flash_module, "detect_chip", lambda *args: "ESP32-S3")
    with pytest.raises(SmartbinError, match="is an ESP32-S3"):
        flash(os.ttyname(slave), image)
    os.close(master)
    os.close(slave)


def test_no_chip_on_the_port_is_esptools_own_failure_as_one_clear_line(tmp_path):
    image = esp_image(tmp_path / "micropython.bin")
    master, slave = pty.openpty()  # a serial port with nothing behind it
    try:
        with pytest.raises(SmartbinError, match="could not talk to an ESP32") as failure:
            flash(os.ttyname(slave), image, connect_attempts=1)
        assert "\n" not in str(failure.value)
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "firmware image not found"),
    (lambda p: esp_image(p, size=1000), "not a MicroPython firmware image"),
    (lambda p: esp_image(p, magic=0x7F), "not an ESP firmware image"),
    (lambda p: esp_image(p, chip_id=9), "built for ESP32-S3"),
    (lambda p: esp_image(p, size=4 * 1024 * 1024), "more than the ESP32-CAM's 4 MB"),
])
def test_wrong_images_are_refused_with_the_reason(tmp_path, make, message):
    image = make(tmp_path / "firmware.bin")
    with pytest.raises(SmartbinError, match=message):
        check_image(image)


def test_cli_port_problems_are_one_line_errors(tmp_path, capsys, monkeypatch):
    image = esp_image(tmp_path / "micropython.bin")
    assert main(["flash", str(image)]) == 1
    assert main(["flash", "--port", "/dev/ttyNOPE0", str(image)]) == 1
    master, slave = pty.openpty()
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert main(["flash", "--port", os.ttyname(slave), str(image)]) == 1
    os.close(master)
    os.close(slave)
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3
    assert "no serial port given" in errors[0]
    assert "does not exist" in errors[1]
    assert "permission denied" in errors[2] and "dialout" in errors[2]


def test_a_text_file_is_refused_as_an_image_before_the_port_is_looked_at(tmp_path, capsys):
    notes = tmp_path / "firmware.bin"
    notes.write_text("not firmware\n" * 10000)
    assert main(["flash", "--port", "/dev/ttyNOPE0", str(notes)]) == 1
    assert main(["flash", str(notes)]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2
    assert all("not an ESP firmware image" in line for line in errors)


def _released(tmp_path, sha_text=None):
    """An image with a .sha256 beside it, as the firmware release attaches them."""
    import hashlib
    image = esp_image(tmp_path / "smartbin-esp32cam-v1.0.bin")
    digest = hashlib.sha256(image.read_bytes()).hexdigest()
    (tmp_path / (image.name + ".sha256")).write_text(
        sha_text(digest) if sha_text else "%s  %s\n" % (digest, image.name))
    return image, digest


def test_an_image_matching_its_sha256_file_is_flashed_and_the_check_reported(
        tmp_path, monkeypatch, capsys):
    image, digest = _released(tmp_path)
    master, slave = pty.openpty()
    monkeypatch.setattr(flash_module, "detect_chip", lambda *args: "ESP32")
    import esptool
    monkeypatch.setattr(esptool, "main", lambda arguments: None)
    try:
        assert flash_module.check_sha256(image) == digest
        assert main(["flash", "--port", os.ttyname(slave), str(image)]) == 0
    finally:
        os.close(master)
        os.close(slave)
    assert "sha256 as its .sha256 file says" in capsys.readouterr().out


@pytest.mark.parametrize("sha_text, message", [
    (lambda digest: "0" * 64 + "  smartbin-esp32cam-v1.0.bin\n", "does not match"),
    (lambda digest: digest[:40] + "\n", "holds no sha256"),
    (lambda digest: "", "holds no sha256"),
    (lambda digest: digest.upper() + " *smartbin-esp32cam-v1.0.bin", None),  # binary mode
    (lambda digest: digest, None),                                           # bare digest
])
def test_a_sha256_file_beside_the_image_is_checked_before_the_port_is_looked_at(
        tmp_path, capsys, sha_text, message):
    image, _ = _released(tmp_path, sha_text)
    if message is None:
        assert flash_module.check_sha256(image)
        return
    assert main(["flash", "--port", "/dev/ttyNOPE0", str(image)]) == 1
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and message in errors[0], errors
