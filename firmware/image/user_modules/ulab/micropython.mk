# ulab in the unix build (make firmware-host): upstream's own micropython.mk, with the
# definitions of defines.txt. SMARTBIN_FW_SRC comes from ../../build_host.sh.
SMARTBIN_HASH := \#
SMARTBIN_ULAB_DIR := $(USERMOD_DIR)
USERMOD_DIR := $(SMARTBIN_FW_SRC)/micropython-ulab/code
include $(USERMOD_DIR)/micropython.mk
CFLAGS_USERMOD += $(addprefix -D,$(shell grep -v '^$(SMARTBIN_HASH)' $(SMARTBIN_ULAB_DIR)/defines.txt))
