"""Run a model in TensorFlow Lite Micro (PyPI `tflite-micro`), always in a child process.

TFLM is the runtime the bin uses, so the host measures arena size and scores int8
accuracy with it. Some models make TFLM abort the whole process (seen: a softmax with a
degenerate range), so every call runs in a fresh `python -m host_tools.model.tflm` process and
a crash comes back as a SmartbinError instead of killing the caller.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from host_tools.errors import SmartbinError

# Largest arena the search tries before calling the model unrunnable.
MAX_ARENA_BYTES = 64 * 1024 * 1024
# Search precision; TFLM aligns its allocations to 16 bytes.
_ARENA_STEP = 16
_TIMEOUT_S = 3600


def arena_with_margin(measured):
    """The arena size to record: the measured minimum plus 5% (at least 2 KB), rounded up
    to a whole KB, because the 32-bit board lays some structures out differently."""
    margin = max(2048, measured // 20)
    return -(-(measured + margin) // 1024) * 1024


def run(model_bytes, inputs=None, arena_bytes=None, measure_arena=False, progress=None):
    """Load the model in TFLM in a child process; optionally measure the arena, run inputs.

    inputs: int8 array N x (input shape) or None. arena_bytes: arena to run with (default:
    the measured minimum, else 10x the model). Returns a dict with "input" and "output"
    details (shape, dtype, scale, zero_point), "arena_bytes_min" when measured, and
    "outputs" (N x classes int8) when inputs were given.
    """
    with tempfile.TemporaryDirectory(prefix="smartbin-tflm-") as work:
        work = Path(work)
        (work / "model.tflite").write_bytes(bytes(model_bytes))
        request = {"measure_arena": bool(measure_arena), "arena_bytes": arena_bytes,
                   "has_inputs": inputs is not None}
        if inputs is not None:
            np.save(work / "inputs.npy", np.ascontiguousarray(inputs, dtype=np.int8))
        (work / "request.json").write_text(json.dumps(request))
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        with open(work / "stderr.txt", "wb") as stderr_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "host_tools.model.tflm", str(work)],
                stdout=subprocess.PIPE, stderr=stderr_file, env=env)
            for line in process.stdout:
                # The child reports progress as "done total" lines.
                fields = line.split()
                if progress and len(fields) == 2 and all(f.isdigit() for f in fields):
                    progress("tflm", int(fields[0]), int(fields[1]))
            try:
                code = process.wait(timeout=_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                raise SmartbinError("TFLM did not finish within %d s" % _TIMEOUT_S)
        reply_path = work / "reply.json"
        if code != 0 or not reply_path.is_file():
            raise SmartbinError(_describe_failure(code, work / "stderr.txt"))
        reply = json.loads(reply_path.read_text())
        if "error" in reply:
            detail = _last_line(work / "stderr.txt")
            raise SmartbinError("TFLM cannot run this model: %s%s"
                                % (reply["error"], " (%s)" % detail if detail else ""))
        if inputs is not None:
            reply["outputs"] = np.load(work / "outputs.npy")
        return reply


def _last_line(stderr_path):
    text = stderr_path.read_text(errors="replace") if stderr_path.is_file() else ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _describe_failure(code, stderr_path):
    last = _last_line(stderr_path)
    detail = ": " + last if last else ""
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = "signal %d" % -code
        return ("TFLM crashed (%s) while running the model%s; the bin's runtime cannot run "
                "this model (e.g. an output layer whose int8 range collapsed to one value)"
                % (name, detail))
    return "TFLM failed (exit code %s) while running the model%s" % (code, detail)


# ---- the child process --------------------------------------------------------------------

def _details(detail):
    quant = detail["quantization_parameters"]
    return {"shape": [int(x) for x in detail["shape"]], "dtype": np.dtype(detail["dtype"]).name,
            "scale": float(quant["scales"][0]) if len(quant["scales"]) else 0.0,
            "zero_point": int(quant["zero_points"][0]) if len(quant["zero_points"]) else 0}


def _allocates(runtime, model_bytes, arena_bytes):
    try:
        interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=arena_bytes)
        details = interpreter.get_input_details(0)
        # Allocation is finished by the first invoke; run one on zeros.
        interpreter.set_input(np.zeros(details["shape"], details["dtype"]), 0)
        interpreter.invoke()
        return True
    except RuntimeError:
        return False


def _smallest_arena(runtime, model_bytes):
    high = max(64 * 1024, 4 * len(model_bytes))
    while not _allocates(runtime, model_bytes, high):
        if high >= MAX_ARENA_BYTES:
            raise ValueError("does not allocate even with a %d MB arena"
                             % (MAX_ARENA_BYTES >> 20))
        high *= 2
    low = 0  # known to fail (or trivially small)
    while high - low > _ARENA_STEP:
        middle = (low + high) // 2
        if _allocates(runtime, model_bytes, middle):
            high = middle
        else:
            low = middle
    return high


def _child(work):
    work = Path(work)
    request = json.loads((work / "request.json").read_text())
    model_bytes = (work / "model.tflite").read_bytes()
    from tflite_micro.python.tflite_micro import runtime

    reply = {}
    try:
        if request["measure_arena"]:
            reply["arena_bytes_min"] = _smallest_arena(runtime, model_bytes)
        arena = request["arena_bytes"] or reply.get("arena_bytes_min") or 10 * len(model_bytes)
        interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=arena)
        reply["input"] = _details(interpreter.get_input_details(0))
        reply["output"] = _details(interpreter.get_output_details(0))
        if request["has_inputs"]:
            inputs = np.load(work / "inputs.npy")
            outputs = []
            for index, sample in enumerate(inputs):
                interpreter.set_input(sample[None, ...], 0)
                interpreter.invoke()
                outputs.append(np.array(interpreter.get_output(0)).reshape(-1))
                print(index + 1, len(inputs), flush=True)
            shape = (len(inputs), int(np.prod(reply["output"]["shape"][1:])))
            np.save(work / "outputs.npy", np.array(outputs, np.int8).reshape(shape))
    except (RuntimeError, ValueError) as error:
        reply = {"error": str(error).splitlines()[0] if str(error) else type(error).__name__}
    (work / "reply.json").write_text(json.dumps(reply))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
