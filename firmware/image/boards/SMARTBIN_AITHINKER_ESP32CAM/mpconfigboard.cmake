# AI-Thinker ESP32-CAM for the smart bin: ESP32 with PSRAM, no Bluetooth.
# The list follows MicroPython 1.27's ESP32_GENERIC board (its SPIRAM variant adds
# boards/sdkconfig.spiram) without boards/sdkconfig.ble: the bin uses no BLE, and with it
# the BT controller keeps its internal DRAM reserved (the port never releases it), DRAM
# the TFLM arena and the camera's DMA buffers need. mpconfigboard.h turns the Python
# `bluetooth` module off to match.
set(IDF_TARGET esp32)

set(SDKCONFIG_DEFAULTS
    boards/sdkconfig.base
    boards/sdkconfig.spiram
    # last, so it overrides the port's defaults
    boards/SMARTBIN_AITHINKER_ESP32CAM/sdkconfig.board
)
