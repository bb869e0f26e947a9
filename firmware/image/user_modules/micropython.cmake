# User C modules of the smartbin image: microlite (TFLM + ESP-NN) and the camera
# binding. ../build.sh prepares their sources at the pins of ../versions.env in
# SMARTBIN_FW_SRC and passes this file as USER_C_MODULES. (The unix build, make
# firmware-host, reads the micropython.mk files beside these instead.)
if(DEFINED ENV{SMARTBIN_FW_SRC})
    set(SMARTBIN_FW_SRC $ENV{SMARTBIN_FW_SRC})
else()
    get_filename_component(SMARTBIN_FW_SRC ${CMAKE_CURRENT_LIST_DIR}/../build/src ABSOLUTE)
endif()

include(${CMAKE_CURRENT_LIST_DIR}/microlite/micropython.cmake)

# camera (ESP32 only): reads MICROPY_CAMERA_MODEL_AI_THINKER from the board's mpconfigboard.h.
# Its micropython.cmake (at the top of that repository) also points MICROPY_FROZEN_MANIFEST
# at its own manifest (the port's modules + acamera.py), which would leave the application
# out of the image: the manifest given to the build is put back after it.
set(SMARTBIN_FROZEN_MANIFEST "${MICROPY_FROZEN_MANIFEST}")
include(${SMARTBIN_FW_SRC}/micropython-camera-API/micropython.cmake)
set(MICROPY_FROZEN_MANIFEST "${SMARTBIN_FROZEN_MANIFEST}")
