"""`smartbin preview`: the bin's camera live on this computer, to aim it, set the light and
check focus.

A page on 127.0.0.1 shows each frame as the model sees it and larger, the model's scores,
the lid the bin would choose, the brightness and clipped pixels, with toggles for the
flash LED and the frame size. The board only captures (the application's camera driver,
firmware smartbin/preview.py) and sends the frame, at the size the bin captures (the
model's input, or the larger frame of an isolate model) unless the page asks for a larger
one; this computer classifies it with the bin's own preprocessing (with the item isolated
against the board's empty-chamber thumbnail, as the bin does), model and lid rule
(preview_frame.py) on the same model file, because the frame has to come here anyway and
the laptop classifies faster than the board. Ctrl-C ends it: camera and flash LED off,
lids closed, and the board restarts into the application (machine.reset()), back to
sorting.
"""
import hashlib
import signal
import threading
from pathlib import Path

from host_tools.errors import SmartbinError
from host_tools.option_numbers import above_zero
from host_tools.device import preview_board, preview_frame
from host_tools.device.preview_page import PageServer, PreviewState
from host_tools.device.transport import Board, check_port
from host_tools.firmware_modules import firmware_module

BAUDS_REPORTED = (115200, 921600)  # the REPL's rate, and what CH340/CP2102 adapters take
LARGER_SIZES = ((160, 120), (320, 240))  # for aiming: the sensor's QQVGA and QVGA
MAX_GLITCHES = 5


def frame_sizes(bin_width, bin_height):
    """["WxH", ...]: the size the bin captures first (the model's input, or an isolate
    model's frame), then the larger sizes the camera driver can give (firmware
    smartbin/board.py)."""
    sensor_sizes = firmware_module("board")._FRAME_SIZES
    sizes = ["%dx%d" % (bin_width, bin_height)]
    for width, height in LARGER_SIZES:
        if (width, height) in sensor_sizes and width * height > bin_width * bin_height:
            sizes.append("%dx%d" % (width, height))
    return sizes


def find_model(board_sha256, model_dir=None):
    """(model contract, model bytes) of the folder holding the board's model: `model_dir`,
    else the one of build/model and models/default whose model.tflite has that sha256."""
    from host_tools.model import model_choice
    from host_tools.model.predict import load_model_folder
    from host_tools.paths import COMMITTED_DEFAULT

    candidates = [Path(model_dir)] if model_dir else [model_choice.TRAINED, COMMITTED_DEFAULT]
    for folder in candidates:
        try:
            model_contract, model_bytes = load_model_folder(folder)
        except SmartbinError:
            if model_dir:
                raise
            continue  # not this one: a half-built build/model, say
        if hashlib.sha256(model_bytes).hexdigest() == board_sha256:
            return model_contract, model_bytes
    raise SmartbinError("the board runs another model than %s (sha256 %s... on the board): pass "
                        "--model with the folder you deployed, or deploy this one"
                        % (" or ".join(str(c) for c in candidates), board_sha256[:12]))


def link_figures(link_bytes, seconds):
    """What a frame costs on the serial line, and the frame rates that allows (computed)."""
    figures = {"bytes_per_frame": link_bytes, "seconds": round(seconds, 3)}
    for baud in BAUDS_REPORTED:
        figures["fps_%d" % baud] = round(preview_board.frames_per_second(link_bytes, baud), 3)
    return figures


def open_session(link, model_dir=None):
    """Read the board's config, model contract and empty-chamber thumbnail, find the same
    model here; return (FrameScorer, PreviewState)."""
    link.load()
    config = preview_frame.board_config(link.read(preview_board.CONFIG_PATH),
                                        preview_board.CONFIG_PATH)
    contract_bytes = link.read(config.contract_path)
    board_sha256 = link.model_sha256(config.model_path)
    if contract_bytes is None or board_sha256 is None:
        raise SmartbinError("the board has no model (%s, %s): run `smartbin deploy` first"
                            % (config.contract_path, config.model_path))
    raw, _ = preview_frame.board_contract(contract_bytes)
    _, model_bytes = find_model(board_sha256, model_dir)
    empty_chamber = None
    if raw.get("isolate") is not None:
        # the reference the bin finds its next item against (None: the bin has not seen
        # its empty chamber yet, and classifies the whole frame)
        empty_chamber = link.read(firmware_module("cycle").EMPTY_CHAMBER)
    scorer = preview_frame.FrameScorer(config, raw, model_bytes, empty_chamber)
    state = PreviewState(frame_sizes(*scorer.bin_size), config.flash)
    return scorer, state


def show_frames(link, scorer, state, stop):
    """Capture, decide and publish frames until `stop` is set. A camera that fails
    MAX_GLITCHES times in a row ends the preview; fewer are shown on the page."""
    glitches = 0
    while not stop.is_set():
        settings = state.settings()
        width, height = (int(side) for side in settings["frame_size"].split("x"))
        try:
            frame, meta = link.frame(width, height, scorer.grayscale, settings["flash"])
        except preview_board.CameraGlitch as error:
            glitches += 1
            if glitches >= MAX_GLITCHES:
                raise SmartbinError("the camera failed %d times in a row (%s): is its ribbon "
                                    "seated? `smartbin selftest` checks it" % (glitches, error))
            state.report("no frame this time (%s); trying again" % error)
            continue
        glitches = 0
        data, images = scorer.look(frame, meta)
        data["flash"] = meta["flash"]
        data["link"] = link_figures(link.last_frame_bytes, link.last_frame_seconds)
        state.publish(data, images)


def preview(port, model_dir=None, on_ready=None, stop=None, board=None, baud=115200):
    """Run the preview until `stop` (a threading.Event) is set; `on_ready(url)` is called
    once the page serves. Returns {"frames", "bytes_per_frame", "fps_115200", ...} and
    "board": the board's own report after stopping ({"camera_on", "flash"})."""
    stop = stop or threading.Event()
    own_board = board is None
    board = board or Board(port, baudrate=baud)
    link = preview_board.PreviewBoard(board)
    summary = {"board": None}
    try:
        scorer, state = open_session(link, model_dir)
        with PageServer(state) as url:
            if on_ready:
                on_ready(url)
            try:
                show_frames(link, scorer, state, stop)
            except SmartbinError as error:
                state.report("stopped: %s" % error)
                _stop_quietly(link)
                raise
            summary["board"] = link.stop()
    except KeyboardInterrupt:
        # a second Ctrl-C, mid-frame: end the board's command, hand the bin back, then stop
        if link.loaded:
            board.interrupt()
            _stop_quietly(link)
        raise
    finally:
        if own_board:
            board.close()  # machine.reset(): the application starts again
    summary["frames"] = link.frames
    summary.update(link_figures(link.last_frame_bytes, link.last_frame_seconds))
    return summary


def _stop_quietly(link):
    # Best effort on the way out of a failure; the restart that follows switches the
    # camera and the LED off in any case.
    try:
        link.stop()
    except SmartbinError:
        pass


# ---- command line ------------------------------------------------------------------------
def configure(parser):
    parser.add_argument("--port", help="serial port of the board (e.g. /dev/ttyUSB0)")
    parser.add_argument("--model", default=None,
                        help="the model folder deployed to the board (default: build/model or "
                             "models/default, whichever the board runs)")
    parser.add_argument("--no-browser", action="store_true",
                        help="only print the page's address; do not open a browser")
    parser.add_argument("--baud", type=above_zero(int), default=115200,
                        help="serial baud rate of the board's REPL (default: %(default)s)")


def _stop_on_ctrl_c(stop):
    """The first Ctrl-C ends the preview after the frame in flight; a second one at once."""
    def first(signum, frame):
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        print("stopping after this frame (Ctrl-C again to stop at once)", flush=True)

    signal.signal(signal.SIGINT, first)


def run(args):
    check_port(args.port)
    stop = threading.Event()

    def ready(url):
        print("preview: %s (Ctrl-C to stop)" % url, flush=True)
        if not args.no_browser:
            import webbrowser

            webbrowser.open(url)

    _stop_on_ctrl_c(stop)
    try:
        summary = preview(args.port, args.model, ready, stop, baud=args.baud)
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if summary["frames"]:
        print("preview stopped after %d frames; %d bytes per frame on the serial line: at most "
              "%.2f frames/s at 115200 baud, %.2f at 921600 (computed)"
              % (summary["frames"], summary["bytes_per_frame"], summary["fps_115200"],
                 summary["fps_921600"]))
    board = summary["board"] or {}
    print("camera %s, flash LED %s, lids closed; the board restarted into the application"
          % ("on" if board.get("camera_on") else "off", "on" if board.get("flash") else "off"),
          flush=True)
    return 0
