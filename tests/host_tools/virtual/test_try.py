"""`smartbin try`: the bin on the virtual board sorts dropped photos as the real one would.

One run of the real command (a child process, stopped with Ctrl-C as a user does):
three generated photos dropped into its folder are classified by the deployed default
model exactly as `smartbin predict` classifies them, each moves the lid config.json
gives its class (or the general lid when unsure), and `smartbin pull --port` gets the
three frames the camera served."""
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from host_tools import contract
from host_tools.cli import main
from host_tools.model.predict import files_to_inputs, load_model_folder, run_int8
from host_tools.paths import FIRMWARE_DIR, REPO_ROOT
from host_tools.simulate import camera_frame

MODEL = REPO_ROOT / "models" / "default"
# A photo at the model's input size reaches it unresized, on the host and through the camera.
WIDTH, HEIGHT = (contract.load(MODEL)["input"][key] for key in ("width", "height"))
_BOUND_SECONDS = 180  # a bound on waiting, not a speed requirement


def candidate_photo(seed):
    """A generated scene, in colours RGB565 carries exactly (so the camera's frame and the
    photo give the model the same input)."""
    rng = np.random.default_rng(seed)
    if seed % 2:
        ys, xs = np.mgrid[:HEIGHT, :WIDTH]
        pixels = (rng.integers(0, 256, 3) + xs[..., None] * rng.integers(-2, 3, 3)
                  + ys[..., None] * rng.integers(-1, 2, 3)
                  + rng.normal(0, 10, (HEIGHT, WIDTH, 3)))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    else:
        image = Image.new("RGB", (WIDTH, HEIGHT), tuple(int(c) for c in rng.integers(120, 256, 3)))
        draw = ImageDraw.Draw(image)
        for _ in range(4):
            x, y = (int(v) for v in rng.integers(0, min(WIDTH, HEIGHT) - 16, 2))
            draw.rectangle((x, y, x + int(rng.integers(8, 40)), y + int(rng.integers(8, 40))),
                           fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    pixels = np.asarray(image)
    return Image.fromarray(contract.rgb565_to_rgb888(contract.rgb888_to_rgb565(pixels),
                                                     WIDTH, HEIGHT))


def int8_scores(photos):
    """predict's own path: contract preprocessing, then TFLM."""
    model_contract, model_bytes = load_model_folder(MODEL)
    outputs, scores = run_int8(model_contract, model_bytes, files_to_inputs(photos, model_contract))
    return model_contract, outputs, scores


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """Three photos with well-spaced confidences, and a config whose threshold lies between
    the two lower ones: two items are sure (their class's lid), one is not (general)."""
    root = tmp_path_factory.mktemp("try")
    candidates = []
    for seed in range(16):
        path = root / "candidates" / ("scene%02d.png" % seed)
        path.parent.mkdir(exist_ok=True)
        candidate_photo(seed).save(path)
        candidates.append(path)
    model_contract, outputs, scores = int8_scores(candidates)
    ranked = sorted(range(len(candidates)), key=lambda i: -scores[i].max())
    high, low = ranked[0], ranked[-1]
    spaced = [i for i in ranked[1:-1] if scores[high].max() - scores[i].max() >= 0.02
              and scores[i].max() - scores[low].max() >= 0.02]
    assert spaced, "the generated scenes' confidences are too close together for this model"
    middle = spaced[0]
    threshold = round(float(scores[middle].max() + scores[low].max()) / 2, 4)
    config = json.loads((FIRMWARE_DIR / "config.json").read_text())
    config["decide"]["threshold"] = threshold
    (root / "config.json").write_text(json.dumps(config))
    # named so that the drop folder serves them in this order: sure, unsure, sure
    photos = []
    for name, index in (("a-sure.png", high), ("b-unsure.png", low), ("c-sure.png", middle)):
        target = root / "photos" / name
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(candidates[index].read_bytes())
        photos.append(target)
    return {"root": root, "photos": photos, "config": config, "contract": model_contract,
            "outputs": outputs[[high, low, middle]], "scores": scores[[high, low, middle]]}


def lines_of(process):
    lines = queue.Queue()

    def read():
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def next_line(lines, starts=""):
    deadline = time.monotonic() + _BOUND_SECONDS
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        assert line is not None, "smartbin try ended early"
        if line.startswith(starts):
            return line
    raise AssertionError("no line starting %r" % starts)


def board_processes(board_dir):
    """Pids of processes whose command line names this board's folder."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            if str(board_dir).encode() in Path("/proc", pid, "cmdline").read_bytes():
                found.append(int(pid))
        except (OSError, ValueError):
            pass
    return found


def test_try_sorts_dropped_photos_as_predict_classifies_them_and_pull_gets_their_frames(
        scene, tmp_path):
    drop, board_dir = tmp_path / "drop", tmp_path / "board"
    # folders given relative to where the user is, as `make try`'s defaults are
    process = subprocess.Popen(
        [sys.executable, "-m", "host_tools", "try", "--photos", "drop", "--board-dir", "board",
         "--model", str(MODEL), "--config", str(scene["root"] / "config.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(tmp_path))
    try:
        lines = lines_of(process)
        port = next_line(lines, "port: ").split(": ", 1)[1]
        next_line(lines, "drop photos into")
        for photo in scene["photos"]:
            (drop / photo.name).write_bytes(photo.read_bytes())

        labels = scene["contract"]["labels"]
        config = scene["config"]
        seen = []
        for photo, scores in zip(scene["photos"], scene["scores"]):
            best = int(scores.argmax())
            sure = scores[best] >= config["decide"]["threshold"]
            lid = config["class_to_lid"][labels[best]] if sure else "general"
            item = next_line(lines, photo.name + ": ")
            name_label, score_lid = item.split(" -> lid ")
            assert name_label.rsplit(" ", 1)[0] == "%s: %s" % (photo.name, labels[best])
            assert abs(float(name_label.rsplit(" ", 1)[1]) - scores[best]) <= 0.0051
            assert score_lid == lid
            assert next_line(lines, "  lid ") == (
                "  lid %s: opening -> open -> closing -> closed" % lid)
            seen.append(lid)
        assert seen.count("general") == 1 and len(seen) == 3

        inbox = tmp_path / "inbox"
        assert main(["pull", "--port", port, "--dest", str(inbox)]) == 0
        metas = [json.loads(path.read_text()) for path in sorted(inbox.glob("*.json"))]
        raws = [path.read_bytes() for path in sorted(inbox.glob("*.raw"))]
        assert len(metas) == len(raws) == 3
        for photo, meta, raw, outputs in zip(scene["photos"], metas, raws, scene["outputs"]):
            assert raw == camera_frame(photo, scene["contract"])  # the frame the camera served
            assert meta["scores"] == [int(v) for v in outputs]  # TFLM's int8, bit for bit
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            process.wait(timeout=30)
        finally:
            process.kill()
    rest = []
    while (line := lines.get(timeout=10)) is not None:
        rest.append(line)
    err = process.stderr.read()
    assert process.returncode == 0, err
    assert rest[-1:] == ["stopped: the virtual bin is off"]
    assert "Traceback" not in err and "error" not in err, err
    assert board_processes(board_dir) == []
