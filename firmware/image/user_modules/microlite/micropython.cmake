# microlite, the TFLM binding of tensorflow-micropython-examples, built from its C/C++
# sources (patched by ../../build.sh) against Espressif's esp-tflite-micro component.
# That component is TFLM with the ESP-NN kernels switched on (-DESP_NN); main's
# idf_component.yml lists it, so its include paths reach the user-module sources.
set(MICROLITE_SRC ${SMARTBIN_FW_SRC}/tensorflow-micropython-examples/micropython-modules/microlite)

add_library(usermod_microlite INTERFACE)

target_sources(usermod_microlite INTERFACE
    ${MICROLITE_SRC}/tensorflow-microlite.c
    ${MICROLITE_SRC}/audio_frontend.c
    ${MICROLITE_SRC}/openmv-libtf-updated.cpp
    ${MICROLITE_SRC}/micropython-error-reporter.cpp
    # our operator list instead of the binding's all-ops python_ops_resolver.cc
    ${CMAKE_CURRENT_LIST_DIR}/ops_resolver.cc
)

# Our directory first: its python_ops_resolver.h is the one the binding includes.
target_include_directories(usermod_microlite INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
    ${MICROLITE_SRC}
)

target_compile_definitions(usermod_microlite INTERFACE
    MODULE_MICROLITE_ENABLED=1
    TF_LITE_STATIC_MEMORY=1
    TF_LITE_MCU_DEBUG_LOG
    NDEBUG
    # MicroPython 1.23 dropped the STATIC macro; the binding still uses it.
    STATIC=static
)

# The binding predates MicroPython's stricter typing of error texts; keep its warnings
# as warnings (the same relaxation its own build files apply).
target_compile_options(usermod_microlite INTERFACE
    -Wno-error
    $<$<COMPILE_LANGUAGE:CXX>:-fno-rtti -fno-exceptions>
)

target_link_libraries(usermod INTERFACE usermod_microlite)
