"""`smartbin pull`: copy the bin's debug frames from the board into a local inbox.

The board keeps its last frames as NNNNNN.raw (the sensor's bytes) + NNNNNN.json (what
the bin decided; see firmware/smartbin/debug_store.py). Each pair is copied, checked
against the board's size and sha256, converted to PNG, and written atomically as
`<inbox>/<NNNNNN>-<sha12>.{raw,json,png}` (the sha keeps names unique when the board's
numbering starts again). Only with --move, and only after all three local files are on
disk, is the pair deleted on the board. A second run skips what is already here, in the
inbox or in the inbox's filed/ folder where `smartbin inbox` moves what it filed (same
name, same sha256): a filed frame is never pulled again.
"""
import hashlib
import json
from pathlib import Path

from host_tools import atomic, contract
from host_tools.errors import SmartbinError
from host_tools.device.transport import Board, check_port

BOARD_DEBUG_DIR = "/debug"
# Where `smartbin inbox` moves the entries it filed, inside the inbox.
FILED_DIR = "filed"


def frame_to_image(raw, meta, fallback_contract=None):
    """A raw sensor frame + its metadata -> a Pillow image (RGB, or L for grayscale)."""
    from PIL import Image

    width, height = meta.get("width"), meta.get("height")
    frame_format = meta.get("format")
    if not (isinstance(width, int) and isinstance(height, int)) and fallback_contract:
        width = fallback_contract["input"]["width"]
        height = fallback_contract["input"]["height"]
    if not (isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0):
        raise SmartbinError("frame metadata has no width/height (pass --model for its size)")
    if frame_format is None:
        frame_format = "GRAY" if len(raw) == width * height else "RGB565"
    if frame_format == "GRAY":
        if len(raw) != width * height:
            raise SmartbinError("GRAY frame has %d bytes, expected %dx%d" % (len(raw), width, height))
        return Image.frombytes("L", (width, height), bytes(raw))
    if frame_format == "RGB565":
        return Image.fromarray(contract.rgb565_to_rgb888(raw, width, height), "RGB")
    raise SmartbinError("unknown frame format %r" % frame_format)


def png_bytes(image):
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def board_pairs(board, folder):
    """{stem: {"raw": size, "json": size}} for the frame files in a board folder."""
    pairs = {}
    for name, is_dir, size in board.listdir(folder):
        stem, _, ext = name.rpartition(".")
        if not is_dir and ext in ("raw", "json") and stem:
            pairs.setdefault(stem, {})[ext] = size
    return pairs


def fetch_verified(board, board_path, expected_size, board_sha=None, progress=None):
    """Read a board file and prove it arrived whole: size and sha256 against the board's
    (hashed on the board; pass `board_sha` when it is already known)."""
    board_sha = board_sha or board.sha256(board_path)
    data = board.read_file(board_path, progress)
    if board_sha is None:
        raise SmartbinError("board: %s disappeared during the copy" % board_path)
    if len(data) != expected_size or hashlib.sha256(data).hexdigest() != board_sha:
        raise SmartbinError("%s arrived corrupted (%d bytes, expected %d): nothing was deleted "
                            "on the board; retry" % (board_path, len(data), expected_size))
    return data, board_sha


def pull(port, dest, move=False, model_dir=None, progress=None, board=None,
         folder=BOARD_DEBUG_DIR):
    """Copy every frame pair of the board's debug folder into `dest`; return a report."""
    dest = Path(dest)
    atomic.refuse_file_in_the_way(dest)  # before the board is woken
    fallback = contract.load(model_dir) if model_dir else None
    own_board = board is None
    board = board or Board(port)
    # "skipped": already here; "filed": those of them already filed by `smartbin inbox`
    report = {"port": board.port, "dest": str(dest), "pulled": [], "skipped": [],
              "filed": [], "deleted": [], "bytes": 0, "warnings": []}
    try:
        pairs = board_pairs(board, folder)
        stems = sorted(stem for stem, files in pairs.items() if "raw" in files)
        for index, stem in enumerate(stems):
            files = pairs[stem]
            raw_path = "%s/%s.raw" % (folder, stem)
            json_path = "%s/%s.json" % (folder, stem)
            raw_sha = board.sha256(raw_path)
            if raw_sha is None:
                continue
            local_stem = "%s-%s" % (stem, raw_sha[:12])
            local = {ext: dest / ("%s.%s" % (local_stem, ext)) for ext in ("raw", "json", "png")}
            filed = {ext: dest / FILED_DIR / path.name for ext, path in local.items()}
            if _already_here(local, raw_sha):
                report["skipped"].append(local_stem)
            elif _already_here(filed, raw_sha):
                report["skipped"].append(local_stem)
                report["filed"].append(local_stem)
            else:
                raw, _ = fetch_verified(board, raw_path, files["raw"], raw_sha)
                meta_bytes = b"{}"
                if "json" in files:
                    meta_bytes, _ = fetch_verified(board, json_path, files["json"])
                meta, problems = _frame_metadata(meta_bytes)
                image = None
                try:
                    image = frame_to_image(raw, meta, fallback)
                except SmartbinError as error:
                    problems.append("no picture made (%s)" % error)
                if problems:
                    # Still pulled (the raw frame is kept), and the frames after it too.
                    meta["problem"] = "; ".join(problems)
                    report["warnings"].append("%s: %s" % (raw_path, meta["problem"]))
                meta["board_file"] = raw_path
                meta["sha256"] = raw_sha
                # The .json goes last: its presence says the pair is complete.
                atomic.write_bytes(local["raw"], raw)
                if image is not None:
                    atomic.write_bytes(local["png"], png_bytes(image))
                atomic.write_text(local["json"], json.dumps(meta, indent=1) + "\n")
                report["pulled"].append(local_stem)
                report["bytes"] += len(raw) + len(meta_bytes)
            if move:
                # Delete the .json first: a lone .raw is still counted (and aged out) by the
                # bin's debug store, a lone .json would never be.
                if "json" in files:
                    board.remove(json_path)
                board.remove(raw_path)
                report["deleted"].append(stem)
            if progress:
                progress(index + 1, len(stems))
        return report
    finally:
        if own_board:
            board.close()


def _frame_metadata(meta_bytes):
    """(metadata dict, [problems]) of a frame's .json as the board wrote it."""
    try:
        meta = json.loads(meta_bytes.decode("utf-8"))
    except (ValueError, RecursionError):
        return {}, ["metadata is not valid JSON; pulled without it"]
    if not isinstance(meta, dict):
        return {}, ["metadata is %s, not an object; pulled without it"
                    % json.dumps(meta)[:20]]
    return meta, []


def _already_here(local, raw_sha):
    # A frame that made no picture has no .png; its .json (written last) says it is whole.
    if not (local["raw"].is_file() and local["json"].is_file()):
        return False
    return hashlib.sha256(local["raw"].read_bytes()).hexdigest() == raw_sha


# ---- command line ------------------------------------------------------------------------
def configure(parser):
    parser.add_argument("--port", help="serial port of the board (e.g. /dev/ttyUSB0)")
    parser.add_argument("--dest", default="data/inbox", help="local inbox (default: %(default)s)")
    parser.add_argument("--move", action="store_true",
                        help="delete each frame on the board once its copy here is verified")
    parser.add_argument("--model", default=None,
                        help="model folder whose input size to assume for frames without metadata")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args):
    from host_tools.progress import ProgressBars

    check_port(args.port)  # before any progress bar is drawn

    with ProgressBars({"pull": ("pull", "frame")}, quiet=args.json) as bars:
        report = pull(args.port, args.dest, args.move, args.model, bars.stage("pull"))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for warning in report["warnings"]:
            print("warning: " + warning)
        print("%d frame(s) pulled into %s, %d skipped as already pulled (%d of them filed), "
              "%d deleted on the board"
              % (len(report["pulled"]), report["dest"], len(report["skipped"]),
                 len(report["filed"]), len(report["deleted"])))
        if report["pulled"]:
            print("file them into class folders: smartbin inbox --inbox %s --data DIR"
                  % report["dest"])
    return 0
