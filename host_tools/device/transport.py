"""The one connection to the board: mpremote's SerialTransport, with board-side failures
turned into `SmartbinError` here and nowhere else.

Everything goes through mpremote's own API (raw REPL exec/eval and its `fs_*` methods);
this module adds what the host tools need on top: atomic writes on the board (temp file,
checksum, rename), a checksum that says "missing" instead of raising, and a soft reset
that lets `main.py` run and returns what the board printed.

The board's own resets, handled on purpose:
- The bin's watchdog (machine.WDT, 30 s) cannot be stopped and outlives the raw REPL's
  soft reset; a second WDT() only changes its timeout (MicroPython 1.27,
  ports/esp32/machine_wdt.c). So the first thing a session runs after interrupting the
  application re-arms it with HOST_WATCHDOG_MS, and each later step feeds it once
  HOLD_REFRESH_SECONDS have passed. A host that vanishes mid-session leaves a board that
  resets itself into the application within HOST_WATCHDOG_MS.
- Opening the port may reset the board through DTR/RTS, depending on the adapter and the
  OS (mpremote keeps pyserial's default of both lines asserted, which the usual
  two-transistor auto-reset circuit reads as "run"). Either way the session keeps sending
  Ctrl-C for `connect_seconds`, which also catches a board that has just rebooted.
- A bin in deep sleep cannot answer. If nothing answers, the session pulses EN low
  through RTS as esptool's hard reset does (ESP32-CAM-MB and other auto-reset adapters),
  which wakes it, and knocks again; adapters without the line (or a pty) skip this.
- A session that stopped the application ends with a hard reset (mpremote's `reset`
  command: machine.reset()), so the bin boots into the application as at power-on and
  goes back to sorting, instead of waiting at the REPL.
"""
import contextlib
import errno
import hashlib
import io
import os
import re
import stat
import time

from host_tools.errors import SmartbinError

# Bytes per raw-REPL round trip. mpremote's default is 256; bigger chunks mean fewer round
# trips, and 1 KiB (about 3 KiB of repr text) is still small for the board's heap.
CHUNK_BYTES = 1024
TEMP_SUFFIX = ".part"
SOFT_REBOOT = b"MPY: soft reboot\r\n"
# Longer than any single step (a 1 MB model is about 5 minutes of raw REPL at 115200 baud).
HOST_WATCHDOG_MS = 600000
HOLD_REFRESH_SECONDS = 60.0
HOLD_OFF_WATCHDOG = "import machine\nmachine.WDT(timeout=%d).feed()" % HOST_WATCHDOG_MS
# mpremote's own `reset` command (mpremote/main.py)
RESTART = "import time, machine; time.sleep_ms(100); machine.reset()"
BOOT_SECONDS = 5.0  # from an EN reset to the application's first Ctrl-C-able line


def check_port(port):
    """Raise a clear SmartbinError when `port` is missing, absent or not ours to open."""
    if not port:
        raise SmartbinError(
            "no serial port given: pass --port (e.g. /dev/ttyUSB0 on Linux, "
            "/dev/cu.usbserial-* on macOS, COM3 on Windows); "
            "`python -m serial.tools.list_ports` lists them")
    if "://" in port or re.match(r"^COM\d+$", port, re.IGNORECASE):
        return  # pyserial URLs and Windows ports have no path to check
    if not os.path.exists(port):
        raise SmartbinError("serial port %s does not exist: is the board plugged in? "
                            "(`python -m serial.tools.list_ports` lists ports)" % port)
    kind = os.stat(port).st_mode
    if not stat.S_ISCHR(kind):
        raise SmartbinError("%s is a %s, not a serial port: give the board's port (e.g. "
                            "/dev/ttyUSB0; `python -m serial.tools.list_ports` lists them)"
                            % (port, "folder" if stat.S_ISDIR(kind) else "file"))
    if not os.access(port, os.R_OK | os.W_OK):
        raise SmartbinError(
            "permission denied on %s: add yourself to the 'dialout' group "
            "(sudo usermod -aG dialout $USER), then log out and in again" % port)
    if not _is_terminal(port):
        raise SmartbinError("%s is a device but not a serial port: give the board's port "
                            "(e.g. /dev/ttyUSB0; `python -m serial.tools.list_ports` lists "
                            "them)" % port)


def _is_terminal(port):
    """False for a character device that is no terminal (/dev/null, /dev/zero), whose
    failed serial set-up pyserial would report as a port another program holds."""
    try:
        # Non-blocking and no controlling terminal: the check neither waits nor takes it.
        descriptor = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return True  # busy or gone: opening it for real says what is wrong
    try:
        return os.isatty(descriptor)
    finally:
        os.close(descriptor)


class Board:
    """An open raw-REPL session on the board at `port`. Use as a context manager."""

    def __init__(self, port, baudrate=115200, soft_reset=True, connect_seconds=12.0):
        check_port(port)
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport

        self.port = port
        self._held_at = None  # time.monotonic() of the last watchdog hold-off
        try:
            self._transport = SerialTransport(port, baudrate=baudrate)
        except TransportError:
            raise SmartbinError("cannot open %s: is another program (a serial monitor, "
                                "Thonny, another smartbin) using it?" % port) from None
        try:
            self._enter_raw_repl(soft_reset, connect_seconds)
        except SmartbinError:
            self._close_quietly()
            raise

    def _enter_raw_repl(self, soft_reset, connect_seconds):
        # Ctrl-C stops a running application; the soft reset gives a clean heap. A bin
        # that is booting (or just woke) may miss the first Ctrl-C, so keep knocking.
        from mpremote.transport import TransportError

        deadline = time.monotonic() + connect_seconds
        reset_sent = False
        with self._errors("connecting"):
            while True:
                try:
                    # mpremote prints what it got on failure: not for our users.
                    with contextlib.redirect_stdout(io.StringIO()):
                        self._transport.enter_raw_repl(soft_reset=soft_reset, timeout_overall=5)
                    break
                except TransportError:
                    if not reset_sent and self._reset_through_rts():
                        reset_sent = True  # a sleeping bin boots now: knock while it does
                        deadline = max(deadline, time.monotonic() + BOOT_SECONDS)
                        continue
                    if time.monotonic() >= deadline:
                        raise SmartbinError(
                            "the board on %s does not answer%s: a bin in deep sleep cannot. "
                            "Press its RST button and run the command again right away"
                            % (self.port, " even after a reset through RTS" if reset_sent
                               else "")) from None
            self._hold_off_watchdog()

    def _reset_through_rts(self):
        """Pulse EN low through RTS (esptool's hard reset; DTR low keeps IO0 high, so the
        chip boots the application). False when the port has no modem lines."""
        serial = self._transport.serial
        try:
            serial.dtr = False
            serial.rts = True
            time.sleep(0.1)
            serial.rts = False
        except (OSError, ValueError):
            return False
        return True

    def _hold_off_watchdog(self):
        """Re-arm the bin's watchdog with the host's long timeout (see the module doc)."""
        self._transport.exec(HOLD_OFF_WATCHDOG)
        self._held_at = time.monotonic()

    # ---- life cycle -------------------------------------------------------------------
    def close(self, restart=True):
        """End the session; a board left in the raw REPL is reset into its application,
        or, with restart=False, left at its prompt as it is (outputs keep their state; the
        watchdog restarts the application within HOST_WATCHDOG_MS)."""
        from mpremote.transport import TransportError

        with contextlib.suppress(OSError, TransportError):
            if self._transport.in_raw_repl:
                if restart:
                    self._transport.exec_raw_no_follow(RESTART)
                    self._transport.in_raw_repl = False
                else:
                    self._transport.exit_raw_repl()
        self._close_quietly()

    def _close_quietly(self):
        with contextlib.suppress(OSError):
            self._transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- the one place board-side failures become host errors --------------------------
    @contextlib.contextmanager
    def _errors(self, action, path=None):
        import serial
        from mpremote.transport import TransportError, TransportExecError, _convert_filesystem_error

        try:
            if (self._held_at is not None and self._transport.in_raw_repl
                    and time.monotonic() - self._held_at >= HOLD_REFRESH_SECONDS):
                self._hold_off_watchdog()
            yield
        except TransportExecError as error:
            converted = _convert_filesystem_error(error, path)
            if isinstance(converted, OSError) and converted.errno:
                raise _filesystem_error(converted.errno, action, path) from None
            raise SmartbinError("board error while %s%s: %s"
                                % (action, _on(path), _last_line(error.error_output))) from None
        except TransportError as error:
            raise SmartbinError("the board on %s stopped answering while %s%s (%s): "
                                "check the cable and retry" % (self.port, action, _on(path), error)
                                ) from None
        except OSError as error:
            # mpremote's fs_* methods turn a board-side OSError into OSError(errno, path);
            # anything else here (pyserial, the tty ioctls) is the link itself failing.
            if (not isinstance(error, serial.SerialException) and error.errno
                    and path is not None and error.strerror in (path, path + TEMP_SUFFIX)):
                raise _filesystem_error(error.errno, action, path) from None
            raise SmartbinError("lost the connection to the board on %s while %s%s: "
                                "was it unplugged? Nothing was deleted; retry"
                                % (self.port, action, _on(path))) from None

    # ---- code --------------------------------------------------------------------------
    def exec(self, code, action="running code on the board"):
        """Run code on the board; return what it printed (bytes)."""
        with self._errors(action):
            return self._transport.exec(code)

    def eval(self, expression, action="running code on the board", quiet_seconds=10):
        """Evaluate a Python literal-valued expression on the board. `quiet_seconds`: how
        long the board may stay silent (mpremote's timeout; a lid test holds a lid open)."""
        import ast

        from mpremote.transport import TransportExecError

        with self._errors(action):
            output, error = self._transport.exec_raw("print(repr(%s))" % expression,
                                                     timeout=quiet_seconds)
            if error:
                raise TransportExecError(output, error.decode())
            return ast.literal_eval(output.strip().decode())

    # ---- files -------------------------------------------------------------------------
    def _stat(self, path):
        # mpremote's fs_exists also says False when the cable is gone; only ENOENT is "missing".
        import serial

        try:
            return self._transport.fs_stat(path)
        except OSError as error:
            if error.errno == errno.ENOENT and not isinstance(error, serial.SerialException):
                return None
            raise

    def listdir(self, path):
        """[(name, is_dir, size)] of a board folder, or [] when it does not exist."""
        with self._errors("listing", path):
            if self._stat(path) is None:
                return []
            return [(entry.name, bool(entry.st_mode & 0x4000), entry.st_size)
                    for entry in self._transport.fs_listdir(path)]

    def size(self, path):
        """Size in bytes of a board file, or None when it does not exist."""
        with self._errors("reading", path):
            stat = self._stat(path)
            return None if stat is None else stat.st_size

    def sha256(self, path):
        """Hex sha256 of a board file (hashed on the board), or None when it does not exist."""
        with self._errors("hashing", path):
            if self._stat(path) is None:
                return None
            return self._transport.fs_hashfile(path, "sha256", chunk_size=CHUNK_BYTES).hex()

    def read_file(self, path, progress=None):
        """The bytes of a board file."""
        callback = (lambda done, total: progress(done, total)) if progress else None
        with self._errors("reading", path):
            return bytes(self._transport.fs_readfile(path, chunk_size=CHUNK_BYTES,
                                                     progress_callback=callback))

    def makedirs(self, path):
        """Create a board folder and its parents (like `mkdir -p`)."""
        current = ""
        for part in [p for p in path.split("/") if p]:
            current += "/" + part
            with self._errors("creating", current):
                stat = self._stat(current)
                if stat is None:
                    self._transport.fs_mkdir(current)
                elif not stat.st_mode & 0x4000:
                    raise SmartbinError("board: %s is a file, expected a folder" % current)

    def remove(self, path):
        with self._errors("deleting", path):
            self._transport.fs_rmfile(path)

    def write_file(self, path, data, progress=None):
        """Write `data` to a board file atomically; return its sha256.

        The bytes go to `path + ".part"`, are hashed on the board, and only then renamed over
        `path`: a cut cable or a full flash leaves the old file as it was.
        """
        expected = hashlib.sha256(data).hexdigest()
        temp_path = path + TEMP_SUFFIX
        callback = (lambda done, total: progress(done, total)) if progress else None
        try:
            with self._errors("writing", path):
                self._transport.fs_writefile(temp_path, data, chunk_size=CHUNK_BYTES,
                                             progress_callback=callback)
        except SmartbinError:
            self._remove_quietly(temp_path)
            raise
        actual = self.sha256(temp_path)
        if actual != expected:
            self._remove_quietly(temp_path)
            raise SmartbinError("%s arrived corrupted on the board (sha256 %s, expected %s): "
                                "retry" % (path, actual, expected))
        with self._errors("renaming into place", path):
            self._transport.exec("import os\n"
                                 "try:\n os.rename(%r, %r)\n"
                                 "except OSError:\n os.remove(%r)\n os.rename(%r, %r)"
                                 % (temp_path, path, path, temp_path, path))
        return expected

    def _remove_quietly(self, path):
        # Best effort: the link may be gone; a stale ".part" file harms nothing.
        with contextlib.suppress(Exception):
            self._transport.fs_rmfile(path)

    # ---- reset and output --------------------------------------------------------------
    def soft_reset_and_watch(self, seconds, stop_patterns=()):
        """Soft-reset into the normal REPL, so `boot.py` and `main.py` run as at power-on;
        return what the board printed after the reset, within `seconds` or until a stop
        pattern shows."""
        serial = self._transport.serial
        with self._errors("restarting"):
            self._transport.exit_raw_repl()
            self.read_output(0.3)  # the normal REPL's banner
            serial.write(b"\x04")
        output = self.read_output(seconds, (SOFT_REBOOT,))
        if SOFT_REBOOT.decode() in output:
            output = output.split(SOFT_REBOOT.decode(), 1)[1]
            output += self.read_output(seconds, stop_patterns, already=output.encode())
        return output

    def read_output(self, seconds, stop_patterns=(), already=b""):
        """Collect the board's output for up to `seconds`, or until a stop pattern shows."""
        serial = self._transport.serial
        output = b""
        deadline = time.monotonic() + seconds
        with self._errors("reading the board's output"):
            while time.monotonic() < deadline:
                if any(pattern in already + output for pattern in stop_patterns):
                    break
                waiting = serial.in_waiting
                if waiting:
                    output += serial.read(waiting)
                else:
                    time.sleep(0.02)
        return output.decode("utf-8", "replace")

    def count_traffic(self):
        """Count the bytes on the serial line from now on, both ways; return the counter
        (its `sent` and `received`). `smartbin preview` reports its cost per frame."""
        serial = self._transport.serial
        if not isinstance(serial, TrafficCounter):
            serial = self._transport.serial = TrafficCounter(serial)
        return serial

    def interrupt(self):
        """Stop whatever runs (Ctrl-C) and get back to the raw REPL without a reset."""
        with self._errors("interrupting the application"):
            self._transport.enter_raw_repl(soft_reset=False)
            self._hold_off_watchdog()


class TrafficCounter:
    """The pyserial port under mpremote, counting what goes through read() and write()."""

    def __init__(self, serial):
        object.__setattr__(self, "_serial", serial)
        object.__setattr__(self, "sent", 0)
        object.__setattr__(self, "received", 0)

    def write(self, data):
        object.__setattr__(self, "sent", self.sent + len(data))
        return self._serial.write(data)

    def read(self, size=1):
        data = self._serial.read(size)
        object.__setattr__(self, "received", self.received + len(data))
        return data

    def __getattr__(self, name):
        return getattr(self._serial, name)

    def __setattr__(self, name, value):  # dtr, rts: the port's own
        setattr(self._serial, name, value)


def _filesystem_error(error_number, action, path):
    if error_number == errno.ENOSPC:
        return SmartbinError("the board's filesystem is full while %s%s: free space "
                             "(e.g. `smartbin pull --move`) and retry" % (action, _on(path)))
    return SmartbinError("board: %s while %s%s"
                         % (os.strerror(error_number).lower(), action, _on(path)))


def _on(path):
    return " %s" % path if path else ""


def _last_line(text):
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"
