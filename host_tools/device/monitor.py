"""`smartbin monitor`: the board's error log, decoded, then what the application prints.

/errors.log has one line per fault, "<time> <what happened>" (firmware/smartbin/
errors_log.py); the time is the board's clock in seconds. The live part soft-resets the
board so main.py starts as at power-on and shows its output until Ctrl-C or --seconds:
among it one line per item the bin sorts ("item glass 0.91 -> lid containers (look ...)").
"""
import sys
import time

from host_tools.device.transport import Board
from host_tools.option_numbers import above_zero

ERRORS_LOG = "/errors.log"
# MicroPython on the ESP32 counts from 2000-01-01; the Unix epoch is 946684800 s earlier.
_EPOCH_2000 = 946684800
_CLOCK_SET_AFTER = 1577836800  # 2020-01-01: earlier dates mean the clock was never set


def decode_errors_log(text):
    """[(when, message)] from the error log; `when` is "YYYY-MM-DD HH:MM:SS UTC", a
    "+N s since boot" for an unset clock, or "" for lines without a time."""
    decoded = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        head, _, rest = line.partition(" ")
        if head.isdigit() and rest:
            seconds = int(head)
            unix = seconds if seconds >= _EPOCH_2000 else seconds + _EPOCH_2000
            if unix >= _CLOCK_SET_AFTER:
                when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(unix))
            else:
                when = "+%d s (clock not set)" % (unix - _EPOCH_2000)
            decoded.append((when, rest))
        else:
            decoded.append(("", line))
    return decoded


def read_errors(port, board=None):
    """The decoded error log of the board ([] when there is none)."""
    own_board = board is None
    board = board or Board(port)
    try:
        if board.size(ERRORS_LOG) is None:
            return []
        return decode_errors_log(board.read_file(ERRORS_LOG).decode("utf-8", "replace"))
    finally:
        if own_board:
            board.close()


# ---- command line ------------------------------------------------------------------------
def configure(parser):
    parser.add_argument("--port", help="serial port of the board (e.g. /dev/ttyUSB0)")
    parser.add_argument("--seconds", type=above_zero(float), default=None,
                        help="stop watching after this long (default: until Ctrl-C)")
    parser.add_argument("--errors-only", action="store_true",
                        help="show the error log and stop; the application is not restarted")


def run(args):
    with Board(args.port) as board:
        errors = read_errors(args.port, board)
        print("%s: %d line(s)" % (ERRORS_LOG, len(errors)))
        for when, message in errors:
            print("  %-28s %s" % (when, message))
        if args.errors_only:
            return 0
        print("--- restarting the application; its output follows (Ctrl-C to stop) ---")
        sys.stdout.flush()
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        sys.stdout.write(board.soft_reset_and_watch(0.5))
        try:
            while deadline is None or time.monotonic() < deadline:
                sys.stdout.write(board.read_output(0.2))
                sys.stdout.flush()
        except KeyboardInterrupt:  # the normal way to stop watching
            print()
    return 0
