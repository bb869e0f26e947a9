"""The firmware on a real MicroPython build: MicroPython's unix port at the image's pin,
with microlite/TFLM/ESP-NN compiled from the image's own recipe (make
firmware-host). What the wasm VM cannot show: the patched C binding, TFLM's kernels, the
viper preprocessing compiled to machine code, the GC under many cycles."""
import json
import re
import subprocess

import pytest

from .conftest import BUILD_HOST, DEFAULT_MODEL, REPO
from .frames import host_scores, photo, rgb565_frame, with_operator_swapped

PHOTO_SEEDS = (1, 2, 3, 4)
CODE_MODEL = 3  # smartbin.app: status LED code of an unusable model


@pytest.fixture(scope="module")
def photo_frames(tmp_path_factory):
    frames = [rgb565_frame(photo(seed)) for seed in PHOTO_SEEDS]
    path = tmp_path_factory.mktemp("frames") / "frames.rgb565"
    path.write_bytes(b"".join(frames))
    return path, frames


@pytest.fixture(scope="module")
def whole_frame_model(tmp_path_factory):
    """The default model without its isolate block: the camera frame is the model input."""
    folder = tmp_path_factory.mktemp("whole_frame_model")
    contract = json.loads((DEFAULT_MODEL / "model.json").read_text())
    contract.pop("isolate", None)
    (folder / "model.json").write_text(json.dumps(contract))
    (folder / "model.tflite").write_bytes((DEFAULT_MODEL / "model.tflite").read_bytes())
    return folder


def _flash(folder, model_bytes=None, arena_bytes=None):
    """A board flash as `smartbin deploy` leaves it: config, model.json, model.tflite. The
    default model without its isolate block: these tests follow whole frames through the
    classifier (the item isolation on this build has its own test below)."""
    folder.mkdir()
    contract = json.loads((DEFAULT_MODEL / "model.json").read_text())
    contract.pop("isolate", None)
    if arena_bytes is not None:
        contract["arena_bytes"] = arena_bytes
    (folder / "model.json").write_text(json.dumps(contract))
    (folder / "model.tflite").write_bytes(
        model_bytes if model_bytes is not None else (DEFAULT_MODEL / "model.tflite").read_bytes())
    (folder / "config.json").write_bytes((DEFAULT_MODEL.parents[1] / "firmware" / "config.json").read_bytes())
    return folder


def test_second_build_comes_from_the_cache(unix_micropython):
    again = subprocess.run(["bash", str(BUILD_HOST)], capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == str(unix_micropython)
    assert "Building" not in again.stderr  # nothing compiled


def test_binary_has_the_image_modules_as_patched(run_probe):
    found = run_probe("modules", DEFAULT_MODEL).result()
    assert "audio_frontend" not in found["microlite"]  # needs the microfrontend TFLM 1.3 lacks
    assert {"interpreter", "tensor"} <= set(found["microlite"])
    # the finaliser (MicroPython 1.27's API) and the image's additions
    assert {"invoke", "getInputTensor", "getOutputTensor", "arenaInternal", "__del__"} <= set(
        found["interpreter"])
    assert "buffer" in found["tensor"]
    assert found["ulab"] is False  # not in the image: nothing in firmware/ imports it
    assert found["native_preprocessing"] is True  # viper compiled to machine code


def test_scores_equal_tflite_micro_on_photos_and_every_invoke_repeats_them(
        run_probe, photo_frames, whole_frame_model):
    path, frames = photo_frames
    results = run_probe("scores", whole_frame_model, path, 3).results
    header, per_frame = results[0], results[1:]
    assert header == {"native": True, "bulk": True, "input_bytes": 96 * 96 * 3}
    assert len(per_frame) == len(frames)
    for frame, result in zip(frames, per_frame):
        expected = host_scores(DEFAULT_MODEL, frame)
        # three invokes on one input, deep Python calls and a GC between them: a resolver
        # that TFLM points into must outlive the interpreter's set-up
        assert result["runs"] == [expected] * 3
        assert result["best"] == expected.index(max(expected))
    assert len({tuple(r["runs"][0]) for r in per_frame}) == len(frames)  # inputs reach the model


def test_an_operator_outside_the_image_list_does_not_resolve(run_probe, tmp_path):
    # TANH is in the binding's own all-operators resolver, not in ours: only ours refuses it
    model = (DEFAULT_MODEL / "model.tflite").read_bytes()
    tanh = tmp_path / "tanh.tflite"
    tanh.write_bytes(with_operator_swapped(model, "SOFTMAX", "TANH"))
    refused = run_probe("load", tanh, 200000)
    assert refused.result()["loaded"] is False
    assert refused.result()["error"] == "RuntimeError"
    assert "AllocateTensors" in refused.result()["message"]
    assert "Didn't find op for builtin opcode 'TANH'" in refused.stderr
    # same graph with an operator that is in the list: loads
    logistic = tmp_path / "logistic.tflite"
    logistic.write_bytes(with_operator_swapped(model, "SOFTMAX", "LOGISTIC"))
    assert run_probe("load", logistic, 200000).result() == {"loaded": True, "input_bytes": 96 * 96 * 3}


def test_the_one_resolver_is_static_and_sized_for_the_image_list(unix_micropython):
    # the binary keeps its symbols: a function-local static has one, a local variable none
    symbols = subprocess.run(["nm", "-S", "-C", str(unix_micropython)], capture_output=True,
                             text=True, check=True).stdout
    resolvers = [fields for fields in (line.split(None, 3) for line in symbols.splitlines())
                 if fields[-1] == "libtf_interpreter_init::op_resolver"]
    assert len(resolvers) == 1, resolvers
    size = int(resolvers[0][1], 16)
    header = (REPO / "firmware" / "image" / "user_modules" / "microlite"
              / "smartbin_ops_resolver.h").read_text()
    capacity = int(re.search(r"kOpCapacity\s*=\s*(\d+)", header).group(1))
    # about 70 bytes per operator slot: the image's header, not the binding's 200-slot one
    # (over 13 KB), is the one openmv-libtf.cpp was compiled with
    assert capacity * 32 < size < capacity * 128, size


def test_conv_layers_run_on_the_esp_nn_kernels_the_esp32_selects(unix_micropython):
    symbols = subprocess.run(["nm", str(unix_micropython)], capture_output=True, text=True,
                             check=True).stdout
    linked = {line.split()[-1] for line in symbols.splitlines() if " T esp_nn_" in line}
    # ESP-NN on the plain ESP32: its generic optimisations for (depthwise) convolution and
    # softmax, its ANSI C versions for the rest; TFLM's esp_nn kernels call them
    assert {"esp_nn_conv_s8_opt", "esp_nn_depthwise_conv_s8_opt", "esp_nn_softmax_s8_opt",
            "esp_nn_fully_connected_s8_ansi", "esp_nn_add_elementwise_s8_ansi",
            "esp_nn_mul_elementwise_s8_ansi"} <= linked
    assert "esp_nn_conv_s8_ansi" not in linked and "esp_nn_conv_s8_esp32s3" not in linked


def test_an_arena_too_small_raises_instead_of_crashing(run_probe):
    done = run_probe("load", DEFAULT_MODEL / "model.tflite", 8000).result()
    assert done["loaded"] is False and done["error"] == "RuntimeError"
    assert "AllocateTensors() failed" in done["message"]


@pytest.mark.parametrize("damage", ["truncated", "noise"])
def test_a_damaged_model_raises_instead_of_crashing(run_probe, tmp_path, damage):
    model = (DEFAULT_MODEL / "model.tflite").read_bytes()
    damaged = model[:len(model) // 2] if damage == "truncated" else (
        model[:8] + bytes((i * 167 + 13) & 0xFF for i in range(len(model) - 8)))
    path = tmp_path / "damaged.tflite"
    path.write_bytes(damaged)
    done = run_probe("load", path, 200000).result()
    assert done == {"loaded": False, "error": "ValueError",
                    "message": "microlite: not a valid TFLite model"}


def test_interpreters_made_and_dropped_give_their_memory_back(run_probe):
    used = run_probe("churn", DEFAULT_MODEL, 25).result()["mem_alloc"]
    assert max(used[5:]) - min(used[5:]) < 4096, used


def test_many_full_cycles_sort_photos_with_a_flat_heap(run_probe, photo_frames, tmp_path):
    path, frames = photo_frames
    wakes = 40
    done = run_probe("cycles", _flash(tmp_path / "flash"), path, wakes).result()
    assert done["classifier"] is True and done["codes"] == []
    assert done["served"] == wakes
    assert "cycle:" not in done["errors"], done["errors"]
    # each photo sorted as the host's tflite-micro classifies it
    labels = json.loads((DEFAULT_MODEL / "model.json").read_text())["labels"]
    winners = []
    for frame in frames:
        scores = host_scores(DEFAULT_MODEL, frame)
        winners.append(labels[scores.index(max(scores))])
    expected = {}
    for wake in range(wakes):
        label = winners[wake % len(frames)]
        expected[label] = expected.get(label, 0) + 1
    assert done["counts"]["items"] == wakes and done["counts"]["errors"] == 0
    assert done["counts"]["classes"] == expected
    used = done["mem_alloc"]
    # after the debug frames have filled their quota, a cycle leaves nothing behind
    settled = used[wakes // 2:]
    assert max(settled) - min(settled) < 1024, used


@pytest.mark.parametrize("flash", ["damaged model", "arena too small"])
def test_an_unusable_model_takes_the_app_error_path(run_probe, photo_frames, tmp_path, flash):
    path, _ = photo_frames
    model = (DEFAULT_MODEL / "model.tflite").read_bytes()
    folder = tmp_path / "flash"
    if flash == "damaged model":
        _flash(folder, model_bytes=model[:len(model) // 3])
    else:
        _flash(folder, arena_bytes=8000)
    run = run_probe("cycles", folder, path, 3)
    done = run.result()
    assert done["classifier"] is False and CODE_MODEL in done["codes"]
    assert "model: microlite: " in done["errors"]
    assert done["served"] == 3  # the bin keeps serving (general lid) instead of rebooting


def test_item_isolation_compiled_natively_finds_the_hosts_box_without_allocating(run_probe,
                                                                                 tmp_path):
    import numpy as np

    from host_tools import contract as host_contract
    from host_tools import isolate as host_isolate

    contract = json.loads((DEFAULT_MODEL / "model.json").read_text())
    contract["isolate"] = dict(host_isolate.DEFAULT_SETTINGS)
    (tmp_path / "model.json").write_text(json.dumps(contract))
    rng = np.random.default_rng(4)
    side = 240
    empty = np.clip(60 + rng.normal(0, 4, (side, side, 3)), 0, 255).astype(np.uint8)
    scenes = []
    for top, left, height, width in ((30, 40, 90, 60), (150, 10, 80, 200), (0, 0, 5, 5)):
        scene = np.clip(60 + rng.normal(0, 4, (side, side, 3)), 0, 255).astype(np.uint8)
        scene[top:top + height, left:left + width] = rng.integers(100, 256, 3)
        scenes.append(scene)
    frames = [host_contract.rgb888_to_rgb565(frame) for frame in [empty] + scenes]
    (tmp_path / "frames.rgb565").write_bytes(b"".join(frames))
    results = run_probe("isolate", tmp_path / "model.json", tmp_path / "frames.rgb565").results
    native, plain = results[:3], results[3:]
    assert [r["native"] for r in native] == [True] * 3  # viper compiled to machine code
    assert [r["native"] for r in plain] == [False] * 3
    settings = contract["isolate"]
    empty888 = host_contract.rgb565_to_rgb888(frames[0], side, side)
    assert native[0]["empty"] == host_isolate.cells_of(empty888, 24).reshape(-1).tolist()
    for frame, from_native, from_plain in zip(frames[1:], native, plain):
        scene = host_contract.rgb565_to_rgb888(frame, side, side)
        box = host_isolate.find_box(host_isolate.cells_of(scene, 24),
                                    host_isolate.cells_of(empty888, 24), settings, 96, 96)
        assert from_native["box"] == list(box[:4]) and from_native["found"] == box[4]
        pixels = host_isolate.crop(scene, box, 96, 96)
        expected = host_contract.pixels_to_input(pixels, contract).view(np.uint8)
        assert from_native["input_sum"] == int(expected.astype(np.int64).sum())
        assert from_plain == dict(from_native, native=False)
        assert from_native["allocated"] == 0 and from_plain["allocated"] == 0
    assert [r["found"] for r in native] == [True, True, False]  # the last: too small
