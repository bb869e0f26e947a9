"""Board-side helpers the laptop calls over the REPL (`smartbin capture`, `deploy`).

Each function does one job and returns a plain value (printed back as a Python literal);
nothing here runs at boot. Frames are written as the debug store writes them: NNNNNN.raw
(the sensor's bytes) + NNNNNN.json ({"seq", "width", "height", "format", "label"}).
"""
import json
import os

from smartbin.storage import Storage

_CAPTURE_DIR = "/capture"


def _camera(storage, config_path):
    # The application's own camera driver, built from the board's config, so captured
    # photos have the bin's real sensor settings; also the config's warm-up frame count
    # (the sensor's first frames after power-up are dark while exposure settles).
    from smartbin import board
    from smartbin import config as config_module

    config = config_module.load(storage, config_path)
    hardware = board.build_hardware(config, storage, board.hold_power(config))  # stay on
    return hardware.camera, config.warmup_frames


def capture(count, width, height, grayscale, label="", folder=_CAPTURE_DIR,
            config_path="/config.json", camera=None):
    """Take `count` photos into `folder`; return their names ["000000.raw", ...]."""
    storage = Storage()
    storage.mkdir(folder)
    warmup_frames = 0
    if camera is None:
        camera, warmup_frames = _camera(storage, config_path)
    camera.configure(width, height, grayscale)
    names = []
    seq = len([n for n in storage.listdir(folder) if n.endswith(".raw")])
    camera.on()
    try:
        for _ in range(warmup_frames):
            camera.capture()
        for _ in range(count):
            while storage.exists("%s/%06d.raw" % (folder, seq)):
                seq += 1
            frame = camera.capture()
            meta = {"seq": seq, "width": width, "height": height,
                    "format": "GRAY" if grayscale else "RGB565", "label": label}
            storage.write("%s/%06d.raw" % (folder, seq), frame)
            storage.write("%s/%06d.json" % (folder, seq), json.dumps(meta).encode())
            names.append("%06d.raw" % seq)
            seq += 1
    finally:
        camera.off()
    return names


def free_bytes(path="/"):
    """Free space on the filesystem holding `path`."""
    stat = os.statvfs(path)
    return stat[0] * stat[3]


def boot_check(modules=("smartbin.app",), config_path="/config.json"):
    """Import the application and read its config without starting it.

    Returns the config's problems (a list of strings); an import failure raises, and the
    host shows its last line.
    """
    for name in modules:
        __import__(name)
    from smartbin import config as config_module

    return list(config_module.load(Storage(), config_path).problems)
