"""Who owns each GPIO of the AI-Thinker ESP32-CAM, and which pin choices in config.json
the bin refuses or warns about. One table: the firmware's config check reads it on the
board, and the host (deploy, simulate) imports this same file.

Refused: a pin of the SPI flash, the PSRAM or the serial console; the SD card's pins when
a build uses the card (the bin does not: its default lids sit on them); an input-only pin
asked to drive something; a pin that does not exist; one pin given to two devices.
Warned about: a strapping pin for a device the config chooses (the chip reads these pins
at reset, so what hangs on them matters at power-up)."""

# Pins the module itself uses (ESP32-WROVER-class module on the AI-Thinker board).
BOARD = {
    1: "the serial console (UART0 TX)", 3: "the serial console (UART0 RX)",
    6: "the SPI flash (CLK)", 7: "the SPI flash (D0)", 8: "the SPI flash (D1)",
    9: "the SPI flash (D2)", 10: "the SPI flash (D3)", 11: "the SPI flash (CMD)",
    16: "the PSRAM (CS)", 17: "the PSRAM (CLK)",
}
# The microSD slot (SDMMC, 4-bit); GPIO4 also drives the flash LED on this board.
SD_CARD = {2: "the SD card (DATA0)", 4: "the SD card (DATA1)", 12: "the SD card (DATA2)",
           13: "the SD card (DATA3)", 14: "the SD card (CLK)", 15: "the SD card (CMD)"}
# What the chip needs of each strapping pin at reset.
STRAPPING = {
    0: "must be high at reset (low starts the bootloader)",
    2: "must be low or floating at reset (high stops flashing)",
    5: "must be high at reset (it sets the SDIO timing)",
    12: "must be low at reset (high selects 1.8 V flash and the board does not boot)",
    15: "must be high at reset (low silences the boot messages)",
}
INPUT_ONLY = (34, 35, 36, 37, 38, 39)
GPIOS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 23,
         25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39)

# (config.pins key, what it is, drives the pin, may be switched off (-1) when refused)
_CAMERA = (
    ("camera_xclk", "camera XCLK", True, False), ("camera_pclk", "camera PCLK", False, False),
    ("camera_vsync", "camera VSYNC", False, False), ("camera_href", "camera HREF", False, False),
    ("camera_sda", "camera SDA", True, False), ("camera_scl", "camera SCL", True, False),
    ("camera_power", "camera power (PWDN)", True, True),
    ("camera_reset", "camera reset", True, True),
)
_DEVICES = (
    ("wake", "wake sensor", False, False), ("button", "button", False, True),
    ("status_led", "status LED", True, True), ("flash_led", "flash LED", True, True),
    ("keep_alive", "power keep-alive", True, True),
)


def _claims(pins, lids):
    """[(gpio, name, drives, switch_off)] in the order pins are claimed: the camera (wired
    on the board), the wake sensor, the button, the LEDs, then the lids. switch_off is a
    function that takes the pin away from its device, or None."""
    claims = []
    for index, gpio in enumerate(pins["camera_data"]):
        claims.append((gpio, "camera D%d" % index, False, None))
    for key, name, drives, optional in _CAMERA + _DEVICES:
        gpio = pins.get(key, -1)  # keep_alive: only a latch-powered bin has one
        claims.append((gpio, name, drives, _off(pins, key) if optional else None))
    for lid in lids:
        claims.append((lid["pin"], "lid " + lid["name"], True, _off(lid, "pin")))
    return claims


def _off(table, key):
    def switch_off():
        table[key] = -1
    return switch_off


def settle(pins, lids, sd_card=False):
    """Check every pin the config hands out; return (refused, warnings), one line each
    naming the pin and its owner. A refused device that can do without its pin (a lid, an
    LED, the button, the camera's power and reset lines) gets -1 and is never driven."""
    refused = []
    warnings = []
    owner = {}
    for gpio, name, drives, switch_off in _claims(pins, lids):
        if gpio < 0:
            continue
        problem = None
        if gpio not in GPIOS:
            problem = "GPIO%d for %s does not exist on the ESP32" % (gpio, name)
        elif gpio in BOARD:
            problem = "GPIO%d for %s belongs to %s" % (gpio, name, BOARD[gpio])
        elif sd_card and gpio in SD_CARD:
            problem = "GPIO%d for %s belongs to %s" % (gpio, name, SD_CARD[gpio])
        elif drives and gpio in INPUT_ONLY:
            problem = "GPIO%d for %s is input-only: it cannot drive anything" % (gpio, name)
        elif gpio in owner:
            problem = "GPIO%d is shared by %s and %s" % (gpio, owner[gpio], name)
        if problem is None:
            owner[gpio] = name
            if gpio in STRAPPING and not name.startswith("camera"):
                warnings.append("GPIO%d for %s is a strapping pin: it %s"
                                % (gpio, name, STRAPPING[gpio]))
            continue
        refused.append("pins: " + problem)
        if switch_off is not None:
            switch_off()
    return refused, warnings
