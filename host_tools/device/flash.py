"""`smartbin flash`: write a MicroPython firmware image to the ESP32-CAM with esptool.

The image is checked first (an ESP32 app image: magic byte 0xE9, chip id ESP32, a size
that fits the 4 MB flash, and, when a `<image>.sha256` file sits beside it as the release
gives one, the sha256 it names); then esptool detects the chip, refuses anything but an ESP32,
erases the flash and writes the image at 0x1000, where MicroPython's ESP32 images start
(the bootloader's place), verifying what it wrote.
"""
import hashlib
import os
import re
import struct
from pathlib import Path

from host_tools.errors import SmartbinError
from host_tools.option_numbers import above_zero
from host_tools.device.transport import check_port

ESP32_IMAGE_OFFSET = 0x1000
ESP_IMAGE_MAGIC = 0xE9
ESP32_CHIP_ID = 0x0000  # image header byte 12-13 (esptool bin_image: ESP32 is 0)
FLASH_BYTES = 4 * 1024 * 1024  # the AI-Thinker ESP32-CAM's flash
MIN_IMAGE_BYTES = 64 * 1024
DEFAULT_BAUD = 460800
_CHIP_NAMES = {0x0000: "ESP32", 0x0002: "ESP32-S2", 0x0005: "ESP32-C3", 0x0009: "ESP32-S3",
               0x000C: "ESP32-C2", 0x000D: "ESP32-C6", 0x0010: "ESP32-H2", 0x0012: "ESP32-P4"}


def check_image(image_path):
    """Raise SmartbinError unless `image_path` looks like an ESP32 MicroPython image."""
    path = Path(image_path)
    if not str(image_path):
        raise SmartbinError("no firmware image given (e.g. ESP32_GENERIC-*.bin)")
    if not path.is_file():
        raise SmartbinError("firmware image not found: %s" % path)
    size = path.stat().st_size
    if size < MIN_IMAGE_BYTES:
        raise SmartbinError("%s is only %d bytes: not a MicroPython firmware image" % (path, size))
    if size > FLASH_BYTES - ESP32_IMAGE_OFFSET:
        raise SmartbinError("%s is %d bytes: more than the ESP32-CAM's 4 MB flash holds from "
                            "0x1000 (is it a full flash dump or a SPIRAM-less 8 MB build?)"
                            % (path, size))
    with open(path, "rb") as f:
        header = f.read(24)
    if header[0] != ESP_IMAGE_MAGIC:
        raise SmartbinError("%s is not an ESP firmware image (first byte 0x%02X, expected "
                            "0xE9); download the ESP32 .bin from micropython.org"
                            % (path, header[0]))
    chip_id = struct.unpack_from("<H", header, 12)[0]
    if chip_id != ESP32_CHIP_ID:
        raise SmartbinError("%s is built for %s; the ESP32-CAM needs an ESP32 image"
                            % (path, _CHIP_NAMES.get(chip_id, "chip id %d" % chip_id)))
    return size


def check_sha256(image_path):
    """Compare the image with `<image>.sha256` beside it (`sha256sum` output, or the bare
    hex digest); return the digest checked, or None when there is no such file."""
    path = Path(image_path)
    sha_path = path.with_name(path.name + ".sha256")
    if not sha_path.exists():
        return None
    try:
        text = sha_path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise SmartbinError("cannot read %s: %s" % (sha_path, error.strerror or error)) from None
    match = re.match(r"\s*([0-9a-fA-F]{64})(?:\s+\*?(\S.*?))?\s*$", text.split("\n", 1)[0])
    if not match:
        raise SmartbinError("%s holds no sha256 (expected `<64 hex digits>  %s`, as "
                            "sha256sum writes it)" % (sha_path, path.name))
    expected = match.group(1).lower()
    digest = hashlib.sha256()
    with open(path, "rb") as image:
        for block in iter(lambda: image.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != expected:
        raise SmartbinError("%s does not match %s (sha256 %s, expected %s): download the "
                            "image again" % (path, sha_path.name, digest.hexdigest(), expected))
    return expected


def esptool_arguments(port, image_path, baud=DEFAULT_BAUD, erase=True):
    """The esptool command line that erases (unless told not to), writes and verifies."""
    arguments = ["--chip", "esp32", "--port", port, "--baud", str(baud), "write-flash"]
    if erase:
        arguments.append("--erase-all")
    arguments += ["0x%x" % ESP32_IMAGE_OFFSET, str(image_path)]
    return arguments


def _esptool_error(error, port):
    lines = [line.strip() for line in str(error).splitlines()
             if line.strip() and "troubleshooting" not in line]
    message = lines[0] if lines else type(error).__name__
    if "Failed to connect" in message or "No serial data received" in message:
        return SmartbinError(
            "esptool could not talk to an ESP32 on %s (%s): hold the board's IO0/BOOT button "
            "while pressing reset, or use the ESP32-CAM-MB adapter, and retry" % (port, message))
    return SmartbinError("esptool on %s: %s" % (port, message))


def detect_chip(port, baud=DEFAULT_BAUD, connect_attempts=7):
    """Ask the chip on `port` what it is; return its name (e.g. "ESP32")."""
    import serial
    from esptool import FatalError
    from esptool.cmds import detect_chip as esptool_detect_chip

    try:
        esp = esptool_detect_chip(port=port, baud=115200, connect_attempts=connect_attempts)
    except (FatalError, serial.SerialException, OSError) as error:
        raise _esptool_error(error, port) from None
    try:
        return esp.CHIP_NAME
    finally:
        esp._port.close()


def flash(port, image_path, baud=DEFAULT_BAUD, erase=True, connect_attempts=7):
    """Check the image, detect the chip, then erase, write and verify with esptool."""
    size = check_image(image_path)  # a wrong file is found before the board is needed
    sha256 = check_sha256(image_path)
    check_port(port)
    chip = detect_chip(port, baud, connect_attempts)
    if chip != "ESP32":
        raise SmartbinError("the board on %s is an %s; this tool flashes the ESP32-CAM "
                            "(ESP32)" % (port, chip))
    import serial
    import esptool

    arguments = esptool_arguments(port, image_path, baud, erase)
    arguments[arguments.index("--baud"):arguments.index("--baud")] = [
        "--connect-attempts", str(connect_attempts)]
    try:
        esptool.main(arguments)
    except (esptool.FatalError, serial.SerialException, OSError) as error:
        raise _esptool_error(error, port) from None
    except SystemExit as exit_request:
        raise SmartbinError("esptool stopped (exit code %s) while flashing %s"
                            % (exit_request.code, port)) from None
    return {"port": port, "chip": chip, "image": str(image_path), "bytes": size,
            "offset": ESP32_IMAGE_OFFSET, "erased": erase, "sha256_checked": sha256}


# ---- command line ------------------------------------------------------------------------
def configure(parser):
    parser.add_argument("--port", help="serial port of the board (e.g. /dev/ttyUSB0)")
    parser.add_argument("firmware", metavar="FIRMWARE.bin",
                        help="MicroPython image for the ESP32 (make firmware, or micropython.org)")
    parser.add_argument("--baud", type=above_zero(int), default=DEFAULT_BAUD,
                        help="upload speed (default: %(default)s; try 115200 if it fails)")
    parser.add_argument("--no-erase", action="store_true",
                        help="keep the rest of the flash (the files on the board survive)")


def run(args):
    report = flash(args.port, args.firmware, args.baud, erase=not args.no_erase)
    print("flashed %s (%d bytes%s) to the %s on %s at 0x%x%s" % (
        os.path.basename(report["image"]), report["bytes"],
        ", sha256 as its .sha256 file says" if report["sha256_checked"] else "",
        report["chip"], report["port"], report["offset"],
        "" if report["erased"] else " (flash not erased)"))
    return 0
