"""`smartbin`: one command, a subcommand per thing a user wants to do.

Each subcommand lives in its own module, which exposes
``configure(parser)`` (add its arguments) and ``run(args) -> int``. Modules are imported
only when their subcommand runs, so `smartbin flash` never pays for importing TensorFlow.
Every user-facing failure is a `SmartbinError`, printed here as one line.
"""
import argparse
import codecs
import importlib
import os
import sys

from host_tools import __version__, option_numbers
from host_tools.errors import SmartbinError

# name -> (module implementing it, one-line help). The table is the whole CLI.
_COMMANDS = {
    "data": ("host_tools.data.cli", "get, clean, inspect and split images"),
    "train": ("host_tools.model.train", "train the classifier by transfer learning"),
    "export": ("host_tools.model.export", "quantize to full int8; write model.tflite, model.h, model.json"),
    "evaluate": ("host_tools.model.evaluate", "score an int8 model on a folder of class folders"),
    "predict": ("host_tools.model.predict", "classify photos with an int8 model"),
    "bench": ("host_tools.model.bench", "train and measure several operating points"),
    "simulate": ("host_tools.simulate", "run the bin's firmware on photos, on this computer"),
    "power": ("host_tools.power", "estimate battery life and energy per item"),
    "flash": ("host_tools.device.flash", "write a MicroPython firmware image with esptool"),
    "deploy": ("host_tools.device.deploy", "copy the application, model and config to the board"),
    "servo": ("host_tools.device.servo", "move one lid to a pulse width, to calibrate it"),
    "selftest": ("host_tools.device.selftest", "test every lid, the LEDs, camera and model"),
    "capture": ("host_tools.device.capture", "take photos with the board's camera into a class folder"),
    "pull": ("host_tools.device.pull", "copy the bin's debug frames into a local inbox"),
    "inbox": ("host_tools.device.inbox", "file pulled frames into class folders"),
    "monitor": ("host_tools.device.monitor", "show the board's log and decoded error log"),
    "preview": ("host_tools.device.preview", "show the bin's camera, scores and lid live in the browser"),
    "try": ("host_tools.virtual.trial", "run the whole bin on a virtual board: drop photos, "
                                         "watch it sort"),
}


def _chosen_command(argv):
    """The subcommand named on the command line: the first word that is not an option."""
    return next((word for word in argv if not word.startswith("-")), None)


def _build_parser(chosen):
    parser = argparse.ArgumentParser(
        prog="smartbin", description="Smart waste-segregation bin: host toolchain.")
    parser.add_argument("--version", action="version", version="smartbin " + __version__)
    parser.add_argument("--verbose", action="store_true",
                        help="show full tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in _COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(_module_name=module_name)
        if name == chosen:
            importlib.import_module(module_name).configure(sub)
            option_numbers.check_numbers(sub)
    return parser


def _show_undecodable(error):
    # A file name that is not valid UTF-8 reaches us with surrogate escapes (\udcNN for
    # the byte NN); show that byte as \xNN, anything else unprintable as \uNNNN.
    shown = "".join("\\x%02x" % (ord(char) - 0xDC00) if 0xDC80 <= ord(char) <= 0xDCFF
                    else "\\u%04x" % ord(char) for char in error.object[error.start:error.end])
    return shown, error.end


codecs.register_error("smartbin-show-bytes", _show_undecodable)


def _print_any_file_name():
    # Printing such a name must show it rather than stop the command.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="smartbin-show-bytes")
            except (ValueError, OSError):
                pass


def main(argv=None):
    """Run the CLI; return the exit code (0 ok, 1 error, 2 usage)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _print_any_file_name()
    verbose = "--verbose" in argv or os.environ.get("SMARTBIN_VERBOSE") == "1"
    # --verbose is accepted anywhere (`smartbin deploy --port X --verbose`), not only first
    argv = ["--verbose"] + [a for a in argv if a != "--verbose"] if verbose else argv
    try:
        # Only the chosen subcommand's module is imported (it may pull in TensorFlow).
        parser = _build_parser(_chosen_command(argv))
        try:
            args = parser.parse_args(argv)
        except SystemExit as exit_request:
            return int(exit_request.code or 0)
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        module = importlib.import_module(args._module_name)
        return int(module.run(args) or 0)
    except SmartbinError as error:
        if verbose:
            raise
        print("error: %s" % error, file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader stopped (`smartbin ... | head`): nothing to report, nowhere to report it.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except OSError as error:
        # Disk full, a vanished USB stick, a folder not ours: still one line, not a trace.
        if verbose:
            raise
        where = " (%s)" % error.filename if error.filename else ""
        print("error: %s%s" % (error.strerror or error, where), file=sys.stderr)
        return 1
    except RecursionError:
        # A hostile file (JSON nested thousands deep) that a parser met before our checks.
        if verbose:
            raise
        print("error: input nested too deeply to read", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
