// AI-Thinker ESP32-CAM for the smart bin (ESP32, 4 MB PSRAM, OV2640, 4 MB flash).
#define MICROPY_HW_BOARD_NAME "Smartbin AI-Thinker ESP32-CAM"
#define MICROPY_HW_MCU_NAME "ESP32"

// No BLE in this image (mpconfigboard.cmake leaves out sdkconfig.ble), as the ESP32-S2
// boards of the port do it.
#define MICROPY_PY_BLUETOOTH (0)

// micropython-camera-API: the AI-Thinker pin map becomes Camera()'s default.
#define MICROPY_CAMERA_MODEL_AI_THINKER (1)
