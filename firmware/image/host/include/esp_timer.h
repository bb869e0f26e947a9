// ESP-IDF's microsecond clock, for the unix build: the ESP-NN kernels of esp-tflite-micro
// time themselves with it.
#pragma once
#include <stdint.h>
#include <time.h>
#include "sdkconfig.h"

static inline int64_t esp_timer_get_time(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}
