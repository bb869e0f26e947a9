# AI-Thinker ESP32-CAM for the smart bin: ESP32 with PSRAM, BLE kept as in ESP32_GENERIC.
set(IDF_TARGET esp32)

set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    ${SDKCONFIG_IDF_VERSION_SPECIFIC}
    boards/sdkconfig.ble
    boards/sdkconfig.spiram
    # last, so it overrides the port's defaults
    boards/SMARTBIN_AITHINKER_ESP32CAM/sdkconfig.board
)
