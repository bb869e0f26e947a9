"""The board definition (firmware/image/boards/SMARTBIN_AITHINKER_ESP32CAM) against the
pinned MicroPython 1.27 esp32 port: every file and variable it names exists there, and
BLE is off on both sides (sdkconfig and the Python module)."""
import re
from pathlib import Path

from pinned_sources import MICROPYTHON, read_source, source_paths

BOARD = Path(__file__).resolve().parents[2] / "firmware" / "image" / "boards" / \
    "SMARTBIN_AITHINKER_ESP32CAM"
PORT = "ports/esp32/"
# Variables the port's CMakeLists.txt sets before it includes mpconfigboard.cmake, or
# that CMake/ESP-IDF provide.
_CMAKE_BUILTINS = {"CMAKE_BINARY_DIR", "CMAKE_CURRENT_LIST_DIR", "MICROPY_BOARD_DIR",
                   "MICROPY_PORT_DIR", "IDF_TARGET", "SDKCONFIG_DEFAULTS"}


def _board_cmake():
    return (BOARD / "mpconfigboard.cmake").read_text()


def _sdkconfig_defaults(cmake):
    block = re.search(r"set\(SDKCONFIG_DEFAULTS(.*?)\)", cmake, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines()
            if line.split("#")[0].strip()]


def _port_sets_or_uses(variable):
    for path in source_paths(MICROPYTHON):
        if path.startswith(PORT) and path.endswith((".cmake", "CMakeLists.txt")):
            text = read_source(MICROPYTHON, path)
            if re.search(r"set\(\s*%s\b" % variable, text):
                return True
    return False


def test_every_sdkconfig_fragment_the_board_lists_exists():
    for entry in _sdkconfig_defaults(_board_cmake()):
        if entry.startswith("boards/SMARTBIN_AITHINKER_ESP32CAM/"):
            assert (BOARD / entry.rsplit("/", 1)[1]).is_file(), entry
        else:
            assert entry.startswith("boards/"), entry
            assert read_source(MICROPYTHON, PORT + entry), entry


def test_the_board_file_uses_no_variable_the_port_does_not_set():
    for variable in re.findall(r"\$\{(\w+)\}", _board_cmake()):
        assert variable in _CMAKE_BUILTINS or _port_sets_or_uses(variable), variable


def test_the_scanner_would_catch_the_old_version_specific_variable():
    assert not _port_sets_or_uses("SDKCONFIG_IDF_VERSION_SPECIFIC")
    assert _port_sets_or_uses("MICROPY_FROZEN_MANIFEST")


def test_ble_is_off_in_sdkconfig_and_in_micropython():
    assert "boards/sdkconfig.ble" not in _sdkconfig_defaults(_board_cmake())
    assert re.search(r"#define\s+MICROPY_PY_BLUETOOTH\s+\(0\)",
                     (BOARD / "mpconfigboard.h").read_text())
    # the port turns the module on by default, and the board header comes first
    port_header = read_source(MICROPYTHON, PORT + "mpconfigport.h")
    assert port_header.index('#include "mpconfigboard.h"') < port_header.index(
        "#ifndef MICROPY_PY_BLUETOOTH")
    application = Path(__file__).resolve().parents[2] / "firmware"
    for source in application.rglob("*.py"):
        assert "bluetooth" not in source.read_text(), source


def test_psram_comes_from_the_ports_own_fragment_like_the_generic_spiram_variant():
    variant = read_source(MICROPYTHON, PORT + "boards/ESP32_GENERIC/mpconfigvariant_SPIRAM.cmake")
    assert "boards/sdkconfig.spiram" in variant
    assert "boards/sdkconfig.spiram" in _sdkconfig_defaults(_board_cmake())
