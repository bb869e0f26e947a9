// What the ESP32 image's sdkconfig.h tells esp-nn (through esp_timer.h, as ESP-IDF's does)
// for the unix build: ESP-NN's optimised versions for the ESP32 (not the S3), which are its
// generic C ones. No CONFIG_IDF_TARGET_ARCH_XTENSA: its few Xtensa instructions have
// C twins.
#pragma once
#define CONFIG_IDF_TARGET_ESP32 1
#define CONFIG_NN_OPTIMIZED 1
