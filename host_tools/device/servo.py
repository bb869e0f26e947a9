"""`smartbin servo`: move one lid to a pulse width, to find its closed_us and open_us.

The board drives the lid with the application's own servo output (firmware
smartbin/selftest.py) and keeps the pulses on: the lid holds the position while you look
at it. The board then waits at its prompt instead of restarting the application, whose
first act would be closing every lid to the closed_us being calibrated; the next command,
the RST button or, after HOST_WATCHDOG_MS, the watchdog starts the application again.
"""
from host_tools.errors import SmartbinError
from host_tools.firmware_modules import firmware_module
from host_tools.device.transport import HOST_WATCHDOG_MS, Board, check_port

def pulse_range():
    """(lowest, highest) safe pulse width in us, as the firmware defines them."""
    lids = firmware_module("lids")
    return lids.PULSE_MIN_US, lids.PULSE_MAX_US


def check_pulse(us):
    low, high = pulse_range()
    if not isinstance(us, int) or isinstance(us, bool) or not low <= us <= high:
        raise SmartbinError("pulse width %s us is outside the safe range %d..%d us (1000 to "
                            "2000 suits most hobby servos; step by 50)" % (us, low, high))
    return us


def _pulse_width_option(text):
    # Any wrong --us, "-5" or "soon", gets the safe range as its answer.
    try:
        us = int(text)
    except ValueError:
        us = text
    return check_pulse(us)


def load_application(board):
    """Import the board-side steps; a clear error when the application is not there."""
    answer = board.exec("try:\n from smartbin import selftest as _selftest\n print(1)\n"
                        "except ImportError:\n print(0)", action="loading the application")
    if answer.strip() != b"1":
        raise SmartbinError("the application is not on the board (no smartbin.selftest): run "
                            "`smartbin deploy --port %s` first" % board.port)


def move_lid(port, lid, us, board=None):
    """Drive lid `lid` (its name in the board's config.json) to `us`; return its GPIO."""
    check_pulse(us)
    own_board = board is None
    board = board or Board(port)
    held = False
    try:
        load_application(board)
        pin = board.eval("_selftest.session().move_lid(%r, %d)" % (lid, us),
                         action="moving lid %s" % lid)
        held = True
        return pin
    finally:
        if own_board:  # nothing moved: back to sorting at once
            board.close(restart=not held)


# ---- command line ------------------------------------------------------------------------
def configure(parser):
    low, high = pulse_range()
    parser.add_argument("--port", help="serial port of the board (e.g. /dev/ttyUSB0)")
    parser.add_argument("--lid", required=True, help="lid name as in config.json (e.g. paper)")
    parser.add_argument("--us", type=_pulse_width_option, required=True,
                        help="pulse width in microseconds, %d..%d" % (low, high))


def run(args):
    check_pulse(args.us)  # before looking for the board
    check_port(args.port)
    pin = move_lid(args.port, args.lid, args.us)
    print("lid %s (GPIO%d) held at %d us. Adjust with --us until it sits right, then write "
          "the value as closed_us or open_us in config.json and deploy. The bin waits at its "
          "prompt until the next command, the RST button or %d minutes pass."
          % (args.lid, pin, args.us, HOST_WATCHDOG_MS // 60000))
    return 0
