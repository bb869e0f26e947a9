# microlite in the unix build (make firmware-host): the sources of sources.txt with the
# definitions of defines.txt, as micropython.cmake builds them for the ESP32 image.
# TFLM and ESP-NN come prebuilt from ../../build_host.sh (SMARTBIN_TFLM: their sources and
# libraries), compiled by esp-tflite-micro's and esp-nn's own component files.
SMARTBIN_HASH := \#
SMARTBIN_MICROLITE_DIR := $(USERMOD_DIR)
SMARTBIN_MICROLITE_SRC := $(SMARTBIN_FW_SRC)/tensorflow-micropython-examples/micropython-modules/microlite
SMARTBIN_MICROLITE_SOURCES := $(patsubst upstream/%,$(SMARTBIN_MICROLITE_SRC)/%,\
    $(patsubst local/%,$(SMARTBIN_MICROLITE_DIR)/%,\
    $(shell grep -v '^$(SMARTBIN_HASH)' $(SMARTBIN_MICROLITE_DIR)/sources.txt)))
SMARTBIN_MICROLITE_FLAGS := $(addprefix -D,$(shell grep -v '^$(SMARTBIN_HASH)' $(SMARTBIN_MICROLITE_DIR)/defines.txt))

SRC_USERMOD_C += $(filter %.c,$(SMARTBIN_MICROLITE_SOURCES))
SRC_USERMOD_CXX += $(filter %.cpp,$(SMARTBIN_MICROLITE_SOURCES))

SMARTBIN_TFLM_SRC := $(SMARTBIN_TFLM)/src/esp-tflite-micro
SMARTBIN_MICROLITE_INCLUDES := -I$(SMARTBIN_MICROLITE_DIR) -I$(SMARTBIN_MICROLITE_SRC) \
    -I$(SMARTBIN_TFLM_SRC) -I$(SMARTBIN_TFLM_SRC)/third_party/flatbuffers/include \
    -I$(SMARTBIN_TFLM_SRC)/third_party/gemmlowp -I$(SMARTBIN_TFLM_SRC)/third_party/ruy \
    -I$(SMARTBIN_TFLM_SRC)/third_party/kissfft

CFLAGS_USERMOD += $(SMARTBIN_MICROLITE_INCLUDES) $(SMARTBIN_MICROLITE_FLAGS) -Wno-error
CXXFLAGS_USERMOD += $(SMARTBIN_MICROLITE_INCLUDES) $(SMARTBIN_MICROLITE_FLAGS) -Wno-error \
    -fno-rtti -fno-exceptions
LDFLAGS_USERMOD += $(SMARTBIN_TFLM)/lib/libesp-tflite-micro.a $(SMARTBIN_TFLM)/lib/libesp-nn.a \
    -lstdc++ -lm
