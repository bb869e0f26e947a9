"""`smartbin capture`: take photos with the bin's own camera into a dataset class folder.

The board takes them (firmware/smartbin/remote.py, the application's camera driver at
the model's input size), the host pulls each frame, checks it against the board's sha256,
saves it as PNG in DATA/CLASS/ atomically, and only then deletes it on the board.
"""
import json
import re
import time
from pathlib import Path

from host_tools import atomic
from host_tools.errors import SmartbinError
from host_tools.option_numbers import above_zero
from host_tools.device.pull import board_pairs, fetch_verified, frame_to_image, png_bytes
from host_tools.device.transport import Board, check_port

BOARD_CAPTURE_DIR = "/capture"
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def check_label(label):
    if not label or not _LABEL.match(label):
        raise SmartbinError("class name %r: use letters, digits, '-' or '_' (e.g. 'battery')"
                            % label)
    return label


def board_model_input(board, contract_path="/model.json"):
    """The frame size and colour the camera gives the model the board runs (its
    /model.json): the model input, or the larger frame of its "isolate" block."""
    data = board.read_file(contract_path) if board.size(contract_path) is not None else None
    if data is None:
        raise SmartbinError("the board has no %s: run `smartbin deploy` first" % contract_path)
    try:
        raw = json.loads(data.decode("utf-8"))
        model_input = raw["input"]
        frame = raw.get("isolate") or {"frame_width": model_input["width"],
                                       "frame_height": model_input["height"]}
        return frame["frame_width"], frame["frame_height"], model_input["colour_order"] == "GRAY"
    except (ValueError, KeyError, TypeError):
        raise SmartbinError("the board's %s is not a valid model contract: deploy again"
                            % contract_path) from None


def _check_request(label, count):
    check_label(label)
    if not isinstance(count, int) or count < 1 or count > 500:
        raise SmartbinError("-n must be between 1 and 500 photos")


def _new_photo_path(class_dir, stamp, number, sha):
    """capture-TIME-NUMBER-SHA.png under a name no file in the class folder has yet: two
    identical frames (a still scene) are two photos, and a capture started within the same
    second as the last one adds to it rather than overwriting it."""
    while True:
        path = class_dir / ("capture-%s-%03d-%s.png" % (stamp, number, sha[:12]))
        if not path.exists():
            return path
        number += 1


def capture(port, label, count, data_dir, progress=None, board=None):
    """Take `count` photos on the board; return the list of PNG paths written."""
    _check_request(label, count)
    class_dir = Path(data_dir) / label
    for folder in (Path(data_dir), class_dir):  # before the board is woken
        atomic.refuse_file_in_the_way(folder)
    own_board = board is None
    board = board or Board(port)
    written = []
    try:
        width, height, grayscale = board_model_input(board)
        board.exec("from smartbin import remote", action="loading the capture helper")
        # Leftovers of an interrupted capture may be of another class: drop them.
        for name, is_dir, _size in board.listdir(BOARD_CAPTURE_DIR):
            if not is_dir:
                board.remove("%s/%s" % (BOARD_CAPTURE_DIR, name))
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for index in range(count):
            # One photo per call: the user can move the item between shots.
            board.eval("remote.capture(1, %d, %d, %r, %r, %r)"
                       % (width, height, grayscale, label, BOARD_CAPTURE_DIR),
                       action="taking a photo")
            for stem, files in sorted(board_pairs(board, BOARD_CAPTURE_DIR).items()):
                if "raw" not in files:
                    continue
                raw_path = "%s/%s.raw" % (BOARD_CAPTURE_DIR, stem)
                raw, sha = fetch_verified(board, raw_path, files["raw"])
                meta = {"width": width, "height": height,
                        "format": "GRAY" if grayscale else "RGB565"}
                png_path = _new_photo_path(class_dir, stamp, len(written) + 1, sha)
                atomic.write_bytes(png_path, png_bytes(frame_to_image(raw, meta)))
                written.append(png_path)
                if "json" in files:
                    board.remove("%s/%s.json" % (BOARD_CAPTURE_DIR, stem))
                board.remove(raw_path)
            if progress:
                progress(index + 1, count)
        return written
    finally:
        if own_board:
            board.close()


# ---- command line ------------------------------------------------------------------------
def configure(parser):
    parser.add_argument("--port", help="serial port of the board (e.g. /dev/ttyUSB0)")
    parser.add_argument("--label", required=True, help="class folder to save into (e.g. battery)")
    parser.add_argument("-n", type=above_zero(int), default=10, help="number of photos (default: %(default)s)")
    parser.add_argument("--data", default="data/captured",
                        help="dataset folder of class folders (default: %(default)s)")


def run(args):
    from host_tools.progress import ProgressBars

    _check_request(args.label, args.n)  # a typo is named without a board
    check_port(args.port)  # before any progress bar is drawn

    with ProgressBars({"capture": ("capture", "photo")}) as bars:
        written = capture(args.port, args.label, args.n, args.data, bars.stage("capture"))
    print("%d photo(s) saved in %s" % (len(written), Path(args.data) / args.label))
    return 0
