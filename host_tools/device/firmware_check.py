"""What the MicroPython firmware on the board can do, asked before a deploy copies anything.

A plain MicroPython image boots, imports the application and starts it, yet can never
classify (no TFLM) or see (no camera driver): the bin would only ever open its general lid.
So `deploy` asks the board first and refuses such a firmware in one line that names what
is missing and how to get the right image. The question is one short program run in the
raw REPL; it imports nothing that starts hardware.
"""
from host_tools.errors import SmartbinError

# The firmware image is built from MicroPython 1.27 (firmware/image), and the application
# relies on its esp32 port (the watchdog, pad holds and reset causes as documented there).
REQUIRED_VERSION = (1, 27)
# What each missing piece means for the bin, said once.
_MISSING = {
    "microlite": "no microlite module (TensorFlow Lite Micro: the bin could not classify)",
    "camera": "no camera module (the bin could not take a photo)",
}
GET_THE_IMAGE = ("flash the smartbin firmware image: `make firmware` builds "
                 "firmware/image/build/firmware.bin, then `smartbin flash --port %s "
                 "firmware/image/build/firmware.bin`")

# Runs on the board; prints one Python literal. The viper probe compiles a two-line
# function: a firmware without the native emitter raises SyntaxError at compile time.
PROBE = """
import sys
_facts = {"version": tuple(sys.implementation.version[:3]),
          "mpy": getattr(sys.implementation, "_mpy", 0),
          "machine": getattr(sys.implementation, "_machine", sys.platform)}
for _name in ("microlite", "camera"):
    try:
        __import__(_name)
        _facts[_name] = True
    except ImportError:
        _facts[_name] = False
try:
    _scope = {}
    exec("import micropython\\n@micropython.viper\\ndef f(x: int) -> int:\\n    return x + 1\\n",
         _scope)
    _facts["viper"] = _scope["f"](1) == 2
except Exception:
    _facts["viper"] = False
print(repr(_facts))
del _facts, _name, _scope
"""


def ask(board):
    """The board's answers to PROBE: {"version", "mpy", "machine", "microlite", "camera",
    "viper"}."""
    import ast

    output = board.exec(PROBE, action="asking the firmware what it can do")
    try:
        facts = ast.literal_eval(output.decode("utf-8", "replace").strip().splitlines()[-1])
    except (ValueError, SyntaxError, IndexError):
        raise SmartbinError("the board gave an unexpected answer about its firmware: %r"
                            % output[-200:]) from None
    if not isinstance(facts, dict):
        raise SmartbinError("the board gave an unexpected answer about its firmware")
    return facts


def _version_text(version):
    return ".".join(str(part) for part in version)


def judge(facts, mpy_version=None):
    """(missing, warnings): what stops the bin from working on this firmware, and what
    only makes it slower. `mpy_version` is the .mpy format version of precompiled files to
    be sent (None when sending sources)."""
    missing = []
    version = tuple(facts.get("version") or (0, 0, 0))
    if version[:2] < REQUIRED_VERSION:
        missing.append("MicroPython %s (the bin needs %s or newer)"
                       % (_version_text(version), _version_text(REQUIRED_VERSION)))
    for module, meaning in _MISSING.items():
        if not facts.get(module):
            missing.append(meaning)
    board_mpy = facts.get("mpy", 0) & 0xFF
    if mpy_version is not None and board_mpy != mpy_version:
        missing.append(".mpy format %d (mpy-cross here makes format %d; deploy without --mpy)"
                       % (board_mpy, mpy_version))
    warnings = []
    if not facts.get("viper"):
        warnings.append("this firmware cannot compile viper code: the bin works, but "
                        "preparing each photo for the model runs as plain Python (slower)")
    return missing, warnings


def check(board, mpy_version=None):
    """Raise SmartbinError (one line) when the board's firmware cannot run the bin;
    return (facts, warnings) otherwise."""
    facts = ask(board)
    missing, warnings = judge(facts, mpy_version)
    if missing:
        raise SmartbinError("the firmware on %s cannot run the bin: %s; %s. Nothing was "
                            "copied" % (board.port, "; ".join(missing),
                                        GET_THE_IMAGE % board.port))
    return facts, warnings
