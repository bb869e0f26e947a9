"""Run Python source inside the real MicroPython VM (npm micropython-webassembly-pyscript,
pinned in package.json) from a CPython test.

    from tests.firmware.micropython_vm import run_micropython, FIRMWARE_MOUNTS
    result = run_micropython("import smartbin; emit({'ok': 1})", mounts=FIRMWARE_MOUNTS)
    result.values   # [{'ok': 1}]: everything the script passed to emit(), in order
    result.stdout   # the rest of its output

Several scripts run one after another in the same VM, sharing globals:
    run_micropython(setup, step, step, step, mounts=FIRMWARE_MOUNTS)
This VM's gc.collect() reclaims only garbage left by earlier scripts, so a test that
watches gc.mem_alloc() across cycles runs each cycle as its own script.

`mounts` copies host folders into the VM's filesystem ((host_dir, vm_dir) pairs; /lib is
on the VM's sys.path); `files` adds single files {vm_path: bytes}. The script gets an
`emit(value)` helper that sends one JSON value back. A Python exception in the VM raises
`MicroPythonError` carrying the VM's traceback. Each call starts a fresh VM (~0.3 s).
"""
import base64
import json
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
RUNNER = HERE / "vm_runner.mjs"
VM_PACKAGE = REPO_ROOT / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"
FIRMWARE_MOUNTS = (
    (REPO_ROOT / "firmware" / "smartbin", "/lib/smartbin"),
    (REPO_ROOT / "firmware" / "sim", "/lib/sim"),
)
_MARK = "@@emit "
_PRELUDE = (
    "import json as _json\n"
    "def emit(value):\n"
    "    print(%r + _json.dumps(value))\n" % _MARK
)


class MicroPythonError(Exception):
    """The script raised inside the VM; the message is the VM's traceback."""


class VMResult:
    def __init__(self, stdout, values):
        self.stdout = stdout
        self.values = values


def vm_available():
    return shutil.which("node") is not None and (VM_PACKAGE / "micropython.mjs").is_file()


def run_micropython(*scripts, mounts=(), files=None, heapsize=4 * 1024 * 1024, timeout=120):
    """Run `scripts` in order in one fresh VM; return a VMResult or raise MicroPythonError."""
    spec = {
        "heapsize": heapsize,
        "mounts": [[str(host), vm] for host, vm in mounts],
        "files": {path: base64.b64encode(bytes(data)).decode()
                  for path, data in (files or {}).items()},
        "scripts": [_PRELUDE] + list(scripts),
    }
    completed = subprocess.run(["node", str(RUNNER)], input=json.dumps(spec),
                               capture_output=True, text=True, timeout=timeout,
                               cwd=str(REPO_ROOT))
    if completed.returncode != 0:
        raise MicroPythonError((completed.stderr or completed.stdout).strip())
    values = []
    lines = []
    for line in completed.stdout.splitlines():
        if line.startswith(_MARK):
            values.append(json.loads(line[len(_MARK):]))
        else:
            lines.append(line)
    return VMResult("\n".join(lines), values)
