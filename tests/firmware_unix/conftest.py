"""The unix build of the firmware's C stack (make firmware-host), built once per test run
(cached outside the clone, so only the first run compiles), and a way to run the
firmware on it. No build, no pass: these tests fail when the build cannot be made."""
import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
BUILD_HOST = FIRMWARE / "image" / "build_host.sh"
PROBE = Path(__file__).with_name("probe.py")
DEFAULT_MODEL = REPO / "models" / "default"
_BUILD_TIMEOUT_S = 60 * 60


@pytest.fixture(scope="session")
def unix_micropython():
    """Path of the unix MicroPython with microlite/TFLM, as the image builds them."""
    done = subprocess.run(["bash", str(BUILD_HOST)], capture_output=True, text=True,
                          timeout=_BUILD_TIMEOUT_S)
    if done.returncode != 0:
        pytest.fail("make firmware-host failed:\n" + done.stderr[-6000:], pytrace=False)
    binary = Path(done.stdout.strip().splitlines()[-1])
    assert binary.is_file() and os.access(binary, os.X_OK), done.stdout
    return binary


class ProbeRun:
    """One run of probe.py: its results ("@" lines), the other output, the exit code."""

    def __init__(self, done):
        self.returncode = done.returncode
        self.stdout = done.stdout
        self.stderr = done.stderr
        self.results = [json.loads(line[1:]) for line in done.stdout.splitlines()
                        if line.startswith("@")]

    def result(self):
        assert self.returncode == 0, self.stdout[-3000:] + self.stderr[-3000:]
        assert len(self.results) == 1, self.stdout[-3000:]
        return self.results[0]


@pytest.fixture(scope="session")
def run_probe(unix_micropython):
    """run_probe(command, *args) -> ProbeRun: probe.py on the unix build, the firmware
    folder (the application and its fakes) on its module path."""

    def run(*args, timeout=600):
        env = dict(os.environ, MICROPYPATH=str(FIRMWARE))
        done = subprocess.run([str(unix_micropython), "-X", "heapsize=4M", str(PROBE)]
                              + [str(a) for a in args],
                              capture_output=True, text=True, timeout=timeout, env=env)
        return ProbeRun(done)

    return run
