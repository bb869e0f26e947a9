# microlite, the TFLM binding of tensorflow-micropython-examples, in the ESP32 image: the
# sources of sources.txt (the binding patched by ../../patches) against Espressif's
# esp-tflite-micro component. That component is TFLM with the ESP-NN kernels switched on
# (-DESP_NN); main's idf_component.yml lists it, so its include paths reach these sources.
set(MICROLITE_SRC ${SMARTBIN_FW_SRC}/tensorflow-micropython-examples/micropython-modules/microlite)

file(STRINGS ${CMAKE_CURRENT_LIST_DIR}/sources.txt MICROLITE_SOURCES REGEX "^[^#]")
list(TRANSFORM MICROLITE_SOURCES REPLACE "^upstream/" "${MICROLITE_SRC}/")
list(TRANSFORM MICROLITE_SOURCES REPLACE "^local/" "${CMAKE_CURRENT_LIST_DIR}/")
file(STRINGS ${CMAKE_CURRENT_LIST_DIR}/defines.txt MICROLITE_DEFINES REGEX "^[^#]")

add_library(usermod_microlite INTERFACE)
target_sources(usermod_microlite INTERFACE ${MICROLITE_SOURCES})
target_include_directories(usermod_microlite INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
    ${MICROLITE_SRC}
)
target_compile_definitions(usermod_microlite INTERFACE ${MICROLITE_DEFINES})

# The binding predates MicroPython's stricter typing of error texts; keep its warnings
# as warnings (the same relaxation its own build files apply).
target_compile_options(usermod_microlite INTERFACE
    -Wno-error
    $<$<COMPILE_LANGUAGE:CXX>:-fno-rtti -fno-exceptions>
)

target_link_libraries(usermod INTERFACE usermod_microlite)
