# ulab in the ESP32 image: upstream's own cmake file, with the definitions of defines.txt.
include(${SMARTBIN_FW_SRC}/micropython-ulab/code/micropython.cmake)
file(STRINGS ${CMAKE_CURRENT_LIST_DIR}/defines.txt ULAB_DEFINES REGEX "^[^#]")
target_compile_definitions(usermod_ulab INTERFACE ${ULAB_DEFINES})
