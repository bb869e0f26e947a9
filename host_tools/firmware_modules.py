"""The firmware's own pure-Python modules (firmware/smartbin), imported by the host where a
fact must be stated once for both (pulse limits, pin owners, the config rules)."""
import importlib
import sys
from pathlib import Path

from host_tools.paths import FIRMWARE_DIR


def firmware_module(name):
    """`smartbin.<name>` from firmware/, e.g. firmware_module("lids")."""
    if str(FIRMWARE_DIR) not in sys.path:
        sys.path.insert(0, str(FIRMWARE_DIR))
    return importlib.import_module("smartbin." + name)


def pin_warnings(config, where):
    """Refuse a config whose pins clash with the board (firmware smartbin/pin_owners.py:
    the flash, PSRAM, console, camera, input-only pins, one pin twice), in one line naming
    each pin and its owner; return the strapping-pin warnings. `config` is the firmware's
    validated Config."""
    from host_tools.errors import SmartbinError

    if config.pin_conflicts:
        raise SmartbinError("%s: %s" % (where, "; ".join(
            conflict.split(": ", 1)[1] for conflict in config.pin_conflicts)))
    return list(config.pin_warnings)
