"""Runs at every boot and every wake from deep sleep: hand over to the smart bin."""
try:
    from smartbin import app

    app.run_on_board()
except Exception as error:  # last resort: record it and sleep, never a tight crash loop
    import machine
    import sys

    sys.print_exception(error)
    try:
        with open("/errors.log", "a") as log:
            log.write("fatal: %r\n" % (error,))
    except OSError:
        pass
    machine.deepsleep(60000)
