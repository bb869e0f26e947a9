"""`smartbin try`: the bin on the virtual board sorts dropped photos as the real one would.

One run of the real command per model (a child process, stopped with Ctrl-C as a user
does): three generated photos dropped into its folder are classified by the deployed model
exactly as the bin's own rule says - with an isolating model (models/default), the item
found against the empty chamber the camera sees between items (`--empty`), cropped and
resized as host_tools/isolate.py does; without isolation, the whole photo as `smartbin
predict` classifies it - each moves the lid config.json gives its class (or the general
lid when unsure), and `smartbin pull --port` gets the three frames the camera served."""
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

from host_tools import contract, isolate
from host_tools.cli import main
from host_tools.model.predict import files_to_inputs, load_model_folder, run_int8
from host_tools.paths import FIRMWARE_DIR, REPO_ROOT

MODEL = REPO_ROOT / "models" / "default"
_BOUND_SECONDS = 180  # a bound on waiting, not a speed requirement


def carried_by_rgb565(image):
    """The image in colours RGB565 carries exactly (so the camera's frame and the photo
    give the model the same input)."""
    pixels = np.asarray(image.convert("RGB"))
    height, width = pixels.shape[:2]
    return Image.fromarray(contract.rgb565_to_rgb888(contract.rgb888_to_rgb565(pixels),
                                                     width, height))


def random_colour(rng, low=0, high=256):
    return tuple(int(c) for c in rng.integers(low, high, 3))


def whole_scene(seed, width, height):
    """A generated scene filling the frame: a gradient, or shapes on a plain ground."""
    rng = np.random.default_rng(seed)
    if seed % 2:
        ys, xs = np.mgrid[:height, :width]
        pixels = (rng.integers(0, 256, 3) + xs[..., None] * rng.integers(-2, 3, 3)
                  + ys[..., None] * rng.integers(-1, 2, 3)
                  + rng.normal(0, 10, (height, width, 3)))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    else:
        image = Image.new("RGB", (width, height), random_colour(rng, 120))
        draw = ImageDraw.Draw(image)
        for _ in range(4):
            x, y = (int(v) for v in rng.integers(0, min(width, height) - 16, 2))
            draw.rectangle((x, y, x + int(rng.integers(8, 40)), y + int(rng.integers(8, 40))),
                           fill=random_colour(rng))
    return carried_by_rgb565(image)


def empty_chamber(width, height):
    """A chamber floor with some texture, the same in every frame."""
    rng = np.random.default_rng(1000)
    ys, xs = np.mgrid[:height, :width]
    pixels = (np.array([96, 104, 100]) + xs[..., None] * 0.1 - ys[..., None] * 0.05
              + rng.normal(0, 4, (height, width, 3)))
    return carried_by_rgb565(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)))


def item_in_chamber(seed, chamber):
    """The empty chamber with one item lying in a part of it."""
    rng = np.random.default_rng(seed)
    image = chamber.copy()
    width, height = image.size
    item_w, item_h = (int(v) for v in rng.integers(width // 5, width // 2, 2))
    left = int(rng.integers(0, width - item_w))
    top = int(rng.integers(0, height - item_h))
    draw = ImageDraw.Draw(image)
    shape = draw.ellipse if seed % 2 else draw.rectangle
    shape((left, top, left + item_w, top + item_h), fill=random_colour(rng, 150))
    for _ in range(3):
        x = left + int(rng.integers(0, item_w * 2 // 3))
        y = top + int(rng.integers(0, item_h * 2 // 3))
        draw.rectangle((x, y, x + item_w // 4, y + item_h // 4), fill=random_colour(rng))
    return carried_by_rgb565(image)


def whole_model(folder):
    """models/default without its "isolate" block: the camera frame is the model input."""
    folder.mkdir()
    model_contract = contract.load(MODEL)
    del model_contract["isolate"]
    contract.save(model_contract, folder)
    (folder / "model.tflite").write_bytes((MODEL / "model.tflite").read_bytes())
    return folder


@pytest.fixture(scope="module", params=["isolate", "whole"])
def scene(request, tmp_path_factory):
    """Three photos with well-spaced confidences as the bin classifies them, and a config
    whose threshold lies between the two lower ones: two items are sure (their class's
    lid), one is not (general)."""
    root = tmp_path_factory.mktemp("try-" + request.param)
    model_dir = MODEL if request.param == "isolate" else whole_model(root / "model")
    model_contract, model_bytes = load_model_folder(model_dir)
    block = isolate.settings(model_contract)
    (root / "candidates").mkdir()
    candidates, options = [], []
    if block is None:
        size = (model_contract["input"]["width"], model_contract["input"]["height"])
        for seed in range(16):
            candidates.append(root / "candidates" / ("scene%02d.png" % seed))
            whole_scene(seed, *size).save(candidates[-1])
        inputs = files_to_inputs(candidates, model_contract)
    else:
        size = (block["frame_width"], block["frame_height"])
        chamber = empty_chamber(*size)
        chamber.save(root / "empty.png")
        options = ["--empty", str(root / "empty.png")]
        isolation = isolate.Isolation(model_contract, chamber)
        inputs = []
        for seed in range(24):
            photo = item_in_chamber(seed, chamber)
            model_input, box = isolation.input(photo)
            if box[4]:  # the bin finds the item: a crop, not the whole frame
                candidates.append(root / "candidates" / ("scene%02d.png" % seed))
                photo.save(candidates[-1])
                inputs.append(model_input)
        assert len(candidates) >= 8, "the bin finds too few of the generated items"
        inputs = np.stack(inputs)
    outputs, scores = run_int8(model_contract, model_bytes, inputs)
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
    chosen = [high, low, middle]
    if block is not None:
        # isolating changes what the model sees: the whole photos would score otherwise
        whole_outputs, _ = run_int8(model_contract, model_bytes,
                                    files_to_inputs(photos, model_contract))
        assert (whole_outputs != outputs[chosen]).any()
    return {"root": root, "model": model_dir, "options": options, "photos": photos,
            "size": size, "config": config, "contract": model_contract,
            "outputs": outputs[chosen], "scores": scores[chosen]}


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


def test_try_sorts_dropped_photos_as_the_bin_classifies_them_and_pull_gets_their_frames(
        scene, tmp_path):
    drop, board_dir = tmp_path / "drop", tmp_path / "board"
    # folders given relative to where the user is, as `make try`'s defaults are
    process = subprocess.Popen(
        [sys.executable, "-m", "host_tools", "try", "--photos", "drop", "--board-dir", "board",
         "--model", str(scene["model"]), "--config", str(scene["root"] / "config.json")]
        + scene["options"],
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
            # the frame the camera served: the photo, drawn at the frame size
            assert (meta["width"], meta["height"]) == scene["size"]
            assert raw == contract.rgb888_to_rgb565(np.asarray(Image.open(photo)))
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


def test_try_shows_the_warnings_deploy_shows_for_the_config_it_deploys(tmp_path):
    from host_tools.firmware_modules import firmware_module

    config = json.loads((FIRMWARE_DIR / "config.json").read_text())
    config["class_to_lid"]["glass"] = "nolid"  # valid JSON; the board's own check objects
    (tmp_path / "badlid.json").write_text(json.dumps(config))
    process = subprocess.Popen(
        [sys.executable, "-m", "host_tools", "try", "--photos", "drop", "--board-dir", "board",
         "--model", str(MODEL), "--config", "badlid.json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(tmp_path))
    try:
        lines = lines_of(process)
        next_line(lines, "deployed ")
        shown = []
        while not (line := next_line(lines)).startswith("drop photos into"):
            shown.append(line)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        finally:
            process.kill()
    assert "config warning: class_to_lid.glass: no lid named nolid" in shown
    pins = firmware_module("config").validate(config).pin_warnings
    assert pins and [line for line in shown if line.startswith("pin warning: ")] == [
        "pin warning: %s" % warning for warning in pins]
    assert all(line.split(": ", 1)[0] in ("firmware warning", "pin warning", "config warning",
                                          "threshold warning") for line in shown), shown
    assert process.returncode == 0
