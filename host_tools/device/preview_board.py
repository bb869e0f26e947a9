"""`smartbin preview` on the board's side of the serial line: one frame per call from the
application's own camera driver (firmware smartbin/preview.py), and the bin handed back as
it was found.

Frames travel as base64 lines (raw REPL output), checked against the size the
board reports; the bytes the line carries both ways are counted, so the preview can say
what a frame costs at any baud rate.
"""
import ast
import binascii
import time

from host_tools.errors import SmartbinError

CONFIG_PATH = "/config.json"
# The longest silence of a board step: stop() drives every lid closed, one after another.
STOP_SECONDS = 60
# The UART sends 10 bits per byte: a start bit, 8 data bits, a stop bit.
BITS_PER_BYTE = 10


class CameraGlitch(SmartbinError):
    """The board answered, but its camera gave no frame this time."""


def seconds_on_the_line(link_bytes, baud):
    """Time the serial line alone needs for `link_bytes` (both ways) at `baud`."""
    return link_bytes * BITS_PER_BYTE / float(baud)


def frames_per_second(link_bytes, baud):
    """The most frames a second the line carries when each costs `link_bytes` (computed:
    the board's capture time and the laptop's inference come on top)."""
    return float(baud) / (BITS_PER_BYTE * link_bytes) if link_bytes else 0.0


def _lines(output):
    return [line.strip() for line in output.split(b"\n") if line.strip()]


class PreviewBoard:
    """The preview's calls to `board` (a transport.Board, or a test's stand-in)."""

    def __init__(self, board):
        self.board = board
        self.traffic = board.count_traffic()
        self.last_frame_bytes = 0  # on the line, both ways, for the last frame
        self.last_frame_seconds = 0.0
        self.frames = 0
        self.loaded = False  # the board-side preview is imported

    def load(self):
        """Import the board-side preview; a clear error when the application lacks it."""
        answer = self.board.exec("try:\n from smartbin import preview as _preview\n print(1)\n"
                                 "except ImportError:\n print(0)",
                                 action="loading the application")
        self.loaded = answer.strip() == b"1"
        if answer.strip() != b"1":
            raise SmartbinError("the application on the board has no preview (smartbin.preview): "
                                "run `smartbin deploy --port %s` first" % self.board.port)

    def read(self, path):
        """A board file's bytes, or None when it does not exist."""
        if self.board.size(path) is None:
            return None
        return self.board.read_file(path)

    def model_sha256(self, path):
        """sha256 of the board's model file (hashed on the board), or None."""
        return self.board.sha256(path)

    def frame(self, width, height, grayscale, flash):
        """One frame from the board's camera: (frame bytes, {"width", "height", "format",
        "bytes", "flash"}), "flash" as the board's LED pin says."""
        sent, received = self.traffic.sent, self.traffic.received
        started = time.monotonic()
        output = self.board.exec("print(_preview.session().frame(%d, %d, %r, %r))"
                                 % (width, height, bool(grayscale), bool(flash)),
                                 action="capturing a frame")
        lines = _lines(output)
        try:
            meta = ast.literal_eval(lines[-1].decode())
            frame = b"".join(binascii.a2b_base64(line) for line in lines[:-1])
        except (IndexError, ValueError, SyntaxError, UnicodeDecodeError, binascii.Error):
            raise SmartbinError("the board's answer is not a frame (%r...): check the cable"
                                % output[:60]) from None
        if isinstance(meta, dict) and "error" in meta:
            raise CameraGlitch(str(meta["error"]))
        expected = width * height * (1 if grayscale else 2)
        if not isinstance(meta, dict) or meta.get("bytes") != expected or len(frame) != expected:
            raise SmartbinError("a frame arrived damaged (%d bytes, expected %d): check the "
                                "cable" % (len(frame), expected))
        self.last_frame_seconds = time.monotonic() - started
        self.last_frame_bytes = (self.traffic.sent - sent) + (self.traffic.received - received)
        self.frames += 1
        return frame, meta

    def stop(self):
        """Camera off, flash LED off, lids closed; return the board's {"camera_on", "flash"}."""
        return self.board.eval("_preview.session().stop()", action="switching the camera off",
                               quiet_seconds=STOP_SECONDS)
