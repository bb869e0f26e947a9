"""The board's partition table and ESP-IDF settings: 4 MB flash, PSRAM in malloc()."""
import pytest

from .image_checks import (BOARD_DIR, FLASH_BYTES, IMAGE_DIR, PARTITIONS_CSV, SDKCONFIG_BOARD,
                           ImageCheckError, micropython_layout, parse_partitions, read_sdkconfig)

GOOD = """# Name, Type, SubType, Offset, Size, Flags
nvs,      data, nvs,     0x9000,   0x6000,
phy_init, data, phy,     0xf000,   0x1000,
factory,  app,  factory, 0x10000,  0x280000,
vfs,      data, fat,     0x290000, 0x170000,
"""


def test_committed_table_parses_and_fits_the_4mb_flash():
    partitions = parse_partitions(PARTITIONS_CSV.read_text())
    app, vfs = micropython_layout(partitions)
    assert partitions[-1]["end"] <= FLASH_BYTES
    assert app["offset"] == 0x10000  # where MicroPython's firmware.bin puts the app
    assert vfs["size"] >= 1024 * 1024


def test_table_with_optional_flags_and_size_suffixes_parses():
    text = GOOD.replace("0x6000,", "24K, encrypted").replace("0x170000,", "1472K,")
    assert [p["size"] for p in parse_partitions(text)] == [0x6000, 0x1000, 0x280000, 0x170000]


@pytest.mark.parametrize("change, message", [
    (("0x290000, 0x170000", "0x280000, 0x180000"), "overlap"),
    (("factory, 0x10000", "factory, 0x18000"), "not aligned"),
    (("0x290000, 0x170000", "0x290000, 0x180000"), "past the 4 MB flash"),
    (("nvs,     0x9000", "nvs,     0x8000"), "partition table"),
    (("0x280000,", "0x280800,"), "multiple of"),
    (("data, fat", "data, fatt"), "unknown data subtype"),
])
def test_broken_tables_are_rejected(change, message):
    old, new = change
    assert old in GOOD
    with pytest.raises(ImageCheckError, match=message):
        parse_partitions(GOOD.replace(old, new))


def test_table_without_a_vfs_partition_is_rejected():
    with pytest.raises(ImageCheckError, match="vfs"):
        micropython_layout(parse_partitions(GOOD.replace("vfs,", "storage,")))


def test_sdkconfig_uses_the_committed_table_and_4mb_flash():
    settings = read_sdkconfig(SDKCONFIG_BOARD)
    assert settings["CONFIG_PARTITION_TABLE_CUSTOM"] == "y"
    # the build copies the board folder into ports/esp32/boards/, the IDF project folder
    assert (IMAGE_DIR / settings["CONFIG_PARTITION_TABLE_CUSTOM_FILENAME"]).resolve() == PARTITIONS_CSV.resolve()
    assert settings["CONFIG_ESPTOOLPY_FLASHSIZE"] == "%dMB" % (FLASH_BYTES // 2 ** 20)


def test_psram_is_part_of_malloc_so_heap_and_frame_buffers_cannot_overlap():
    settings = read_sdkconfig(SDKCONFIG_BOARD)
    assert settings["CONFIG_SPIRAM"] == "y"
    assert settings["CONFIG_SPIRAM_USE_MALLOC"] == "y"
    assert settings["CONFIG_SPIRAM_USE_CAPS_ALLOC"] == "n"
    assert settings["CONFIG_SPIRAM_USE_MEMMAP"] == "n"
    # the board's settings come last, after the port's PSRAM defaults, so they win
    cmake = (BOARD_DIR / "mpconfigboard.cmake").read_text()
    assert cmake.index("boards/sdkconfig.spiram") < cmake.index("SMARTBIN_AITHINKER_ESP32CAM/sdkconfig.board")


def test_camera_binding_gets_the_ai_thinker_pin_map():
    assert "#define MICROPY_CAMERA_MODEL_AI_THINKER (1)" in (BOARD_DIR / "mpconfigboard.h").read_text()
