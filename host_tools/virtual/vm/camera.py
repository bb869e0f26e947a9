"""The virtual ESP32-CAM's sensor, with the API of cnadler86/micropython-camera-API.

Frames come from board.mjs (`board_camera`), asked for at the configured frame size and
pixel format: drawn by the host (what the sensor sees), or the files of its --frames
folder in turn, else a test pattern. A failed capture returns None, as the driver's does.
"""
import js


class PixelFormat:
    RGB565 = 0
    YUV422 = 1
    YUV420 = 2
    GRAYSCALE = 3
    JPEG = 4
    RGB888 = 5


class FrameSize:  # names as in the camera API's modcamera.c (note R128x128)
    R96X96 = 0
    QQVGA = 1
    R128x128 = 2
    QCIF = 3
    HQVGA = 4
    R240X240 = 5
    QVGA = 6
    R320X320 = 7


class GrabMode:
    WHEN_EMPTY = 0
    LATEST = 1


_SIZES = {0: (96, 96), 1: (160, 120), 2: (128, 128), 3: (176, 144), 4: (240, 176),
          5: (240, 240), 6: (320, 240), 7: (320, 320)}
_BYTES_PER_PIXEL = {0: 2, 1: 2, 3: 1, 5: 3}
_FORMAT_NAMES = {0: "RGB565", 3: "GRAY"}  # the ones a host draws


class Camera:
    def __init__(self, pixel_format=PixelFormat.RGB565, frame_size=FrameSize.QVGA, **kwargs):
        self._pixel_format = pixel_format
        self._frame_size = frame_size
        self._on = True

    def reconfigure(self, pixel_format=None, frame_size=None, **kwargs):
        if pixel_format is not None:
            self._pixel_format = pixel_format
        if frame_size is not None:
            self._frame_size = frame_size

    def init(self):
        self._on = True

    def deinit(self):
        self._on = False

    def capture(self):
        if not self._on:
            raise OSError(5)
        width, height = _SIZES[self._frame_size]
        count = width * height * _BYTES_PER_PIXEL.get(self._pixel_format, 2)
        name = _FORMAT_NAMES.get(self._pixel_format, "other")
        frame = js.board_camera.frame(width, height, name, count)
        return bytes.fromhex(frame) if frame else None

    def free_buffer(self):
        pass

    def get_pixel_format(self):
        return self._pixel_format

    def get_frame_size(self):
        return self._frame_size

    def get_pixel_width(self):
        return _SIZES[self._frame_size][0]

    def get_pixel_height(self):
        return _SIZES[self._frame_size][1]
