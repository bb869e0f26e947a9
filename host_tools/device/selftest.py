"""`smartbin selftest`: every device of the bin once, each step reported OK or FAIL.

The steps run on the board with the application's own devices and the board's config
(firmware smartbin/selftest.py): the config, each lid opened and closed as for an item,
the status and flash LEDs, one photo at the size the bin captures (the model's input, or
the isolate frame), and one inference on it with the deployed model. A failing step does
not stop the others. The board restarts into the application afterwards.
"""
from pathlib import Path

from host_tools import atomic
from host_tools.errors import SmartbinError
from host_tools.device.pull import fetch_verified, frame_to_image, png_bytes
from host_tools.device.servo import load_application
from host_tools.device.transport import Board, check_port

# Longest silence of one step: a lid's slowest move (ramps and hold at the config's
# limits) or the model load and inference.
STEP_SECONDS = 60
BOARD_PHOTO = "/selftest.raw"


def steps(board):
    """[(step name, board expression)] for this board's config."""
    lids = board.eval("_selftest.session().lid_names()", action="reading the lids")
    return ([("config", "_selftest.session().config_step()")]
            + [("lid %s" % name, "_selftest.session().lid(%d)" % index)
               for index, name in enumerate(lids)]
            + [("LEDs", "_selftest.session().leds()"),
               ("photo", "_selftest.session().photo()"),
               ("inference", "_selftest.session().inference()")])


def selftest(port, on_step=None, board=None, photo_path=None):
    """Run every step; return [(step, ok, detail)]. `on_step(step, ok, detail)` is called
    as each one ends. With `photo_path`, the photo is also saved there as a PNG (when the
    photo step passed)."""
    own_board = board is None
    board = board or Board(port)
    results = []
    try:
        load_application(board)
        for name, expression in steps(board):
            ok, detail = board.eval(expression, action="testing the %s" % name,
                                    quiet_seconds=STEP_SECONDS)
            results.append((name, bool(ok), detail))
            if on_step:
                on_step(name, bool(ok), detail)
            if name == "photo" and ok and photo_path is not None:
                save_photo(board, photo_path)
        return results
    finally:
        if own_board:
            board.close()


def save_photo(board, photo_path):
    """Fetch the selftest's photo from the board (size and sha256 checked) into a PNG."""
    meta = board.eval("_selftest.session().save_photo(%r)" % BOARD_PHOTO,
                      action="saving the photo")
    try:
        raw, _sha = fetch_verified(board, BOARD_PHOTO, meta["bytes"])
        atomic.write_bytes(Path(photo_path), png_bytes(frame_to_image(raw, meta)))
    finally:
        board.remove(BOARD_PHOTO)


# ---- command line ------------------------------------------------------------------------
def configure(parser):
    parser.add_argument("--port", help="serial port of the board (e.g. /dev/ttyUSB0)")
    parser.add_argument("--photo", default=None,
                        help="also save the test photo as this PNG file (e.g. selftest.png)")


def run(args):
    if args.photo and not args.photo.lower().endswith(".png"):
        raise SmartbinError("--photo must name a .png file, not %s" % args.photo)
    check_port(args.port)

    def show(name, ok, detail):
        print("%-4s %-16s %s" % ("OK" if ok else "FAIL", name, detail), flush=True)

    results = selftest(args.port, show, photo_path=args.photo)
    if args.photo and dict((name, ok) for name, ok, _ in results)["photo"]:
        print("photo saved: %s" % args.photo)
    failed = [name for name, ok, _ in results if not ok]
    if failed:
        raise SmartbinError("selftest: %d of %d steps failed (%s)"
                            % (len(failed), len(results), ", ".join(failed)))
    print("selftest: all %d steps passed" % len(results))
    return 0
