# User C modules of the smartbin image: ulab, microlite (TFLM + ESP-NN) and the camera
# binding. ../build.sh fetches their sources at the pins of ../versions.env into
# SMARTBIN_FW_SRC and passes this file as USER_C_MODULES.
if(DEFINED ENV{SMARTBIN_FW_SRC})
    set(SMARTBIN_FW_SRC $ENV{SMARTBIN_FW_SRC})
else()
    get_filename_component(SMARTBIN_FW_SRC ${CMAKE_CURRENT_LIST_DIR}/../build/src ABSOLUTE)
endif()

# ulab: numpy-like arrays. 2-D, no complex numbers, no scipy: what the bin uses, and
# less flash than the defaults.
include(${SMARTBIN_FW_SRC}/micropython-ulab/code/micropython.cmake)
target_compile_definitions(usermod_ulab INTERFACE
    ULAB_MAX_DIMS=2
    ULAB_SUPPORTS_COMPLEX=0
    ULAB_HAS_SCIPY=0
)

include(${CMAKE_CURRENT_LIST_DIR}/microlite/micropython.cmake)

# camera: reads MICROPY_CAMERA_MODEL_AI_THINKER from the board's mpconfigboard.h.
include(${SMARTBIN_FW_SRC}/micropython-camera-API/src/micropython.cmake)
