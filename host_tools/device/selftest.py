"""`smartbin selftest`: every device of the bin once, each step reported OK or FAIL.

The steps run on the board with the application's own devices and the board's config
(firmware smartbin/selftest.py): the config, each lid opened and closed as for an item,
the status and flash LEDs, one photo at the model's size, and one inference on it with
the deployed model. A failing step does not stop the others. The board restarts into the
application afterwards.
"""
from host_tools.errors import SmartbinError
from host_tools.device.servo import load_application
from host_tools.device.transport import Board, check_port

# Longest silence of one step: a lid's slowest move (ramps and hold at the config's
# limits) or the model load and inference.
STEP_SECONDS = 60


def steps(board):
    """[(step name, board expression)] for this board's config."""
    lids = board.eval("_selftest.session().lid_names()", action="reading the lids")
    return ([("config", "_selftest.session().config_step()")]
            + [("lid %s" % name, "_selftest.session().lid(%d)" % index)
               for index, name in enumerate(lids)]
            + [("LEDs", "_selftest.session().leds()"),
               ("photo", "_selftest.session().photo()"),
               ("inference", "_selftest.session().inference()")])


def selftest(port, on_step=None, board=None):
    """Run every step; return [(step, ok, detail)]. `on_step(step, ok, detail)` is called
    as each one ends."""
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
        return results
    finally:
        if own_board:
            board.close()


# ---- command line ------------------------------------------------------------------------
def configure(parser):
    parser.add_argument("--port", help="serial port of the board (e.g. /dev/ttyUSB0)")


def run(args):
    check_port(args.port)

    def show(name, ok, detail):
        print("%-4s %-16s %s" % ("OK" if ok else "FAIL", name, detail), flush=True)

    results = selftest(args.port, show)
    failed = [name for name, ok, _ in results if not ok]
    if failed:
        raise SmartbinError("selftest: %d of %d steps failed (%s)"
                            % (len(failed), len(results), ", ".join(failed)))
    print("selftest: all %d steps passed" % len(results))
    return 0
