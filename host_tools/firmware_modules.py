"""The firmware's own pure-Python modules (firmware/smartbin), imported by the host where a
fact must be stated once for both (pulse limits, pin owners, the config rules)."""
import importlib
import sys
from pathlib import Path

FIRMWARE_DIR = Path(__file__).resolve().parent.parent / "firmware"


def firmware_module(name):
    """`smartbin.<name>` from firmware/, e.g. firmware_module("lids")."""
    if str(FIRMWARE_DIR) not in sys.path:
        sys.path.insert(0, str(FIRMWARE_DIR))
    return importlib.import_module("smartbin." + name)
