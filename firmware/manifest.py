# Freezes the smart bin's application into the firmware image (firmware/image): frozen
# bytecode runs from flash, so it costs no heap to load and boots faster.
#
# The model is NOT frozen: the application reads /model.tflite and /model.json from the
# board's filesystem (paths in config.json), so a retrained model goes onto the board
# with `make deploy` and no reflashing.
#
# A frozen module shadows a copy on the filesystem under /lib; a frozen main.py runs at
# boot like one on the filesystem.

metadata(
    description="Smart waste bin: classify an item with the camera, open the right lid",
    version="0.1.0",
    license="MIT",
)

# The port's own frozen modules (_boot.py mounts the filesystem, inisetup, ...).
include("$(PORT_DIR)/boards/manifest.py")

# The whole application package, whatever modules it holds.
package("smartbin", base_path=".")
module("main.py", base_path=".")
